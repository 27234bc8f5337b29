/**
 * The town watches its payout channels (roles/town/channels/payout_channel_watch.ts), on a real
 * anvil with the real contract: the provider closes the payout channel with the town's claim and
 * never settles (its node gone). The town's watch marks the channel closed (no claim is signed on
 * it after), settles it once the settle timeout is over (the rest of its deposit comes back, the
 * provider gets its claim) and books what it paid on the ledger (`settled`). It opens no other
 * channel to that provider, in the same process or after a restart: a new channel's claims would
 * start from nothing and pay again what the settled one paid. A town stopped while the provider
 * closed finds the close when it starts again and settles it; one started after the provider
 * closed and settled, on an RPC that will not serve the chain's logs (tests/support/
 * log_refusing_rpc.ts), books it by its channel file (roles/channels/settle_or_book.ts).
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { startLogRefusingRpc } from "../support/log_refusing_rpc.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { decodeClaim, type PaymentChannelClaim } from "../../protocol/payment_channel_claim.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { openPeerLedger, type PeerLedger } from "../../state/payments/peer_ledger.ts";

const DEPOSIT = 100_000n;
const SETTLE_TIMEOUT = 600n;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never ${what}`);
}

let packets = 0;
/** One paid packet forwarded to beta and fulfilled: the town owes it `amount` more. */
async function owe(ledger: PeerLedger, amount: bigint): Promise<void> {
  const condition = (++packets).toString(16).padStart(64, "0");
  await ledger.forward("beta", condition, amount);
  await ledger.fulfilled("beta", condition, "00".repeat(32));
}

function townPayouts(
  pair: ChannelPair,
  dir: string,
  ledger: PeerLedger,
  beta: TokenNetworkClient,
  out: { claims: PaymentChannelClaim[]; logs: string[] },
  watchIntervalMs: number | undefined,
  /** The town's chain client: the pair's own when absent. */
  client: TokenNetworkClient = pair.bob,
): TownPayouts {
  return new TownPayouts({
    stateDir: dir,
    ledger,
    signer: localNodeSigner(pair.bobKey),
    client,
    policy: { threshold: 1_000n, intervalMs: 3_600_000 },
    deposit: DEPOSIT,
    settleTimeout: SETTLE_TIMEOUT,
    peerAddress: (a) => a === "beta" ? beta.address : undefined,
    // Not a peer: the claims are kept here and beta closes with the newest.
    send: (_a, c) => Promise.resolve(void out.claims.push(decodeClaim(c))),
    log: (line) => out.logs.push(line),
    watchIntervalMs,
  });
}

async function closeWith(beta: TokenNetworkClient, claim: PaymentChannelClaim): Promise<void> {
  await beta.closeChannel(claim.channelId, {
    nonce: claim.nonce,
    transferredAmount: claim.transferredAmount,
    signature: claim.signature,
  });
}

Deno.test("the town settles a payout channel its provider closed and left, and opens no other (anvil)", async () => {
  await using pair = await startChannelPair();
  const { client: beta } = await startGasOnlyParty(pair);
  const dir = await Deno.makeTempDir({ prefix: "town_payout_watch_" });
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const ledger = await openPeerLedger({ stateDir: dir });
  await owe(ledger, 5_000n);
  const payouts = townPayouts(pair, dir, ledger, beta, out, 50);
  const claim = (await payouts.payNow("beta"))!;
  assertEquals(claim.transferredAmount, 5_000n);
  const id = claim.channelId;
  const townBefore = await pair.bob.tokenBalance();
  const betaBefore = await beta.tokenBalance();

  await closeWith(beta, claim);
  const payout = (await payouts.payout("beta"))!;
  await until(
    "the close seen",
    () => Promise.resolve(payout.record().status === "closed" || undefined),
  );
  // Owed more after the close: no claim on a closed channel.
  await owe(ledger, 3_000n);
  assertEquals(await payouts.payNow("beta"), undefined);
  assertEquals([out.claims.length, ledger.balance("beta").claimed], [1, 5_000n]);

  // Beta never settles; the town does once the timeout is over.
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  await until(
    "the settle booked",
    () => Promise.resolve(ledger.balance("beta").settled || undefined),
  );
  assertEquals(ledger.balance("beta").settled, 5_000n);
  assertEquals((await pair.bob.getChannel(id)).state, "none");
  assertEquals(await pair.bob.tokenBalance() - townBefore, DEPOSIT - 5_000n, "the deposit's rest");
  assertEquals(await beta.tokenBalance() - betaBefore, 5_000n, "the claim beta closed with");
  const file = await readChannel(channelFilePath(dir, id));
  assertEquals([file.status, file.sent], ["settled", 5_000n]);
  assert(out.logs.some((l) => l.includes("closed on chain by the peer")), out.logs.join("\n"));
  assertStringIncludes(out.logs.join("\n"), `channel ${id} settled on chain (0x`);

  // Still owed 3,000: not paid on a new channel, in this process or after a restart.
  assertEquals(await payouts.payNow("beta"), undefined);
  await payouts.close();
  const again = townPayouts(pair, dir, await openPeerLedger({ stateDir: dir }), beta, out, 50);
  await again.watchKept();
  assertEquals(await again.payNow("beta"), undefined);
  await again.close();
  assertEquals(await pair.bob.channelWith(beta.address), `0x${"00".repeat(32)}`, "no new channel");
  assertEquals(out.claims.length, 1);
  assertStringIncludes(out.logs.join("\n"), `channel ${id} is settled: no other is opened`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a town started after its provider closed the payout channel settles it (anvil)", async () => {
  await using pair = await startChannelPair();
  const { client: beta } = await startGasOnlyParty(pair);
  const dir = await Deno.makeTempDir({ prefix: "town_payout_watch_" });
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const ledger = await openPeerLedger({ stateDir: dir });
  await owe(ledger, 7_000n);
  // Not watching (a town before the watch, or stopped): the close goes unseen.
  const before = townPayouts(pair, dir, ledger, beta, out, undefined);
  const claim = (await before.payNow("beta"))!;
  await before.close();
  const townBefore = await pair.bob.tokenBalance();
  await closeWith(beta, claim);
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  assertEquals((await pair.bob.getChannel(claim.channelId)).state, "closed", "the deposit locked");

  const restarted = await openPeerLedger({ stateDir: dir });
  const payouts = townPayouts(pair, dir, restarted, beta, out, 50);
  await payouts.watchKept();
  await until(
    "the settle booked",
    () => Promise.resolve(restarted.balance("beta").settled || undefined),
  );
  await payouts.close();
  assertEquals(restarted.balance("beta").settled, 7_000n);
  assertEquals((await pair.bob.getChannel(claim.channelId)).state, "none");
  assertEquals(await pair.bob.tokenBalance() - townBefore, DEPOSIT - 7_000n);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a town started after its provider closed and settled the payout channel, on an RPC that will not serve the chain's logs, books it by its channel file, once (anvil)", async () => {
  await using pair = await startChannelPair();
  const { client: beta } = await startGasOnlyParty(pair);
  const dir = await Deno.makeTempDir({ prefix: "town_payout_watch_" });
  const out = { claims: [] as PaymentChannelClaim[], logs: [] as string[] };
  const ledger = await openPeerLedger({ stateDir: dir });
  await owe(ledger, 7_000n);
  const before = townPayouts(pair, dir, ledger, beta, out, undefined);
  const claim = (await before.payNow("beta"))!;
  await before.close();
  await closeWith(beta, claim);
  await increaseTime(pair.anvil.rpcUrl, Number(SETTLE_TIMEOUT) + 1);
  const betaBefore = await beta.tokenBalance();
  await beta.settleChannel(claim.channelId);
  const chainPaid = await beta.tokenBalance() - betaBefore;

  await using rpc = startLogRefusingRpc(pair.anvil.rpcUrl);
  const client = new TokenNetworkClient({
    chain: { ...pair.chain, rpcUrl: rpc.url },
    account: localEvmAccount(pair.bobKey),
  });
  const townNonce = await client.publicClient.getTransactionCount({ address: pair.bob.address });
  const restarted = await openPeerLedger({ stateDir: dir });
  const payouts = townPayouts(pair, dir, restarted, beta, out, 50, client);
  await payouts.watchKept();
  await until(
    "the settle booked",
    () => Promise.resolve(restarted.balance("beta").settled || undefined),
  );
  await payouts.close();
  assert(rpc.refused() > 0, "the logs were asked for and refused");
  assertEquals([restarted.balance("beta").settled, chainPaid], [7_000n, 7_000n]);
  const file = await readChannel(channelFilePath(dir, claim.channelId));
  assertEquals([file.status, file.sent], ["settled", 7_000n]);
  assertStringIncludes(
    out.logs.join("\n"),
    `channel ${claim.channelId} settled on chain (the peer)`,
  );
  // Restarted again: nothing more booked, no settle sent.
  const again = await openPeerLedger({ stateDir: dir });
  const payouts2 = townPayouts(pair, dir, again, beta, out, 50, client);
  await payouts2.watchKept();
  await payouts2.close();
  assertEquals(again.balance("beta").settled, 7_000n, "booked once");
  assertEquals(
    await client.publicClient.getTransactionCount({ address: pair.bob.address }),
    townNonce,
    "no settle sent",
  );
  await Deno.remove(dir, { recursive: true });
});
