/**
 * A town of two processes on one PostgreSQL store watches its payout channels
 * (roles/town/channels/shared_payout_watch.ts, state/postgres/postgres_payout_books.ts), on a real anvil
 * with the real contract and a real PostgreSQL server. The two processes are two
 * `SharedTownPayouts` in this test, each with its own state dir, ledger, database connections and
 * chain client for the town's one key, as `town up` runs them (the CLI's process harness is
 * tests/e2e/town_shared_payouts_test.ts):
 *
 * 1. Both processes' books owe beta; they pay it over the one payout channel. Beta closes it with
 *    the newest claim and never settles. Both watches poll at once: the row is marked closed
 *    once, and neither process signs a claim on it after, though both owe more.
 * 2. Past the settle timeout both poll at once again: one settles (one transaction), the row is
 *    settled with its transaction and amount, the town's deposit's rest comes back, and each
 *    process books its own books' share on its ledger (the shares sum to what the chain paid).
 * 3. Both restarted: no new channel is opened, no claim is signed.
 *
 * A second case: beta closes and settles itself while both processes are down; at start both
 * find the channel gone, book it settled by the peer, and open no other. A third: the same, with
 * both restarted on an RPC that will not serve the chain's logs (tests/support/
 * log_refusing_rpc.ts): the settle's proofs cannot be read, so it is booked by the town's newest
 * claim (what beta closed with, what the chain paid), once, and no settle is sent.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { anvilRpc, increaseTime } from "../../chain/anvil.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { decodeClaim, type PaymentChannelClaim } from "../../protocol/payment_channel_claim.ts";
import { sharedBooksId, SharedTownPayouts } from "../../roles/town/channels/shared_payouts.ts";
import { openPeerLedger, type PeerLedger } from "../../state/payments/peer_ledger.ts";
import { openPostgresPayoutBooks } from "../../state/postgres/postgres_payout_books.ts";
import { LOGS_REFUSED, startLogRefusingRpc } from "../support/log_refusing_rpc.ts";
import { FULL_READ_EVERY } from "../../roles/channels/channel_watcher.ts";

const DEPOSIT = 100_000n;
const SETTLE_TIMEOUT = 600n;
const NO_CHANNEL = `0x${"00".repeat(32)}`;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never ${what}`);
}

let packets = 0;
/** One paid packet forwarded to beta and fulfilled: this process's books owe it `amount` more. */
async function owe(ledger: PeerLedger, amount: bigint): Promise<void> {
  const condition = (++packets).toString(16).padStart(64, "0");
  await ledger.forward("beta", condition, amount);
  await ledger.fulfilled("beta", condition, "00".repeat(32));
}

interface Process {
  dir: string;
  ledger: PeerLedger;
  payouts: SharedTownPayouts;
}

/** A town process's payouts on the shared store: its own connections and chain client. */
async function startProcess(
  pair: ChannelPair,
  storeUrl: string,
  dir: string,
  beta: `0x${string}`,
  out: { claims: PaymentChannelClaim[]; logs: string[] },
  /** The RPC its chain client uses; the pair's anvil when absent. */
  rpcUrl = pair.chain.rpcUrl,
  /** Told of each channel its chain client reads. */
  onRead?: (channelId: string) => void,
): Promise<Process> {
  const ledger = await openPeerLedger({ stateDir: dir });
  const client = new TokenNetworkClient({
    chain: { ...pair.chain, rpcUrl },
    account: localEvmAccount(pair.bobKey),
  });
  if (onRead) {
    const read = client.getChannel.bind(client);
    client.getChannel = (id) => (onRead(id), read(id));
  }
  const payouts = await SharedTownPayouts.start({
    books: await openPostgresPayoutBooks({ url: storeUrl }),
    booksId: await sharedBooksId(dir),
    stateDir: dir,
    ledger,
    signer: localNodeSigner(pair.bobKey),
    client,
    // Claims at the interval only when asked (payNow) or past the threshold.
    policy: { threshold: 1_000n, intervalMs: 3_600_000 },
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
    peerAddress: (a) => a === "beta" ? beta : undefined,
    connectedHere: () => true,
    // Not a peer: the claims are kept here and beta closes with the newest.
    send: (_a, c) => Promise.resolve(void out.claims.push(decodeClaim(c))),
    log: (line) => out.logs.push(`${dir}: ${line}`),
    // Polled by the test (both at once), and once at start.
    watchIntervalMs: 3_600_000,
  });
  // The check at start is done (joined).
  await payouts.checkChannels();
  return { dir, ledger, payouts };
}

/** The newest nonce any process sent beta (a claim is sent again by the process beta is on). */
function newestNonce(claims: PaymentChannelClaim[]): bigint {
  return claims.reduce((n, c) => c.nonce > n ? c.nonce : n, 0n);
}

function count(logs: string[], text: string): number {
  return logs.filter((l) => l.includes(text)).length;
}

/** Both processes owe beta and pay it over one channel; beta closes with the newest claim. */
async function paidAndClosed(
  pair: ChannelPair,
  storeUrl: string,
  beta: TokenNetworkClient,
  out: { claims: PaymentChannelClaim[]; logs: string[] },
): Promise<{ a: Process; b: Process; newest: PaymentChannelClaim }> {
  const a = await startProcess(pair, storeUrl, await Deno.makeTempDir(), beta.address, out);
  const b = await startProcess(pair, storeUrl, await Deno.makeTempDir(), beta.address, out);
  await owe(a.ledger, 5_000n);
  await a.payouts.payNow("beta");
  await owe(b.ledger, 3_000n);
  await b.payouts.payNow("beta");
  const newest = out.claims.reduce((x, y) => y.nonce > x.nonce ? y : x);
  assertEquals(newest.transferredAmount, 8_000n, "both books paid");
  assertEquals(new Set(out.claims.map((c) => c.channelId)).size, 1, "one payout channel");
  await beta.closeChannel(newest.channelId, {
    nonce: newest.nonce,
    transferredAmount: newest.transferredAmount,
    signature: newest.signature,
  });
  return { a, b, newest };
}

Deno.test("a two-process town on PostgreSQL settles a payout channel its provider closed and left, once, and opens no other (anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const { client: beta } = await startGasOnlyParty(pair);
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const { a, b, newest } = await paidAndClosed(pair, storeUrl, beta, out);
  const id = newest.channelId;
  const townBefore = await pair.bob.tokenBalance();
  const betaBefore = await beta.tokenBalance();

  // 1. Both poll at once: marked closed once; no claim after, though both owe more.
  await Promise.all([a.payouts.checkChannels(), b.payouts.checkChannels()]);
  assertEquals(count(out.logs, "closed on chain by the peer"), 1, out.logs.join("\n"));
  const books = await openPostgresPayoutBooks({ url: storeUrl });
  try {
    assertEquals((await books.channel("beta"))?.status, "closed");
    await owe(a.ledger, 2_000n);
    await owe(b.ledger, 1_000n);
    assertEquals(await a.payouts.payNow("beta"), undefined);
    assertEquals(await b.payouts.payNow("beta"), undefined);
    assertEquals(newestNonce(out.claims), newest.nonce, "no claim on a closed channel");
    assertEquals((await books.channel("beta"))?.nonce, newest.nonce);

    // 2. Past the timeout both poll at once: one settles, each books its share.
    await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
    await Promise.all([a.payouts.checkChannels(), b.payouts.checkChannels()]);
    // The process that skipped the row books its share at its next poll.
    await Promise.all([a.payouts.checkChannels(), b.payouts.checkChannels()]);
    assertEquals(count(out.logs, `channel ${id} settled on chain (0x`), 1, out.logs.join("\n"));
    assertEquals(count(out.logs, "settled on chain"), 1, "one settle, by one process");
    const row = (await books.channel("beta"))!;
    assertEquals([row.status, row.paid], ["settled", 8_000n]);
    assert(/^0x[0-9a-f]{64}$/.test(row.settledBy ?? ""), `the settle's tx: ${row.settledBy}`);
    assertEquals((await pair.bob.getChannel(id)).state, "none");
    assertEquals(
      await pair.bob.tokenBalance() - townBefore,
      DEPOSIT - 8_000n,
      "the deposit's rest",
    );
    assertEquals(await beta.tokenBalance() - betaBefore, 8_000n, "the claim beta closed with");
    const shares = [a.ledger.balance("beta").settled, b.ledger.balance("beta").settled];
    assertEquals(shares, [5_000n, 3_000n], "each process's books' share of the settle");

    // 3. Both restarted: no other channel, no claim.
    await a.payouts.close();
    await b.payouts.close();
    const a2 = await startProcess(pair, storeUrl, a.dir, beta.address, out);
    const b2 = await startProcess(pair, storeUrl, b.dir, beta.address, out);
    assertEquals(await a2.payouts.payNow("beta"), undefined);
    assertEquals(await b2.payouts.payNow("beta"), undefined);
    await Promise.all([a2.payouts.checkChannels(), b2.payouts.checkChannels()]);
    assertEquals(a2.ledger.balance("beta").settled, 5_000n, "booked once");
    await a2.payouts.close();
    await b2.payouts.close();
    assertEquals(await pair.bob.channelWith(beta.address), NO_CHANNEL, "no new channel");
    assertEquals(newestNonce(out.claims), newest.nonce, "no claim after the restart");
    assertStringIncludes(out.logs.join("\n"), `channel ${id} is settled: no other is opened`);
  } finally {
    await books.close();
  }
});

Deno.test("a two-process town on PostgreSQL started after its provider closed and settled a payout channel books it and opens no other (anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const { client: beta } = await startGasOnlyParty(pair);
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const { a, b, newest } = await paidAndClosed(pair, storeUrl, beta, out);
  // Both down while beta closes and settles.
  await a.payouts.close();
  await b.payouts.close();
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await beta.settleChannel(newest.channelId);

  const a2 = await startProcess(pair, storeUrl, a.dir, beta.address, out);
  const b2 = await startProcess(pair, storeUrl, b.dir, beta.address, out);
  await until(
    "both shares booked",
    async () => {
      await Promise.all([a2.payouts.checkChannels(), b2.payouts.checkChannels()]);
      return (b2.ledger.balance("beta").settled > 0n && a2.ledger.balance("beta").settled > 0n) ||
        undefined;
    },
  );
  assertEquals([a2.ledger.balance("beta").settled, b2.ledger.balance("beta").settled], [
    5_000n,
    3_000n,
  ]);
  const books = await openPostgresPayoutBooks({ url: storeUrl });
  const row = (await books.channel("beta"))!;
  await books.close();
  assertEquals([row.status, row.settledBy, row.paid], ["settled", "the peer", 8_000n]);
  await owe(a2.ledger, 1_000n);
  assertEquals(await a2.payouts.payNow("beta"), undefined);
  await a2.payouts.close();
  await b2.payouts.close();
  assertEquals(newestNonce(out.claims), newest.nonce, "no claim after");
  assertEquals(await pair.bob.channelWith(beta.address), NO_CHANNEL, "no new channel");
});

/** The number of transactions `address` sent (its nonce), read from anvil itself. */
async function sentCount(pair: ChannelPair, address: string): Promise<bigint> {
  return BigInt(
    await anvilRpc(pair.anvil.rpcUrl, "eth_getTransactionCount", [address, "latest"]) as string,
  );
}

Deno.test("a two-process town on PostgreSQL whose RPC will not serve the chain's logs books a payout channel its provider closed and settled by its newest claim, once, and sends no settle (anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const { client: beta } = await startGasOnlyParty(pair);
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const { a, b, newest } = await paidAndClosed(pair, storeUrl, beta, out);
  await a.payouts.close();
  await b.payouts.close();
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  const betaBefore = await beta.tokenBalance();
  await beta.settleChannel(newest.channelId);
  const chainPaid = await beta.tokenBalance() - betaBefore;
  assertEquals(chainPaid, newest.transferredAmount, "the settle paid beta's close");

  // Both restarted on an RPC whose logs are unreadable: the proofs of the settle cannot be read.
  await using rpc = startLogRefusingRpc(pair.anvil.rpcUrl);
  const townSent = await sentCount(pair, pair.bob.address);
  const a2 = await startProcess(pair, storeUrl, a.dir, beta.address, out, rpc.url);
  const b2 = await startProcess(pair, storeUrl, b.dir, beta.address, out, rpc.url);
  await until(
    "both shares booked",
    async () => {
      await Promise.all([a2.payouts.checkChannels(), b2.payouts.checkChannels()]);
      return (b2.ledger.balance("beta").settled > 0n && a2.ledger.balance("beta").settled > 0n) ||
        undefined;
    },
  );
  assert(rpc.refused() > 0, "the logs were asked for and refused");
  const books = await openPostgresPayoutBooks({ url: storeUrl });
  const row = (await books.channel("beta"))!;
  await books.close();
  assertEquals([row.status, row.paid], ["settled", chainPaid], out.logs.join("\n"));
  assertStringIncludes(
    row.settledBy ?? "",
    "the peer (booked by the newest claim: logs unreadable",
  );
  assertStringIncludes(row.settledBy ?? "", LOGS_REFUSED);
  // Never paid twice: polled again and restarted, each process's share is booked once.
  await Promise.all([a2.payouts.checkChannels(), b2.payouts.checkChannels()]);
  await a2.payouts.close();
  await b2.payouts.close();
  const a3 = await startProcess(pair, storeUrl, a.dir, beta.address, out, rpc.url);
  await a3.payouts.checkChannels();
  await a3.payouts.close();
  const shares = [a3.ledger.balance("beta").settled, b2.ledger.balance("beta").settled];
  assertEquals(shares, [5_000n, 3_000n], "each process's books' share, once");
  assertEquals(await sentCount(pair, pair.bob.address), townSent, "no settle sent by the town");
  assertEquals(newestNonce(out.claims), newest.nonce, "no claim after");
  assertEquals(await pair.bob.channelWith(beta.address), NO_CHANNEL, "no new channel");
});

Deno.test("a town process's payout watch reads on chain only the channels the chain's events name, new ones, and closed ones (anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const { client: beta } = await startGasOnlyParty(pair);
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const reads: string[] = [];
  const dir = await Deno.makeTempDir();
  const a = await startProcess(
    pair,
    storeUrl,
    dir,
    beta.address,
    out,
    undefined,
    (id) => reads.push(id),
  );
  try {
    await owe(a.ledger, 5_000n);
    await a.payouts.payNow("beta");
    const id = out.claims[0].channelId;
    // A channel new to the process is read; then, with no event on it, it is not.
    await a.payouts.checkChannels();
    assertEquals(reads, [id], "the new channel read once");
    await a.payouts.checkChannels();
    assertEquals(reads, [id], "no event, no read");
    // Beta closes it: the chain's event names it, and the next polls read it.
    await beta.closeChannel(id, {
      nonce: out.claims[0].nonce,
      transferredAmount: out.claims[0].transferredAmount,
      signature: out.claims[0].signature,
    });
    await until("the close seen", async () => {
      await a.payouts.checkChannels();
      return count(out.logs, "closed on chain by the peer") === 1 ? true : undefined;
    });
    assert(reads.length >= 2, "read after its event");
    // A closed channel is read at every poll: its settle timeout runs without events.
    const before = reads.length;
    await a.payouts.checkChannels();
    assertEquals(reads.length, before + 1);
  } finally {
    await a.payouts.close();
    await a.ledger.flush();
  }
});

Deno.test("a town process's payout watch reads every channel every FULL_READ_EVERY polls, events or not (anvil)", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const { client: beta } = await startGasOnlyParty(pair);
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const reads: string[] = [];
  const a = await startProcess(
    pair,
    storeUrl,
    await Deno.makeTempDir(),
    beta.address,
    out,
    undefined,
    (id) => reads.push(id),
  );
  try {
    await owe(a.ledger, 5_000n);
    await a.payouts.payNow("beta");
    await a.payouts.checkChannels(); // the new channel read
    assertEquals(reads.length, 1);
    // The start's poll was the first; this process has polled twice. The full read comes at
    // poll FULL_READ_EVERY + 1, and once only over the next FULL_READ_EVERY.
    for (let poll = 2; poll < 2 + FULL_READ_EVERY; poll++) await a.payouts.checkChannels();
    assertEquals(reads.length, 2, "one full read in FULL_READ_EVERY polls");
  } finally {
    await a.payouts.close();
    await a.ledger.flush();
  }
});
