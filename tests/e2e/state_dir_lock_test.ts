/**
 * One long-running role per state dir, with real `turnpike` processes: a second `town up`,
 * `node up` or `requester` on a state dir a running one holds exits 1 naming the first's pid
 * (and leaves its files alone: `node status` still shows the first provider); short-lived
 * commands work beside it; after a SIGKILL of the holder a new one starts at once. And the exit
 * codes of `node status` with and without a running provider.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { type CliResult, initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { withTempDir } from "../support/temp_dir.ts";
import {
  makeSkillsDir,
  PROVIDER_TOKEN,
  REQUESTER_TOKEN,
  startProviderTestTown,
} from "../../harness/provider_test_kit.ts";

/**
 * Runs a second role that should be refused. Should it start instead (the bug), it fails the
 * test as soon as it prints `ready`, rather than running on and hanging the test.
 */
async function runSecond(args: string[], ready: (line: string) => boolean): Promise<CliResult> {
  const proc = spawnCli(args);
  const started = await Promise.race([
    proc.waitForLine(ready).then(() => true, () => false),
    proc.done.then(() => false),
  ]);
  if (started) {
    await kill(proc);
    throw new Error(`turnpike ${args.join(" ")} started beside the first one`);
  }
  const status = await proc.done;
  return {
    code: status.code,
    stdout: proc.stdout(),
    stderr: proc.stderr.map((l) => `${l}\n`).join(""),
  };
}

/** Asserts that `res` is the refusal of a state dir held by `pid` running `role`. */
function assertRefused(res: CliResult, stateDir: string, pid: number, role: string): void {
  assertEquals(res.code, 1, res.stderr);
  assertStringIncludes(res.stderr, `Error: state dir in use by pid ${pid} (${stateDir})\n`);
  // The profile's node is stopped by `node stop` (a background one was never typed by the user).
  const stop = role === "town up"
    ? `stop the \`turnpike ${role}\` (kill ${pid})`
    : `stop the profile's node (\`turnpike --state-dir ${stateDir} node stop\`, or kill ${pid})`;
  assertStringIncludes(
    res.stderr,
    `Suggestion: ${stop} first, or pass another --profile or --state-dir\n`,
  );
}

/** SIGKILLs `proc` if it still runs and waits for it (cleanup after a failed assertion). */
async function kill(proc: CliProcess | undefined): Promise<void> {
  if (proc === undefined) return;
  try {
    proc.child.kill("SIGKILL");
  } catch {
    // already exited
  }
  await proc.done;
}

/** Stops `proc` the way a user does (SIGINT) and asserts it exited cleanly. */
async function stop(proc: CliProcess): Promise<void> {
  proc.child.kill("SIGINT");
  assertEquals((await proc.done).code, 0, proc.stderr.join("\n"));
}

async function gitLsFiles(dir: string): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, "ls-files"] }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("state dir lock: a second town up, node up or requester on a running town's state dir exits 1; after SIGKILL a town starts again", async () => {
  await withTempDir(async (dir) => {
    const townUp = [
      "--state-dir",
      dir,
      "town",
      "up",
      "--generate-key",
      "--town-port",
      "0",
      "--btp-port",
      "0",
    ];
    const townReady = (l: string) => l.includes("identity");
    let town: CliProcess | undefined = spawnCli(townUp);
    try {
      await town.waitForLine(townReady);
      const pid = town.child.pid;
      assertRefused(await runSecond(townUp, townReady), dir, pid, "town up");
      // The other long-running roles are turned away too, before they prompt or connect.
      assertRefused(
        await runSecond([
          "--state-dir",
          dir,
          "node",
          "up",
          "--generate-key",
          "--town-pubkey",
          "ab".repeat(32),
        ], (l) => l.startsWith("provider up")),
        dir,
        pid,
        "town up",
      );
      assertRefused(
        await runSecond(
          ["--state-dir", dir, "requester", "--non-interactive"],
          (l) => l.startsWith("requester up"),
        ),
        dir,
        pid,
        "town up",
      );
      town.child.kill("SIGKILL");
      await town.done;
      // The kernel dropped the lock with the process: the next town starts at once.
      town = spawnCli(townUp);
      await town.waitForLine(townReady);
      assertEquals(await Deno.readTextFile(`${dir}/node.lock`), `${town.child.pid}\ntown up\n`);
      await stop(town);
      town = undefined;
    } finally {
      await kill(town);
    }
  });
});

Deno.test("state dir lock: a second node up exits 1 and leaves the first's status; node status exits 1 when no provider runs", async () => {
  const root = await Deno.makeTempDir({ prefix: "state_dir_lock_node_" });
  const state = `${root}/state`;
  const town = await startProviderTestTown();
  const nodeUp = [
    "--state-dir",
    state,
    "--output",
    "json",
    "node",
    "up",
    "--generate-key",
    "--connector-btp-url",
    `btp+ws://127.0.0.1:${town.btpPort}`,
    "--btp-token",
    PROVIDER_TOKEN,
    "--relay-url",
    `ws://127.0.0.1:${town.httpPort}`,
    "--town-pubkey",
    town.pubkey,
    "--skills-dir",
    `${root}/skills`,
  ];
  const status = (output = "text") =>
    runCli(["--state-dir", state, "--output", output, "node", "status"]);
  const statusJson = async (code: number) => {
    const res = await status("json");
    assertEquals(res.code, code, res.stderr);
    const lines = res.stdout.trim().split("\n");
    assertEquals(lines.length, 1, "one JSON object on stdout");
    return JSON.parse(lines[0]);
  };
  const nodeReady = (l: string) => l.startsWith("{") && l.includes('"node-up"');
  let node: CliProcess | undefined;
  try {
    await makeSkillsDir(root, ["echo"]);
    const never = await status();
    assertEquals(never.code, 1);
    assertStringIncludes(never.stderr, "Error: no node is running on this state dir");

    node = spawnCli(nodeUp);
    await node.waitForLine(nodeReady);
    const first = node.child.pid;
    assertEquals((await statusJson(0)).pid, first);
    assertRefused(await runSecond(nodeUp, nodeReady), state, first, "node up");
    // The refused one wrote nothing: the running provider is still the one reported.
    const view = await statusJson(0);
    assertEquals([view.pid, view.alive, view.state], [first, true, "serving"]);
    const running = await status();
    assertEquals(running.code, 0, running.stderr);
    assertMatch(running.stdout, new RegExp(`^provider running \\(pid ${first}, serving\\)$`, "m"));

    node.child.kill("SIGKILL");
    await node.done;
    const killed = await status();
    assertEquals(killed.code, 1);
    assertMatch(
      killed.stdout,
      new RegExp(
        `^provider not running: pid ${first} exited without stopping, last seen \\S+`,
        "m",
      ),
    );
    assertStringIncludes(killed.stdout, "  earned      ", "the last known status is shown");
    assertStringIncludes(
      killed.stderr,
      `Error: no provider is running on this state dir (${state})\n` +
        "Suggestion: start one with `turnpike node up`",
    );
    assertEquals((await statusJson(1)).alive, false);

    node = spawnCli(nodeUp);
    await node.waitForLine(nodeReady);
    const second = node.child.pid;
    assertEquals((await statusJson(0)).pid, second);
    node.child.kill("SIGTERM");
    assertEquals((await node.done).code, 0, node.stderr.join("\n"));
    node = undefined;
    const stopped = await status();
    assertEquals(stopped.code, 1);
    assertMatch(
      stopped.stdout,
      new RegExp(`^provider not running: stopped at \\S+ \\(pid ${second}\\)$`, "m"),
    );
    const last = await statusJson(1);
    assertEquals([last.pid, last.alive, last.state], [second, false, "stopped"]);
    assert(!(await gitLsFiles(state)).includes("node.lock"), "the lock is not in the history");
  } finally {
    await kill(node);
    await town.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("state dir lock: a second requester exits 1 while job submit and job list work beside the first; after SIGKILL one starts again", async () => {
  const root = await Deno.makeTempDir({ prefix: "state_dir_lock_requester_" });
  const state = `${root}/state`;
  const town = await startProviderTestTown();
  const connection = [
    "--relay-url",
    `ws://127.0.0.1:${town.httpPort}`,
    "--connector-btp-url",
    `btp+ws://127.0.0.1:${town.btpPort}`,
    "--btp-token",
    REQUESTER_TOKEN,
    "--town-pubkey",
    town.pubkey,
    "--passphrase-file",
    `${root}/pass`,
    "--non-interactive",
  ];
  const requester = ["--state-dir", state, "requester", ...connection];
  const requesterReady = (l: string) => l.startsWith("requester up");
  let req: CliProcess | undefined;
  try {
    await Deno.writeTextFile(`${root}/pass`, "state dir lock test\n");
    await initWalletWithCli({ stateDir: state, passphraseFile: `${root}/pass` });
    req = spawnCli(requester);
    await req.waitForLine(requesterReady);
    const first = req.child.pid;
    assertRefused(await runSecond(requester, requesterReady), state, first, "requester");

    // `job prune` needs the state dir to itself: it names the command that stops the node.
    assertRefused(
      await runCli(["--state-dir", state, "job", "prune", "--older-than", "30d", "--yes"]),
      state,
      first,
      "requester",
    );

    // Short-lived commands do not take the lock.
    const submit = await runCli([
      "--state-dir",
      state,
      "job",
      "submit",
      "echo",
      "--input",
      "text:beside the requester",
      "--force",
      "--bid",
      "100000",
      ...connection,
    ]);
    assertEquals(submit.code, 0, submit.stderr);
    const jobId = submit.stdout.match(/^job ([0-9a-f]{64}) sent$/m)?.[1];
    assert(jobId !== undefined, submit.stdout);
    const list = await runCli(["--state-dir", state, "--output", "csv", "job", "list"]);
    assertEquals(list.code, 0, list.stderr);
    assertStringIncludes(list.stdout, jobId);

    req.child.kill("SIGKILL");
    await req.done;
    req = spawnCli(requester);
    const up = await req.waitForLine(requesterReady);
    assertStringIncludes(up, "following 1 job(s)", "the job submitted beside the first one");
    assertEquals(await Deno.readTextFile(`${state}/node.lock`), `${req.child.pid}\nrequester\n`);
    await stop(req);
    req = undefined;
    const tracked = await gitLsFiles(state);
    assertStringIncludes(tracked, `jobs/${jobId}.toml`);
    assert(!tracked.includes("node.lock"), tracked);
  } finally {
    await kill(req);
    await town.stop();
    await Deno.remove(root, { recursive: true });
  }
});
