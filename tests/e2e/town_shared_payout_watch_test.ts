/**
 * A town of two `turnpike town up` processes on one PostgreSQL database (a real server this file
 * starts) watches its payout channel on anvil (roles/town/channels/shared_payout_watch.ts,
 * state/postgres/postgres_payout_books.ts; docs/OPERATIONS.md "The payout channels of a town of several
 * processes"), with `[channels] watch_interval = 0.1`:
 *
 * 1. beta, the provider, on process A, is paid a claim at the threshold (alice pays through B).
 * 2. beta closes the payout channel with that claim and leaves. A process marks the row closed.
 * 3. beta comes back on B (its invoices only): B's books owe it past the threshold, and B signs no
 *    claim on the closed channel and opens no other.
 * 4. Past the settle timeout one process settles it (one settle in both logs); beta is paid its
 *    claim, the channel is gone, A books its share (the whole claim: A's books were paid by it).
 * 5. Both stopped and restarted: each finds the channel settled and opens no other.
 */
import { assertEquals } from "../../harness/assert.ts";
import {
  AT_THRESHOLD,
  guard,
  startSharedPayoutTown,
  THRESHOLD,
} from "../support/shared_payout_town.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { increaseTime } from "../../chain/anvil.ts";
import type { BtpClient } from "../../transport/btp_client.ts";

Deno.test("shared payout watch: a provider closes the payout channel of a two-process town and leaves; one process settles it, none claims on it, none opens another after both restart", async () => {
  await using net = await startSharedPayoutTown({
    prefix: "shared_payout_watch_",
    channels: "watch_interval = 0.1",
  });
  const {
    pair,
    beta,
    betaStart,
    towns,
    stateA,
    stateB,
    payouts,
    up,
    logs,
    connectBeta,
    kept,
    pay,
    seen,
    anySeen,
  } = net;
  const [a, b] = towns;
  let betaLink: BtpClient | undefined;
  // 1. Beta on A: A's claim at the threshold.
  betaLink = await guard(connectBeta(a), () => "beta connects to A");
  await pay(AT_THRESHOLD, "beta on A");
  const first = await kept(THRESHOLD, "A's claim at the threshold");

  // 2. Beta closes the payout channel with it and leaves.
  await betaLink.close();
  betaLink = undefined;
  await beta.closeChannel(first.channelId, {
    nonce: first.receivedNonce,
    transferredAmount: first.received,
    signature: first.receivedSignature!,
  });
  await anySeen("closed on chain by the peer");

  // 3. Beta back on B for its invoices: owed past the threshold, no claim, no other channel.
  betaLink = await guard(connectBeta(b), () => "beta connects to B");
  await pay(AT_THRESHOLD, "beta on B, channel closed");
  await seen(b, `channel ${first.channelId} is closed: no other is opened`);
  await betaLink.close();
  betaLink = undefined;

  // 4. Past the timeout: one process settles; A books the claim it paid.
  await increaseTime(pair.anvil.rpcUrl, 601);
  await anySeen(`channel ${first.channelId} settled on chain (0x`);
  await seen(a, `settled: ${THRESHOLD} of it booked here`);
  assertEquals((await beta.getChannel(first.channelId)).state, "none");
  assertEquals(await beta.tokenBalance() - betaStart, THRESHOLD, "beta paid its claim");
  const [newest] = await payouts.records();
  assertEquals(newest.receivedNonce, first.receivedNonce, "no claim after the close");

  // 5. Both restarted: the channel is settled, no other is opened.
  await net.alice!.close();
  net.alice = undefined;
  for (const t of towns) await t.stop();
  const settles = towns.flatMap((t) => t.process.stderr)
    .filter((l) => l.includes("settled on chain (")).length;
  assertEquals(settles, 1, `one settle, by one process\n${logs()}`);
  const ledgerA = (await openPeerLedger({ stateDir: stateA })).balance("beta");
  const ledgerB = (await openPeerLedger({ stateDir: stateB })).balance("beta");
  assertEquals([ledgerA.owed, ledgerA.settled], [THRESHOLD, THRESHOLD], "A's books");
  assertEquals([ledgerB.owed, ledgerB.settled], [THRESHOLD, 0n], "B's books: never claimed");
  towns.length = 0;
  towns.push(await up(stateA), await up(stateB));
  for (const t of towns) {
    await seen(t, `channel ${first.channelId} is settled: no other is opened`);
  }
  for (const t of towns) await t.stop();
  assertEquals(
    await beta.channelWith(pair.bob.address),
    `0x${"00".repeat(32)}`,
    "no new channel",
  );
  await payouts.close();
});
