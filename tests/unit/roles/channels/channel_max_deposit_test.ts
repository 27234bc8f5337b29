/**
 * `[channels] max_deposit` holds for top-ups as for opening: `raiseChannelDeposit` refuses one
 * that would leave the channel holding more (before any transaction), and the automatic keeper
 * cuts its top-up to the room left, or refuses when there is none. The chain here is a recording
 * stand-in (the contract call is exercised against anvil in tests/e2e/channel_auto_test.ts).
 */
import { assertEquals, assertMatch, assertRejects } from "../../../../harness/assert.ts";
import {
  DepositAboveMaximumError,
  raiseChannelDeposit,
} from "../../../../roles/channels/channel_deposit.ts";
import { startChannelTopUp } from "../../../../roles/channels/channel_topup.ts";
import { resolveChannelPolicy } from "../../../../config/channel_policy.ts";
import type { ChannelRecord } from "../../../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const M2M = 1_000_000n;

function recordingChainStandIn(balance: bigint) {
  const totals: bigint[] = [];
  return {
    totals,
    address: `0x${"33".repeat(20)}` as `0x${string}`,
    tokenBalance: () => Promise.resolve(balance),
    setTotalDeposit: (_id: `0x${string}`, total: bigint) => {
      totals.push(total);
      return Promise.resolve(`0x${"ee".repeat(32)}` as `0x${string}`);
    },
  };
}

function channel(deposit: bigint, withdrawn: bigint, sent: bigint): ChannelRecord {
  return fixtureChannelRecord(
    { selfAddress: `0x${"33".repeat(20)}`, peerAddress: `0x${"44".repeat(20)}` },
    { deposit, withdrawn, sent, status: "open" },
  );
}

Deno.test("raiseChannelDeposit: a top-up past max_deposit is refused before any transaction", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "max_deposit_" });
  try {
    const chain = recordingChainStandIn(1000n * M2M);
    let record = channel(95n * M2M, 0n, 0n);
    const update = (change: (r: ChannelRecord) => ChannelRecord) =>
      Promise.resolve(record = change(record));
    const err = await assertRejects(
      () =>
        raiseChannelDeposit({
          stateDir,
          record,
          amount: 10n * M2M,
          chain,
          update,
          auto: false,
          maxDeposit: 100n * M2M,
        }),
      DepositAboveMaximumError,
    );
    assertEquals([err.room, chain.totals.length], [5n * M2M, 0]);
    // Withdrawn tokens left the channel: 95 deposited, 10 withdrawn, 15 more is 100 held.
    record = channel(95n * M2M, 10n * M2M, 0n);
    const done = await raiseChannelDeposit({
      stateDir,
      record,
      amount: 15n * M2M,
      chain,
      update,
      auto: false,
      maxDeposit: 100n * M2M,
    });
    assertEquals([done.total, chain.totals], [110n * M2M, [110n * M2M]]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("automatic top-up: cut to the room under max_deposit; none when the channel is at it", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "max_deposit_auto_" });
  try {
    for (
      const [deposit, expected] of [[80n * M2M, [100n * M2M]], [100n * M2M, []]] as const
    ) {
      const chain = recordingChainStandIn(1000n * M2M);
      let record = channel(deposit, 0n, deposit - M2M); // 1 M2M left: below 10%
      const alerts: string[] = [];
      const keeper = startChannelTopUp({
        stateDir,
        policy: resolveChannelPolicy({
          table: { deposit: "50", max_deposit: "100" },
          env: () => undefined,
        }),
        sent: {
          record: () => record,
          update: (change) => Promise.resolve(record = change(record)),
        },
        chain,
        signer: { noteDeposit: () => Promise.resolve() },
        alert: (kind, message) => alerts.push(`${kind}: ${message}`),
      });
      keeper.check();
      await keeper.idle();
      assertEquals(chain.totals, [...expected]);
      if (expected.length === 0) {
        assertMatch(alerts.join("\n"), /topup-failed: .*max_deposit/);
      }
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
