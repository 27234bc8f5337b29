/**
 * The requester's settings resolved in config/requester_settings.ts: each of the `[requester]`
 * table, the environment and the flag wins over the one before it, and a bad value is a
 * ConfigError that names the setting.
 */
import { assertEquals, assertStringIncludes } from "../../../harness/assert.ts";
import { configErrorOf, loadedFromToml } from "../../support/config_file_kit.ts";
import {
  type RequesterFlags,
  resolveRequesterSettings,
} from "../../../config/requester_settings.ts";

const TOML = `[requester]
town_pubkey = "${"aa".repeat(32)}"
max_per_job = "100"
daily_cap = "1000"
allow_providers = "${"cc".repeat(32)}"
channel = "0x${"AB".repeat(32)}"
node_idle_timeout = 60
max_jobs = 20
max_jobs_target = 1.5
[channels]
watch_interval = 2
`;

async function settingsWith(
  toml: string,
  env: Record<string, string> = {},
  flags: RequesterFlags = {},
) {
  const loaded = await loadedFromToml(toml);
  return resolveRequesterSettings({ loaded, flags, env: (name) => env[name] });
}

Deno.test("requester settings: the file, then the environment, then the flag", async () => {
  const fromFile = await settingsWith(TOML);
  assertEquals(fromFile.townPubkey, "aa".repeat(32));
  assertEquals(fromFile.spendPolicy.perJobMax, 100n);
  assertEquals(fromFile.spendPolicy.dailyCap, 1000n);
  assertEquals(fromFile.spendPolicy.allowlist, ["cc".repeat(32)]);
  assertEquals(fromFile.channel, `0x${"ab".repeat(32)}`);
  assertEquals(fromFile.nodeIdleTimeoutS, 60);
  assertEquals(fromFile.maxJobs, 20);
  assertEquals(fromFile.maxJobsTargetMs, undefined, "a target without auto is not kept");
  assertEquals(fromFile.channelWatchIntervalMs, 2000);

  const env = {
    TURNPIKE_TOWN_PUBKEY: "bb".repeat(32),
    TURNPIKE_MAX_PER_JOB: "200",
    TURNPIKE_ALLOW_PROVIDERS: `${"dd".repeat(32)},${"ee".repeat(32)}`,
    TURNPIKE_NODE_IDLE_TIMEOUT: "90",
    TURNPIKE_MAX_JOBS: "auto",
    TURNPIKE_MAX_JOBS_TARGET: "0.8",
  };
  const fromEnv = await settingsWith(TOML, env);
  assertEquals(fromEnv.townPubkey, "bb".repeat(32));
  assertEquals(fromEnv.spendPolicy.perJobMax, 200n);
  assertEquals(fromEnv.spendPolicy.allowlist, ["dd".repeat(32), "ee".repeat(32)]);
  assertEquals(fromEnv.nodeIdleTimeoutS, 90);
  assertEquals(fromEnv.maxJobs, "auto");
  assertEquals(fromEnv.maxJobsTargetMs, 800);
  assertEquals(fromEnv.spendPolicy.dailyCap, 1000n);

  const fromFlags = await settingsWith(TOML, env, {
    townPubkey: "ff".repeat(32),
    maxPerJob: "300",
    allowProvider: ["11".repeat(32)],
    maxJobs: "none",
  });
  assertEquals(fromFlags.maxJobs, undefined, "none: no bound, over the file and the environment");
  assertEquals(fromFlags.townPubkey, "ff".repeat(32));
  assertEquals(fromFlags.spendPolicy.perJobMax, 300n);
  assertEquals(fromFlags.spendPolicy.allowlist, ["11".repeat(32)]);

  // Nothing given: the defaults.
  const defaults = await settingsWith("");
  assertEquals(defaults.townPubkey, undefined);
  assertEquals(defaults.nodeIdleTimeoutS, 300);
  assertEquals(defaults.maxJobs, undefined, "no bound by default");
  assertEquals(defaults.maxJobsTargetMs, undefined, "auto's own target (2 s) by default");
  assertEquals(defaults.channelWatchIntervalMs, 15_000);
  assertEquals(defaults.skillsDir.endsWith("/skills"), true);
});

Deno.test("requester settings: a bad value is a ConfigError naming the setting", async () => {
  const cases: [string, Record<string, string>, RequesterFlags, string, string][] = [
    ["", {}, { townPubkey: "AB" }, "townPubkey", "is not a 64-hex pubkey"],
    ["", {}, { maxPerJob: "-5" }, "spendPolicy.perJobMax", "max-per-job"],
    ["", { TURNPIKE_DAILY_CAP: "007" }, {}, "spendPolicy.dailyCap", "whole number"],
    ["", {}, { providerDailyCap: "x" }, "spendPolicy.perProviderDailyCap", "provider-daily-cap"],
    ["", {}, { allowProvider: ["zz"] }, "spendPolicy.allowlist", "allowed provider"],
    ["", {}, { channel: "0x12" }, "channel", "is not a channel id"],
    ["", {}, { channelPrepay: "1.5" }, "channelPrepay", "channel-prepay"],
    ["", {}, { maxJobs: "0" }, "maxJobs", "max_jobs must be a positive integer"],
    ["", { TURNPIKE_MAX_JOBS: "fast" }, {}, "maxJobs", "max_jobs"],
    [
      '[requester]\nmax_jobs = "auto"\nmax_jobs_target = 0\n',
      {},
      {},
      "maxJobsTargetMs",
      "max_jobs_target",
    ],
    [
      "",
      { TURNPIKE_MAX_JOBS: "auto", TURNPIKE_MAX_JOBS_TARGET: "2s" },
      {},
      "maxJobsTargetMs",
      "max_jobs_target",
    ],
    [
      "",
      { TURNPIKE_MAX_JOBS: "auto", TURNPIKE_MAX_JOBS_TARGET: "2000" },
      {},
      "maxJobsTargetMs",
      "max_jobs_target",
    ],
    ["[requester]\nnode_idle_timeout = 0\n", {}, {}, "nodeIdleTimeoutS", "node_idle_timeout"],
    ["[alerts]\nwebhook = 5\n", {}, {}, "alertWebhook", "webhook must be a URL"],
  ];
  for (const [toml, env, flags, key, text] of cases) {
    const err = await configErrorOf(settingsWith(toml, env, flags), key);
    assertEquals(err.key, key, err.message);
    assertStringIncludes(err.message, text);
  }
});
