/**
 * A town of two `turnpike town up` processes on one PostgreSQL database: a payment left in doubt
 * on one process's books by a SIGKILL is owed once its peer shows the fulfillment, even when the
 * peer never connects to that process again (roles/town/btp/process_in_doubt.ts; docs/PROTOCOL.md
 * "A payment in doubt on another process"), and is not owed when the peer's fulfillment paid
 * another packet of the same condition:
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
 *
 * The second test kills process 0 while beta has not answered a PREPARE (it expires unpaid);
 * alice pays the same invoice again, now through process 1's own books, and beta fulfills that
 * one. Asked at its restart, beta shows the invoice's fulfillment: before, process 0 recorded it
 * owed too, and the town paid beta twice for one invoice (the 1,000-agent goal run's payouts
 * differed from beta's log by one payment, docs/SCALE.md). Now beta's answer names the expiry of
 * the PREPARE it fulfilled, and process 0's packet, of another expiry, is recorded not owed.
 */
import { InvoiceFulfiller } from "../support/invoice_fulfiller.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import { guard, killTowns, twoProcessTownState } from "../support/shared_payout_town.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import postgres from "postgres";

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

/** The two processes, beta and alice, and what the tests do with them. */
interface InDoubtTown {
  towns: (CliTown | undefined)[];
  payee: InvoiceFulfiller;
  payouts: PayoutReceiver;
  logs(): string;
  up(i: number): Promise<CliTown>;
  connectBeta(i: number): Promise<void>;
  /** Alice pays `condition` (a new invoice by default) through process 1, expiring in `ms`. */
  payOnce(condition?: Uint8Array, ms?: number): Promise<"fulfill" | string>;
  /** Pays new invoices until `target` were fulfilled to alice in all. */
  payUntil(target: number): Promise<void>;
  /** Both processes' books for beta, summed. */
  books(): Promise<{ owed: bigint; inDoubt: bigint }>;
  /** Stops alice, beta and both processes, then reads the books. */
  stopAll(): Promise<{ owed: bigint; inDoubt: bigint }>;
  /** The books (their key, `books_id`) the shared store says owe beta a condition (hex). */
  paidBy(condition: string): Promise<string | undefined>;
  /** The processes' state dirs. */
  stateDirs: string[];
}

async function withInDoubtTown(run: (t: InDoubtTown) => Promise<void>): Promise<void> {
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
    const payOnce = async (condition = payee.invoice(), ms = 30_000) => {
      try {
        const reply = await alice!.client.sendPrepare({
          destination: "test.paytown.beta.invoice",
          amount: String(PRICE),
          executionCondition: condition,
          expiresAt: new Date(Date.now() + ms),
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
    const stopAll = async () => {
      await betaLink?.close();
      betaLink = undefined;
      await alice?.close();
      alice = undefined;
      for (const [i, t] of towns.entries()) {
        await t?.stop();
        towns[i] = undefined;
      }
      return await books();
    };
    const sql = postgres(storeUrl, { max: 1, onnotice: () => {} });
    const paidBy = async (condition: string) => {
      const [row] = await sql.unsafe<{ books: string }[]>(
        "SELECT books FROM turnpike_paid_conditions WHERE account = 'beta' AND condition = $1",
        [condition],
      );
      return row?.books;
    };
    try {
      await run({
        towns,
        payee,
        payouts,
        logs,
        up,
        connectBeta,
        payOnce,
        payUntil,
        books,
        stopAll,
        paidBy,
        stateDirs,
      });
    } finally {
      await sql.end();
    }
    await payouts.close();
  } finally {
    await alice?.close().catch(() => {});
    await betaLink?.close().catch(() => {});
    await killTowns(towns);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Beta's newest claim, once it covers `earned`. */
function claimFor(t: InDoubtTown, earned: bigint) {
  return guard(
    poll(async () => {
      const [r] = await t.payouts.records();
      return r?.received === earned ? r : undefined;
    }),
    () => `beta keeps a claim for ${earned}\n${t.logs()}`,
  );
}

/** SIGKILLs process 0 and waits for it to be gone. */
async function killZero(t: InDoubtTown): Promise<void> {
  t.towns[0]!.process.child.kill("SIGKILL");
  await t.towns[0]!.process.done;
  t.towns[0] = undefined;
}

Deno.test("shared payouts: a payment in doubt on a SIGKILLed process is proven through the process its peer moved to; the town's books = the provider's log", async () => {
  await withInDoubtTown(async (t) => {
    const { payee, logs } = t;
    // 1. Beta on process 0, alice paying through process 1.
    await t.connectBeta(0);
    await t.payUntil(2);

    // 2. Process 0 SIGKILLed while beta holds the FULFILL of one more payment.
    const killed = Promise.withResolvers<void>();
    payee.hold = killed.promise;
    const before = payee.fulfilled.size;
    const paying = t.payOnce();
    await guard(
      poll(() => Promise.resolve(payee.fulfilled.size > before || undefined)),
      () => `beta holds a payment\n${logs()}`,
    );
    await killZero(t);
    killed.resolve();
    payee.hold = undefined;
    const answer = await guard(paying, () => `the payment under the kill\n${logs()}`);
    assert(answer !== "fulfill", `alice was refused the payment cut by the kill (${answer})`);

    // 3. Beta on process 1 from now on; process 0 restarted on its state dir.
    await t.connectBeta(1);
    await t.up(0);
    const earned = BigInt(payee.fulfilled.size) * PRICE;
    let seen = { owed: 0n, inDoubt: 0n };
    await guard(
      poll(async () => (seen = await t.books()).owed === earned || undefined),
      () =>
        `the books owe what beta fulfilled (${earned}): owed ${seen.owed}, in doubt ` +
        `${seen.inDoubt}\n${logs()}`,
    );
    const claim = await claimFor(t, earned);
    assert(
      t.towns[0]!.process.stderr.some((l) => l.includes("payment in doubt proven")),
      "process 0 proved its payment in doubt",
    );
    const final = await t.stopAll();
    console.log(JSON.stringify({
      fulfilledByBeta: payee.fulfilled.size,
      earnedByBeta: String(earned),
      owedByBooks: String(final.owed),
      inDoubtOnBooks: String(final.inDoubt),
      claimed: String(claim.received),
    }));
    assertEquals(final.owed, earned, "the town's books = beta's log");
    assertEquals(final.inDoubt, 0n, "nothing left in doubt");
    assertEquals(claim.received, earned, "beta's newest claim covers its log");
  });
});

Deno.test("shared payouts: a payment in doubt whose invoice beta was paid by another process's packet is not owed twice", async () => {
  await withInDoubtTown(async (t) => {
    const { payee, logs } = t;
    await t.connectBeta(0);
    await t.payUntil(2);

    // Process 0 forwards an invoice's PREPARE (expiring in 6 s) to beta, which has not answered
    // it when process 0 is SIGKILLed; by the time beta looks, the packet has expired: refused.
    const released = Promise.withResolvers<void>();
    payee.pause = released.promise;
    const invoice = payee.invoice();
    const key = bytesToHex(invoice);
    const paying = t.payOnce(invoice, 6_000);
    await guard(
      poll(() => Promise.resolve(payee.arrived.has(key) || undefined)),
      () => `the PREPARE reaches beta\n${logs()}`,
    );
    await killZero(t);
    const cut = await guard(paying, () => `the payment under the kill\n${logs()}`);
    assert(cut !== "fulfill", `alice was refused the payment cut by the kill (${cut})`);
    await sleep(6_500);
    released.resolve();
    payee.pause = undefined;
    assert(!payee.fulfilled.has(key), "beta let the expired PREPARE go unpaid");

    // Alice pays the same invoice again: beta is on process 1 now, which books it itself.
    await t.connectBeta(1);
    await guard(
      poll(async () => (await t.payOnce(invoice)) === "fulfill" || undefined),
      () => `the invoice paid again through process 1\n${logs()}`,
    );
    assert(payee.fulfilled.has(key), "beta fulfilled the invoice once");
    // Process 1 booked the FULFILL: the shared store names its books as owing the condition,
    // by the key `town up` kept in its state dir (roles/town/shared_books_id.ts).
    const process1 = (await Deno.readTextFile(`${t.stateDirs[1]}/books_id`)).trim();
    assertEquals(process1, `${Deno.hostname()}:${await Deno.realPath(t.stateDirs[1])}`);
    await guard(
      poll(async () => (await t.paidBy(key)) === process1 || undefined),
      () => `process 1's books hold the condition: ${logs()}`,
    );

    // Process 0 restarts with the first packet in doubt; beta, asked through process 1, shows
    // the invoice's fulfillment with the expiry of the PREPARE it paid: not process 0's.
    await t.up(0);
    const earned = BigInt(payee.fulfilled.size) * PRICE;
    let seen = { owed: 0n, inDoubt: 0n };
    await guard(
      poll(async () => {
        seen = await t.books();
        return seen.inDoubt === 0n || undefined;
      }),
      () => `process 0's payment in doubt answered: ${JSON.stringify(seen, bigints)}\n${logs()}`,
    );
    const claim = await claimFor(t, earned);
    assert(
      t.towns[0]!.process.stderr.some((l) => l.includes("payment in doubt not owed")),
      `process 0 recorded its packet not owed\n${logs()}`,
    );
    const final = await t.stopAll();
    console.log(JSON.stringify({
      fulfilledByBeta: payee.fulfilled.size,
      earnedByBeta: String(earned),
      owedByBooks: String(final.owed),
      claimed: String(claim.received),
    }));
    assertEquals(
      final.owed,
      earned,
      "the town owes beta each invoice once: its books = beta's log",
    );
    assertEquals(final.inDoubt, 0n, "nothing left in doubt");
    assertEquals(claim.received, earned, "beta's newest claim covers its log, no more");
  });
});

function bigints(_: string, v: unknown): unknown {
  return typeof v === "bigint" ? String(v) : v;
}
