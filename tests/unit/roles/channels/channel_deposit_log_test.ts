import { assert, assertEquals } from "../../../../harness/assert.ts";
import { logChannelDeposit } from "../../../../roles/channels/channel_deposit_log.ts";
import { readChannelLog } from "../../../../state/channels/channel_log.ts";

Deno.test("logChannelDeposit: an opening deposit and a top-up, as the channel log keeps them", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const record = { channelId: `0x${"ab".repeat(32)}` as const, chain: "evm:base:31337" };
    const before = Date.now();
    await logChannelDeposit({
      stateDir,
      record,
      action: "open",
      amount: 20_000_000n,
      totalDeposit: 20_000_000n,
      tx: `0x${"01".repeat(32)}`,
      auto: true,
    });
    await logChannelDeposit({
      stateDir,
      record,
      action: "topup",
      amount: 5_000_000n,
      totalDeposit: 25_000_000n,
      tx: `0x${"02".repeat(32)}`,
      auto: false,
    });
    const entries = await readChannelLog(stateDir);
    assertEquals(entries.map(({ ts: _, ...e }) => e), [
      {
        action: "open",
        channelId: record.channelId,
        chain: "evm:base:31337",
        amount: "20000000",
        totalDeposit: "20000000",
        tx: `0x${"01".repeat(32)}`,
        auto: true,
      },
      {
        action: "topup",
        channelId: record.channelId,
        chain: "evm:base:31337",
        amount: "5000000",
        totalDeposit: "25000000",
        tx: `0x${"02".repeat(32)}`,
        auto: false,
      },
    ]);
    for (const e of entries) {
      const t = Date.parse(e.ts);
      assert(t >= before - 1000 && t <= Date.now() + 1000, `ts ${e.ts} is now`);
      assertEquals(new Date(t).toISOString(), e.ts);
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
