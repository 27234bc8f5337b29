/**
 * What an agent following docs/AGENTS.md reads on a job's lines and around them, driven as an
 * agent drives the CLI (each command its own `turnpike --profile alice --json ...` process, stdout
 * parsed line by line, exit codes checked), against a town and the real provider node running
 * the built-in skills (harness/requester_network.ts), with a profile made the usual way
 * (a wallet, `config.toml` with `role = "requester"`):
 *
 * - a ci-run of a failing project ends `done` with exit 3; `job list` and `job status` give its
 *   `verdict` (`failed`), and give none for an echo job;
 * - the `job` line names the result's local skill `callback` (absent without one), not `skill`;
 * - `job results --save` writes ci-run's log (`ci.log`) although the log was short enough to
 *   come inline in the report, not as a blob;
 * - once the profile's node has stopped for idleness, `node status` says it is not running:
 *   `{"type":"node","running":false}`, exit 0.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork, writeRecordingSkill } from "../../harness/requester_network.ts";
import { agentCli } from "../../harness/agent_cli.ts";

const FAILING = new URL("../../fixtures/projects/failing", import.meta.url).pathname;

Deno.test("agent job lines: a failed ci-run's verdict in job list/status, its short log saved by results --save, callback named; node status after an idle stop exits 0", async () => {
  const net = await startRequesterNetwork();
  try {
    const home = `${net.root}/agent-home`;
    const state = `${home}/alice`;
    await Deno.mkdir(state, { recursive: true });
    await Deno.writeTextFile(`${home}/pw`, "agent passphrase\n");
    await initWalletWithCli({ stateDir: state, passphraseFile: `${home}/pw` });
    await Deno.writeTextFile(
      `${state}/config.toml`,
      `role = "requester"\nrelay_url = "${net.relayUrl}"\n` +
        `connector_btp_url = "${net.btpUrl}"\nbtp_token = "agent"\n`,
    );
    await writeRecordingSkill(state);
    // The profile's node stops 1 s after its last job and command.
    const env = { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "1" };
    const alice = agentCli({
      profile: "alice",
      env,
      secret: ["--passphrase-file", `${home}/pw`, "--non-interactive"],
    });

    const ci = await alice(
      "job",
      "submit",
      "ci-run",
      "--dir",
      FAILING,
      "--param",
      "cmd=sh test.sh",
      "--bid",
      "100000",
      "--wait",
    );
    assertEquals(ci.code, 3, ci.stderr);
    const ciResult = ci.lines.find((l) => l.type === "result")!;
    assertEquals([ciResult.status, ciResult.verdict], ["done", "failed"]);
    const ciId = String(ciResult.job);
    // The log was short: in the report whole, no blob of it.
    assertEquals(ciResult.artifacts, []);

    const echo = await alice(
      "job",
      "submit",
      "echo",
      "--input",
      "text:hi",
      "--bid",
      "100000",
      "--skill",
      "record",
      "--wait",
    );
    assertEquals(echo.code, 0, echo.stderr);
    const echoId = String(echo.lines.find((l) => l.type === "result")!.job);

    const listed = await alice("job", "list");
    assertEquals(listed.code, 0, listed.stderr);
    const byId = new Map(listed.lines.map((l) => [String(l.id), l]));
    const ciLine = byId.get(ciId)!;
    const echoLine = byId.get(echoId)!;
    assertEquals([ciLine.type, ciLine.status, ciLine.verdict], ["job", "done", "failed"]);
    assertEquals([echoLine.status, "verdict" in echoLine], ["done", false], "echo: no verdict");
    // The callback skill is `callback`; none: absent. No `skill` key to read as the provider's.
    assertEquals([echoLine.callback, "skill" in echoLine], ["record", false]);
    assertEquals(["callback" in ciLine, "skill" in ciLine], [false, false]);

    const status = await alice("job", "status", ciId.slice(0, 12));
    assertEquals(status.code, 0, status.stderr);
    assertEquals(status.lines.length, 1, status.stdout);
    assertEquals([status.lines[0].type, status.lines[0].verdict], ["job", "failed"]);

    const out = `${net.root}/turnpike-out`;
    const saved = await alice("job", "results", ciId, "--save", out);
    assertEquals(saved.code, 0, saved.stderr);
    const line = saved.lines[0];
    assertEquals(line.type, "result");
    assertEquals(line.saved, [{ name: "ci.log", path: `${out}/ci.log`, from: "report" }]);
    const log = await Deno.readTextFile(`${out}/ci.log`);
    assertStringIncludes(log, "not ok - ");
    assertStringIncludes(log, "1 passed, 2 failed");
    assertEquals(
      new TextEncoder().encode(log).length,
      (line.report as { logBytes: number }).logBytes,
    );

    // Nothing in flight: the node stops for idleness. Asked until it says so.
    let node = (await alice("node", "status")).lines[0];
    while (node.type === "node" && node.running === true) {
      await new Promise((r) => setTimeout(r, 200));
      node = (await alice("node", "status")).lines[0];
    }
    const stopped = await alice("node", "status");
    assertEquals(stopped.code, 0, stopped.stderr);
    assertEquals(stopped.lines, [{ type: "node", running: false, role: "requester" }]);
    assertStringIncludes(await Deno.readTextFile(`${state}/node.log`), "stopping (idle)");
    assert(!stopped.stderr.includes("Error"), stopped.stderr);
  } finally {
    await net.stop();
  }
});
