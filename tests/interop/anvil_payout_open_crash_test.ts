/**
 * A town SIGKILLed at the worst instant of a payout channel's open (roles/town/channels/
 * peer_payout.ts `openPayoutChannel`): the open mined on chain, its deposit not sent, no channel
 * file, ledger line or store row yet. Restarted on the same state dir (and store), its next
 * payout to that provider finishes the open: the channel funded with the policy's deposit, then
 * recorded, and the claim for what is owed signed on it. Before the open's intent was kept
 * (state/channels/payout_open_intent.ts) the one-process town refused the channel ("no file here") and
 * the two-process one adopted it with a deposit of 0: a provider never paid (docs/SCALE.md).
 * On anvil, with real child processes; the one-process and the PostgreSQL-shared town.
 */
import { generateSecretKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  BOB_MNEMONIC,
  type ChannelPair,
  startChannelPair,
} from "../../harness/anvil_channel_pair.ts";
import type { PayoutOpenCrashPlan } from "../support/payout_open_crash_child.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { readPayoutOpenIntent } from "../../state/channels/payout_open_intent.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { openPostgresPayoutBooks } from "../../state/postgres/postgres_payout_books.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import { sharedBooksId, SharedTownPayouts } from "../../roles/town/channels/shared_payouts.ts";

const CHILD = new URL("../support/payout_open_crash_child.ts", import.meta.url).pathname;
/** A hang guard, not a time limit: the child's pause line or a clear failure. */
const GUARD_MS = 60_000;

/** Runs the child until its open is mined and paused, SIGKILLs it; the channel id. */
async function openAndKill(plan: PayoutOpenCrashPlan): Promise<`0x${string}`> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, JSON.stringify(plan)],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const line = (async () => {
      let text = "";
      while (!/opened 0x[0-9a-f]{64}\n/i.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the child exited before its open was mined: ${text}`);
        text += value;
      }
      return text.match(/opened (0x[0-9a-f]{64})/i)![1] as `0x${string}`;
    })();
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no "opened" line from the child in ${GUARD_MS} ms`)),
        GUARD_MS,
      );
    });
    return await Promise.race([line, guard]);
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await reader.cancel().catch(() => {});
    await child.status;
  }
}

/** A provider's address (it needs no funds: the town pays it, the test reads the chain). */
function provider(pair: ChannelPair): `0x${string}` {
  return new TokenNetworkClient({
    chain: pair.chain,
    account: localEvmAccount(generateSecretKey()),
  })
    .address;
}

Deno.test("payout open crash: a town SIGKILLed between the open and its deposit funds and records the channel when it starts again (one process, anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "payout_open_crash_" });
  try {
    const peerAddress = provider(pair);
    const id = await openAndKill({
      chain: pair.chain,
      townMnemonic: BOB_MNEMONIC,
      stateDir: dir,
      account: "prov",
      peerAddress,
      owed: "5000",
      deposit: "100000",
    });
    // The worst instant: open on chain, nothing deposited, no file, the intent kept.
    const before = await pair.bob.getChannel(id);
    assertEquals(before.state, "opened");
    assertEquals(before.participants[pair.bob.address.toLowerCase()]?.deposit, 0n);
    assertEquals((await readPayoutOpenIntent(dir, peerAddress))?.channelId, id);

    const ledger = await openPeerLedger({ stateDir: dir });
    assertEquals(ledger.balance("prov").payoutChannel, undefined);
    const logs: string[] = [];
    const payouts = new TownPayouts({
      stateDir: dir,
      ledger,
      signer: localNodeSigner(pair.bobKey),
      client: pair.bob,
      policy: { threshold: 1_000n, intervalMs: 3_600_000 },
      deposit: 100_000n,
      peerAddress: (a) => a === "prov" ? peerAddress : undefined,
      send: () => Promise.resolve(),
      log: (l) => logs.push(l),
    });
    // At start (`town up` calls it): the interrupted open finished and what is owed paid on it.
    assertEquals(await payouts.resumeOpens(), ["prov"], logs.join("\n"));
    await payouts.close();
    const after = await pair.bob.getChannel(id);
    assertEquals(after.participants[pair.bob.address.toLowerCase()]?.deposit, 100_000n);
    const b = ledger.balance("prov");
    assertEquals([b.payoutChannel, b.payoutDeposit, b.claimed], [id, 100_000n, 5_000n]);
    const record = await readChannel(channelFilePath(dir, id));
    assertEquals([record.deposit, record.sent, record.sentNonce], [100_000n, 5_000n, 1n]);
    assertEquals(await readPayoutOpenIntent(dir, peerAddress), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("payout open crash: a town process SIGKILLed between the open and its deposit; the next process funds the channel before its row (shared store, anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const dir = await Deno.makeTempDir({ prefix: "payout_open_crash_shared_" });
  try {
    const peerAddress = provider(pair);
    const id = await openAndKill({
      chain: pair.chain,
      townMnemonic: BOB_MNEMONIC,
      stateDir: dir,
      account: "prov",
      peerAddress,
      owed: "5000",
      deposit: "100000",
      storeUrl,
    });
    const before = await pair.bob.getChannel(id);
    assertEquals(before.participants[pair.bob.address.toLowerCase()]?.deposit, 0n);

    const ledger = await openPeerLedger({ stateDir: dir });
    const books = await openPostgresPayoutBooks({ url: storeUrl });
    assertEquals(await books.channel("prov"), undefined);
    const logs: string[] = [];
    const payouts = await SharedTownPayouts.start({
      books,
      booksId: await sharedBooksId(dir),
      stateDir: dir,
      ledger,
      signer: localNodeSigner(pair.bobKey),
      client: pair.bob,
      policy: { threshold: 1_000n, intervalMs: 3_600_000 },
      deposit: 100_000n,
      peerAddress: (a) => a === "prov" ? peerAddress : undefined,
      connectedHere: () => false,
      send: () => Promise.resolve(),
      log: (l) => logs.push(l),
    });
    try {
      const claim = await payouts.payNow("prov");
      assert(claim !== undefined || ledger.balance("prov").claimed === 5_000n, logs.join("\n"));
      const row = await books.channel("prov");
      assertEquals([row?.channelId, row?.deposit, row?.transferred], [id, 100_000n, 5_000n]);
      const after = await pair.bob.getChannel(id);
      assertEquals(after.participants[pair.bob.address.toLowerCase()]?.deposit, 100_000n);
    } finally {
      await payouts.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
