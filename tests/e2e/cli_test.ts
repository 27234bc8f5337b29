import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { startTestTown } from "../../harness/town_test_node.ts";

Deno.test("turnpike --help lists every command group of the design", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assertEquals(code, 0);
  for (
    const group of [
      ...["demo", "job", "node", "town", "wallet", "channel", "relay", "stats", "dash"],
      ...["export", "doctor", "stage", "completions", "requester", "providers", "dm", "skill"],
    ]
  ) {
    assertMatch(stdout, new RegExp(`^  ${group}\\b`, "m"), `missing group ${group}`);
  }
});

Deno.test("an unknown command is a usage error (exit 2)", async () => {
  const { code, stderr } = await runCli(["jbo"]);
  assertEquals(code, 2);
  assertStringIncludes(stderr, "unknown command");
});

Deno.test("turnpike stage kind-extractor reads piped TOON and writes JSON lines", async () => {
  const corpus = await Deno.readTextFile(new URL("../../fixtures/corpus.toon", import.meta.url));
  const { code, stdout, stderr } = await runCli(["stage", "kind-extractor"], { stdin: corpus });
  assertEquals(code, 0, stderr);
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
  const records = corpus.split(/\n\s*\n/).filter((r) => r.trim() !== "");
  assertEquals(lines.length, records.length);
  assert(lines.every((l) => l.type === "summary"), "every corpus record is a valid event");
});

Deno.test("turnpike stage with an unknown name is a usage error listing the stages", async () => {
  const { code, stderr } = await runCli(["stage", "no-such-stage"]);
  assertEquals(code, 2);
  assertMatch(stderr, /^Error: .*no-such-stage/m);
  assertStringIncludes(stderr, "turnpike stage list");
});

Deno.test("turnpike completions bash prints a completion script", async () => {
  const { code, stdout } = await runCli(["completions", "bash"]);
  assertEquals(code, 0);
  assertStringIncludes(stdout, "bash completion for turnpike");
  const bad = await runCli(["completions", "tcsh"]);
  assertEquals(bad.code, 2);
});

Deno.test("relay status, stats and export against a real town and a fresh state dir", async () => {
  const town = await startTestTown();
  const dir = await Deno.makeTempDir();
  try {
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const status = await runCli(["--output", "json", "relay", "status", "--relay-url", relayUrl]);
    assertEquals(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout);
    assertEquals(report.self, town.pubkey);
    assert(report.roundTripMs >= 0);
    const down = await runCli([
      "relay",
      "status",
      "--relay-url",
      "ws://127.0.0.1:9",
      "--timeout",
      "500",
    ]);
    assertEquals(down.code, 1);
    assertMatch(down.stderr, /^Error: the relay does not answer/m);

    const missing = await runCli(["--state-dir", `${dir}/nope`, "stats"]);
    assertEquals(missing.code, 1);
    assertMatch(missing.stderr, /^Error: no state directory/m);
    await Deno.mkdir(`${dir}/state`);
    const stats = await runCli(["--state-dir", `${dir}/state`, "--output", "json", "stats"]);
    assertEquals(stats.code, 0, stats.stderr);
    assertEquals(JSON.parse(stats.stdout).books, []);
    const csv = await runCli(["--state-dir", `${dir}/state`, "export"]);
    assertEquals(csv.code, 0, csv.stderr);
    assertMatch(csv.stdout, /^ts,direction,event,/);
  } finally {
    await town.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
