/**
 * `node up` reads the unpaid pool's limits like its other settings: flag > environment >
 * `[provider]` in config.toml. A bad value is a usage error (exit 2) naming the flag, before
 * anything connects; these runs stop there, so no town is needed.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";

const TOWN_PUBKEY = "ab".repeat(32);

async function nodeUp(stateDir: string, args: string[], env: Record<string, string> = {}) {
  return await runCli(
    ["--state-dir", stateDir, "node", "up", "--town-pubkey", TOWN_PUBKEY, ...args],
    { env },
  );
}

Deno.test("node up: the unpaid pool's settings come from flags, environment and config.toml", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "node_unpaid_flags_" });
  try {
    const byFlag = await nodeUp(stateDir, ["--max-unpaid", "0"]);
    assertEquals(byFlag.code, 2, byFlag.stderr);
    assertStringIncludes(byFlag.stderr, "--max-unpaid must be a positive integer");

    const byEnv = await nodeUp(stateDir, [], { TURNPIKE_PROVIDER_UNPAID_GRACE: "soon" });
    assertEquals(byEnv.code, 2, byEnv.stderr);
    assertStringIncludes(byEnv.stderr, '--unpaid-grace must be a positive integer, got "soon"');

    await Deno.writeTextFile(
      `${stateDir}/config.toml`,
      "[provider]\nmax_unpaid_per_requester = -1\n",
    );
    const byConfig = await nodeUp(stateDir, []);
    assertEquals(byConfig.code, 2, byConfig.stderr);
    assertStringIncludes(byConfig.stderr, "--max-unpaid-per-requester must be a positive integer");

    // The flag wins over the config file: a valid flag value gets past this check.
    const flagWins = await nodeUp(stateDir, ["--max-unpaid-per-requester", "3"], {
      TURNPIKE_PROVIDER_UNPAID_GRACE: "soon",
    });
    assertStringIncludes(flagWins.stderr, "--unpaid-grace must be a positive integer");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
