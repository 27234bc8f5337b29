/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server this file
 * starts) pays its provider from both processes' books over the one payout channel the chain
 * allows per pair (roles/town/channels/shared_payouts.ts, state/postgres/postgres_payout_books.ts), on
 * anvil:
 *
 * 1. beta, the provider, is connected to process A; alice pays beta's invoices through process
 *    B (which forwards them to A); A owes them on its books, opens the payout channel at the
 *    threshold and pays with a claim; two more invoices (under the threshold) and A is
 *    SIGKILLed owing beta more than its last claim.
 * 2. beta reconnects to B; A is restarted on its state dir: it finds what its books owe beyond
 *    the newest claim, signs the next claim from the shared state, and the claim reaches beta
 *    through B (the process beta is connected to), not A.
 * 3. alice pays more invoices, now owed on B's books; B signs the next nonce on the same
 *    channel (no second channel, no clash) for what both books owe.
 * 4. beta closes and settles the payout channel with its newest claim: the chain pays beta
 *    exactly what A's and B's books together owe it.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  AT_THRESHOLD,
  guard,
  PRICE,
  startSharedPayoutTown,
  THRESHOLD,
} from "../support/shared_payout_town.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { increaseTime } from "../../chain/anvil.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import type { BtpClient } from "../../transport/btp_client.ts";

Deno.test("shared payouts: a provider owed by two town processes (its link moved by a SIGKILL) is paid over one channel; chain = both books", async () => {
  await using net = await startSharedPayoutTown({ prefix: "shared_payouts_" });
  const {
    pair,
    beta,
    betaStart,
    towns,
    stateA,
    stateB,
    payouts,
    up,
    connectBeta,
    kept,
    pay,
  } = net;
  const [a, b] = towns;
  let betaLink: BtpClient;

  // 1. Beta on A: A's claim at the threshold is 10,000; then its books owe 15,000.
  betaLink = await guard(connectBeta(a), () => "beta connects to A");
  await pay(AT_THRESHOLD, "beta on A");
  const first = await kept(THRESHOLD, "A's claim at the threshold");
  await pay(2, "beta on A, under the threshold");
  a.process.child.kill("SIGKILL");
  await a.process.done;
  await betaLink.close();

  // 2. Beta on B; A restarted: A's claim for the rest of its books reaches beta through B.
  betaLink = await guard(connectBeta(b), () => "beta connects to B");
  towns[0] = await up(stateA);
  const owedByA = THRESHOLD + 2n * PRICE;
  const second = await kept(owedByA, "A's next claim, delivered by B");
  assert(second.receivedNonce > first.receivedNonce, "a higher nonce");

  // 3. More invoices, owed on B's books; B pays on the same channel, the next nonce.
  await pay(AT_THRESHOLD, "beta on B");
  const total = owedByA + THRESHOLD;
  const last = await kept(total, "B's claim for both books");
  assert(last.receivedNonce > second.receivedNonce, "a higher nonce again");
  assertEquals(last.channelId, first.channelId, "one payout channel");

  // 4. Beta closes and settles with the newest claim: chain = both processes' books.
  await betaLink.close();
  await net.alice!.close();
  net.alice = undefined;
  for (const t of towns) await t.stop();
  const owedA = (await openPeerLedger({ stateDir: stateA })).balance("beta").owed;
  const owedB = (await openPeerLedger({ stateDir: stateB })).balance("beta").owed;
  assertEquals([owedA, owedB], [owedByA, THRESHOLD], "each process's books owe its share");
  const record: ChannelRecord = last;
  await beta.closeChannel(record.channelId, {
    nonce: record.receivedNonce,
    transferredAmount: record.received,
    signature: record.receivedSignature!,
  });
  await increaseTime(pair.anvil.rpcUrl, 601);
  await beta.settleChannel(record.channelId);
  assertEquals(await beta.tokenBalance() - betaStart, owedA + owedB, "chain = both books");
  await payouts.close();
});
