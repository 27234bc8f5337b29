/**
 * `[town] publish_trust` (config/town_trust_publish.ts) through the town's settings resolution:
 * its environment variable, its interval, and the ceiling it needs.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveTownSettings } from "../../../config/town_settings.ts";
import { ConfigError } from "../../../config/config_error.ts";

const resolve = async (toml: string, env: Record<string, string> = {}) => {
  const stateDir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${stateDir}/config.toml`, toml);
  try {
    const loaded = await loadSettings({ flags: { stateDir }, env: (n) => env[n] });
    return () => resolveTownSettings({ loaded, env: (n) => env[n] });
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
};

Deno.test("publish_trust: off by default, on by its key or TURNPIKE_TOWN_PUBLISH_TRUST, every 600 s unless told, and refused without peer_credit_ceiling", async () => {
  const ceiling = `[town]\npeer_credit_limit = "5000"\npeer_credit_ceiling = "20000"\n`;
  assertEquals((await resolve(ceiling))().trustPublish, undefined);
  assertEquals((await resolve(`${ceiling}publish_trust = true\n`))().trustPublish, {
    intervalMs: 600_000,
  });
  const byEnv = await resolve(ceiling, {
    TURNPIKE_TOWN_PUBLISH_TRUST: "true",
    TURNPIKE_TOWN_PUBLISH_TRUST_INTERVAL: "30",
  });
  assertEquals(byEnv().trustPublish, { intervalMs: 30_000 });
  const noCeiling = await resolve(`[town]\npeer_credit_limit = "5000"\npublish_trust = true\n`);
  assertThrows(noCeiling, ConfigError, "needs peer_credit_ceiling");
  const withKey = await resolve(
    `${ceiling}[[town.peers]]\naccount = "child"\ntoken = "t"\npubkey = "${"ab".repeat(32)}"\n`,
  );
  assertEquals(withKey().peers[0].pubkey, "ab".repeat(32));
});
