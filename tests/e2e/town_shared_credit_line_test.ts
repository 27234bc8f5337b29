/**
 * A learned credit line on a town of two processes sharing one PostgreSQL database
 * (state/postgres/postgres_peer_credit.ts, state/payments/credit_line.ts): real town processes,
 * a real PostgreSQL server, raw ILP packets over real BTP sockets. The child, a peer with no
 * channel, holds a link to each process and pays beta through both at once; payers pay the
 * child, so its earnings cover what it spent. Floor 5,000, ceiling 20,000. Its line and history
 * are one row both processes decide under its lock: as a newcomer it spends 5,000 in all, not
 * per process; once repaid it spends 10,000 more and no further; in credit past the grace it is
 * refused through both; repaid late, its line is the floor. Before, the line was the fixed 5,000
 * beyond its earnings whatever its history.
 */
import { generateSecretKey } from "nostr-tools/pure";
import { assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { invoicePeers } from "../../harness/invoice_peers.ts";

const PRICE = 2_500n;
/** Long enough that a repayment the test makes at once is in time. */
const GRACE_MS = 4_000;

Deno.test("two town processes on PostgreSQL decide one learned credit line: a peer never spends past it through both", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  const credit = { floor: 5_000n, ceiling: 20_000n, graceMs: GRACE_MS };
  await using a = await startSharedTownProcess({ storeUrl, secretKey, credit });
  await using b = await startSharedTownProcess({ storeUrl, secretKey, credit });
  const peers = invoicePeers();
  const connect = (town: SharedTownProcess, account: string) =>
    peers.connect({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      authUsername: account,
      authToken: `${account}-token`,
    });
  const pay = peers.pay;
  try {
    await connect(a, "beta");
    const viaA = await connect(a, "child");
    const viaB = await connect(b, "child");
    /** Fulfilled of 8 payments of PRICE to beta, half through each process, all at once. */
    const spendBoth = async () =>
      (await Promise.all(
        Array.from({ length: 8 }, (_, i) => pay(i % 2 ? viaA : viaB, "beta", PRICE)),
      )).filter((r) => r.type === "fulfill").length;
    /** A payer (its own floor of 5,000) pays the child 5,000 through A: earnings. */
    const earn = async (payer: string) =>
      assertEquals((await pay(await connect(a, payer), "child", 5_000n)).type, "fulfill");

    // A newcomer: 5,000 through both processes together.
    assertEquals(await spendBoth(), 2);
    // Repaid in time: 10,000 more, through both together, and nothing past it.
    await earn("payer1");
    assertEquals(await spendBoth(), 4);
    assertEquals(await spendBoth(), 0);
    // In credit past the grace: a default, refused through both.
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
    await earn("payer2");
    assertEquals(await spendBoth(), 0);
    // Repaid late: the floor, 5,000 beyond its earnings (15,000 owed through A), not 15,000.
    await earn("payer3");
    assertEquals(await spendBoth(), 2);
  } finally {
    await peers.close();
  }
});
