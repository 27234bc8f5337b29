import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  channelPolicyAmounts,
  resolveChannelPolicy,
  scaleUnits,
} from "../../../config/channel_policy.ts";
import { ConfigError } from "../../../config/config_error.ts";

const noEnv = () => undefined;

Deno.test("channel policy: defaults, TOML, environment over TOML", () => {
  const defaults = resolveChannelPolicy({ env: noEnv });
  assertEquals(defaults, {
    auto: false,
    deposit: "50",
    topUpBelow: "10%",
    topUpAmount: undefined,
    topUpDailyCap: undefined,
    maxDeposit: "100",
  });
  const table = { auto: true, deposit: "20", topup_below: "2.5", topup_daily_cap: "40" };
  const fromFile = resolveChannelPolicy({ table, env: noEnv });
  assertEquals([fromFile.auto, fromFile.deposit, fromFile.topUpBelow], [true, "20", "2.5"]);
  const env = (name: string) =>
    ({ TURNPIKE_CHANNELS_AUTO: "no", TURNPIKE_CHANNELS_DEPOSIT: "7" } as Record<string, string>)[
      name
    ];
  const fromEnv = resolveChannelPolicy({ table, env });
  assertEquals([fromEnv.auto, fromEnv.deposit, fromEnv.topUpDailyCap], [false, "7", "40"]);
});

Deno.test("channel policy: amounts in base units; percent thresholds follow the deposit", () => {
  const policy = resolveChannelPolicy({ table: { deposit: "50" }, env: noEnv });
  const amounts = channelPolicyAmounts(policy, 6);
  assertEquals(amounts.deposit, 50_000_000n);
  assertEquals(amounts.topUpBelow(50_000_000n), 5_000_000n);
  assertEquals(amounts.topUpBelow(100_000_000n), 10_000_000n);
  assertEquals(amounts.topUpAmount, 50_000_000n, "the deposit by default");
  assertEquals(amounts.topUpDailyCap, 50_000_000n);
  const fixed = channelPolicyAmounts({ ...policy, topUpBelow: "10" }, 6);
  assertEquals(fixed.topUpBelow(1n), 10_000_000n);
  assertEquals(scaleUnits("0.0043", 6), 4_300n);
  assertEquals(scaleUnits("12", 0), 12n);
});

Deno.test("channel policy: bad values name the key and its source", () => {
  const err = assertThrows(
    () => resolveChannelPolicy({ table: { deposit: "lots" }, env: noEnv, configFile: "/c.toml" }),
    ConfigError,
  );
  assertEquals(err.message.includes("channels.deposit"), true, err.message);
  assertThrows(() => resolveChannelPolicy({ table: { auto: "maybe" }, env: noEnv }), ConfigError);
  assertThrows(
    () => resolveChannelPolicy({ table: { topup_below: "10%%" }, env: noEnv }),
    ConfigError,
  );
});
