/**
 * A town of two `turnpike town up` processes on one PostgreSQL database: a payment left in doubt
 * on one process's books by a SIGKILL is owed once its peer shows the fulfillment, even when the
 * peer never connects to that process again (roles/town/btp/process_in_doubt.ts; docs/PROTOCOL.md
 * "A payment in doubt on another process"):
 *
 * 1. beta, the provider, is connected to process 0; alice pays beta's invoices through process 1,
 *    which forwards them to 0 (0 keeps them on its books).
 * 2. Process 0 is SIGKILLed while beta holds the FULFILL of one more payment: beta fulfilled it
 *    (its log counts it earned), process 0's books hold it forwarded, with no answer.
 * 3. beta reconnects to process 1 (the kernel may hand a reconnect to either process sharing the
 *    port) and stays there; process 0 is restarted on its state dir. Before, process 0 asked
 *    beta about its payment in doubt only when beta connected to it: beta's log stayed one
 *    payment above the town's books and claims for as long as beta stayed on process 1. Now
 *    process 0 asks beta through process 1: the payment is proven, owed and claimed.
 */
import { InvoiceFulfiller } from "../support/invoice_fulfiller.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import { guard, twoProcessTownState } from "../support/shared_payout_town.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import { BtpClient } from "../../transport/btp_client.ts";

const PRICE = 2_500n;
/** Each payment owed is claimed at once. */
const THRESHOLD = PRICE;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
}

Deno.test("shared payouts: a payment in doubt on a SIGKILLed process is proven through the process its peer moved to; the town's books = the provider's log", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const dir = await Deno.makeTempDir({ prefix: "shared_in_doubt_" });
  const { client: beta } = await startGasOnlyParty(pair);
  const towns: (CliTown | undefined)[] = [undefined, undefined];
  let alice: ClaimClient | undefined;
  let betaLink: BtpClient | undefined;
  try {
    const { secret, stateA, stateB } = await twoProcessTownState({
      dir,
      pair,
      storeUrl,
      aliceChannelId: channel.channelId,
      betaAddress: beta.address,
      threshold: THRESHOLD,
      deposit: 10_000_000n,
    });
    const stateDirs = [stateA, stateB];
    const logs = () =>
      towns.map((t, i) => `town ${i}: ${t?.process.stderr.slice(-40).join(" | ")}`).join("\n");
    const up = async (i: number) => {
      towns[i] = await guard(
        startCliTown({ stateDir: stateDirs[i], secret, ready: (l) => l.includes("settles") }),
        () => `town up ${i}`,
      );
      return towns[i]!;
    };
    await up(0);
    await up(1);
    const payouts = new PayoutReceiver({
      stateDir: `${dir}/beta`,
      client: beta,
      townPubkey: towns[0]!.field("pubkey"),
    });

    // Beta: fulfils its invoices (its log: what it fulfilled), shows the fulfillments it holds
    // when asked about payments in doubt, keeps the town's claims.
    const payee = new InvoiceFulfiller(PRICE);
    const fulfilledByBeta = payee.fulfilled;
    const connectBeta = async (i: number) => {
      await betaLink?.close().catch(() => {});
      const client = new BtpClient({
        url: towns[i]!.btpUrl,
        authToken: "beta-token",
        reconnect: false,
        onPrepare: payee.onPrepare,
        onInDoubt: payee.onInDoubt,
        onClaim: async (claim) => void await payouts.take(claim),
      });
      await guard(client.connect(), () => `beta connects to ${i}`);
      betaLink = client;
    };

    // Alice, on process 1: her payments to beta are forwarded to the process beta is on.
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const one = towns[1]!;
    alice = await guard(
      connectClaimClient({
        url: one.btpUrl,
        townAddress: one.field("ilpAddress"),
        townPubkey: one.field("pubkey"),
        stateDir: aliceDir,
        secretKey: pair.aliceKey,
        record: await readChannel(channelFilePath(aliceDir, channel.channelId)),
      }),
      () => "alice connects to 1",
    );
    const payOnce = async (): Promise<"fulfill" | string> => {
      const condition = payee.invoice();
      try {
        const reply = await alice!.client.sendPrepare({
          destination: "test.paytown.beta.invoice",
          amount: String(PRICE),
          executionCondition: condition,
          expiresAt: new Date(Date.now() + 30_000),
          data: new Uint8Array(0),
        });
        return reply.type === "fulfill" ? "fulfill" : reply.code;
      } catch (err) {
        return (err as Error).message;
      }
    };
    let fulfilled = 0;
    const payUntil = async (target: number) => {
      while (fulfilled < target) {
        if (await guard(payOnce(), () => `a payment\n${logs()}`) === "fulfill") fulfilled++;
        else await sleep(200); // the route to beta being learnt
      }
    };

    // 1. Beta on process 0, alice paying through process 1.
    await connectBeta(0);
    await payUntil(2);

    // 2. Process 0 SIGKILLed while beta holds the FULFILL of one more payment.
    const killed = Promise.withResolvers<void>();
    payee.hold = killed.promise;
    const before = fulfilledByBeta.size;
    const paying = payOnce();
    await guard(
      poll(() => Promise.resolve(fulfilledByBeta.size > before || undefined)),
      () => `beta holds a payment\n${logs()}`,
    );
    towns[0]!.process.child.kill("SIGKILL");
    await towns[0]!.process.done;
    towns[0] = undefined;
    killed.resolve();
    payee.hold = undefined;
    const answer = await guard(paying, () => `the payment under the kill\n${logs()}`);
    assert(answer !== "fulfill", `alice was refused the payment cut by the kill (${answer})`);

    // 3. Beta on process 1 from now on; process 0 restarted on its state dir.
    await connectBeta(1);
    await up(0);
    const earned = BigInt(fulfilledByBeta.size) * PRICE;
    const books = async () => {
      let owed = 0n;
      let inDoubt = 0n;
      for (const d of stateDirs) {
        const ledger = await openPeerLedger({ stateDir: d });
        owed += ledger.balance("beta").owed;
        inDoubt += ledger.balance("beta").inDoubt;
      }
      return { owed, inDoubt };
    };
    let seen = { owed: 0n, inDoubt: 0n };
    await guard(
      poll(async () => (seen = await books()).owed === earned || undefined),
      () =>
        `the books owe what beta fulfilled (${earned}): owed ${seen.owed}, in doubt ` +
        `${seen.inDoubt}\n${logs()}`,
    );
    const claim = await guard(
      poll(async () => {
        const [r] = await payouts.records();
        return r?.received === earned ? r : undefined;
      }),
      () => `beta keeps a claim for ${earned}\n${logs()}`,
    );
    assert(
      towns[0]!.process.stderr.some((l) => l.includes("payment in doubt proven")),
      "process 0 proved its payment in doubt",
    );

    await betaLink?.close();
    betaLink = undefined;
    await alice.close();
    alice = undefined;
    for (const [i, t] of towns.entries()) {
      await t?.stop();
      towns[i] = undefined;
    }
    const final = await books();
    console.log(JSON.stringify({
      fulfilledToAlice: fulfilled,
      fulfilledByBeta: fulfilledByBeta.size,
      earnedByBeta: String(earned),
      owedByBooks: String(final.owed),
      inDoubtOnBooks: String(final.inDoubt),
      claimed: String(claim.received),
    }));
    assertEquals(final.owed, earned, "the town's books = beta's log");
    assertEquals(final.inDoubt, 0n, "nothing left in doubt");
    assertEquals(claim.received, earned, "beta's newest claim covers its log");
    await payouts.close();
  } finally {
    await alice?.close().catch(() => {});
    await betaLink?.close().catch(() => {});
    for (const t of towns) {
      if (!t) continue;
      try {
        t.process.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await t.process.done.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  }
});
