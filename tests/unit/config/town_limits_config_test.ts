/**
 * The town's limits through its config resolution: `[town.limits]` in config.toml, the
 * `TURNPIKE_TOWN_LIMIT_*` environment (which wins), unknown names and bad values refused, and
 * the resolved limits in NIP-11 `limitation`.
 */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveTownSettings } from "../../../config/town_settings.ts";
import { ConfigError } from "../../../config/config_error.ts";
import {
  channelLearnBudget,
  DEFAULT_TOWN_LIMITS,
  resolveTownLimits,
} from "../../../config/town_limits.ts";
import { buildNip11Document } from "../../../roles/town/relay/nip11_document.ts";

async function configWith(toml: string, env: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "town_limits_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
    return resolveTownSettings({ loaded, env: (name) => env[name], envNames: Object.keys(env) });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("town limits: [town.limits] and TURNPIKE_TOWN_LIMIT_* override the defaults", async () => {
  const config = await configWith(
    "[town.limits]\nmax_connections_per_address = 8\ncreated_at_max_future_seconds = 60\n",
    { TURNPIKE_TOWN_LIMIT_MAX_CONNECTIONS_PER_ADDRESS: "4" },
  );
  assertEquals(config.limits, { maxConnectionsPerAddress: 4, createdAtMaxFutureSeconds: 60 });
  const limits = resolveTownLimits(config.limits);
  assertEquals(limits.spspTotalPerMinute, DEFAULT_TOWN_LIMITS.spspTotalPerMinute);
  const nip11 = buildNip11Document({}, limits).limitation as Record<string, unknown>;
  assertEquals(nip11.created_at_upper_limit, 60);
  assertEquals(nip11.created_at_lower_limit, 365 * 24 * 3600);
  assertEquals(nip11.max_connections_per_address, 4);
});

Deno.test("town limits: an unknown name or a value that is not positive is refused", async () => {
  await assertRejects(
    () => configWith("[town.limits]\nmax_conections = 8\n"),
    ConfigError,
    "unknown limit town.limits.max_conections",
  );
  await assertRejects(
    () => configWith("[town.limits]\nmax_queued_bytes = 0\n"),
    ConfigError,
    "limit max_queued_bytes must be a positive number",
  );
  await assertRejects(
    () => configWith("", { TURNPIKE_TOWN_LIMIT_MAX_CONNECTIONS: "x" }),
    ConfigError,
    "limit max_connections must be a positive number",
  );
  // A misspelled variable is refused like a misspelled key, not silently ignored.
  await assertRejects(
    () => configWith("", { TURNPIKE_TOWN_LIMIT_MAX_CONECTIONS_PER_ADDRESS: "4" }),
    ConfigError,
    "unknown limit variable TURNPIKE_TOWN_LIMIT_MAX_CONECTIONS_PER_ADDRESS",
  );
});

Deno.test("town limits: channel_learn_* set the town's budget of chain reads for new channels", async () => {
  assertEquals(channelLearnBudget(), { capacity: 10, ratePerSecond: 1 });
  const config = await configWith(
    "[town.limits]\nchannel_learn_per_second = 10\n",
    { TURNPIKE_TOWN_LIMIT_CHANNEL_LEARN_BURST: "200" },
  );
  assertEquals(channelLearnBudget(config.limits), { capacity: 200, ratePerSecond: 10 });
  await assertRejects(
    () => configWith("[town.limits]\nchannel_learn_per_second = 0\n"),
    ConfigError,
    "channel_learn_per_second",
  );
});
