/**
 * `node up` holds the town's price per byte (what it publishes in NIP-11) against the ceiling as
 * `job submit` does: a real town asking 500 per byte is refused at the default ceiling of 100,
 * before the wallet is unlocked or anything is paid; `--price-ceiling` or `--accept-price` let it
 * through (the run then stops at the missing wallet, past the check).
 */
import { assertEquals, assertMatch } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { startTestTown } from "../../harness/town_test_node.ts";

Deno.test("node up: a town price above the ceiling is refused unless accepted", async () => {
  const town = await startTestTown({ pricing: { pricePerByte: 500n } });
  const stateDir = await Deno.makeTempDir({ prefix: "node_ceiling_" });
  const up = (...extra: string[]) =>
    runCli([
      "--state-dir",
      stateDir,
      "node",
      "up",
      "--relay-url",
      `ws://127.0.0.1:${town.httpPort}`,
      "--town-pubkey",
      "ab".repeat(32),
      "--non-interactive",
      ...extra,
    ]);
  try {
    const refused = await up();
    assertEquals(refused.code, 1, refused.stderr);
    assertMatch(
      refused.stderr,
      /^Error: the town's price per byte \(500\) is above the ceiling \(100\) \(price_ceiling\)$/m,
    );
    assertMatch(refused.stderr, /^Suggestion: pass --accept-price/m);
    for (const flags of [["--price-ceiling", "1000"], ["--accept-price"]]) {
      const past = await up(...flags);
      // Past the price check: it stops at the next step, the wallet this state dir lacks.
      assertMatch(past.stderr, /wallet/i, past.stderr);
      assertEquals(/price per byte/.test(past.stderr), flags[0] === "--accept-price");
    }
  } finally {
    await town.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});
