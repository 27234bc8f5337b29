/**
 * Following a job as a Mayor follows its polecats' (docs/AGENTS.md "Following any job",
 * docs/PROTOCOL.md "Heartbeat"): `job wait` on a job in flight reads it through the
 * profile's running node with no passphrase and no prompt; a provider SIGKILLed mid-job stops
 * beating, `providers` shows it offline once its heartbeat's window has passed, and the `waiting`
 * lines of its job say it is silent instead of `waiting for the result`.
 *
 * Real processes throughout: a town, the provider (`turnpike node up`, a scripted agent preset in
 * its config.toml that waits for a file), the requester's CLI and its background node.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";

/** The provider's heartbeat period (s), as an operator who wants liveness sets it: offline three periods after its last beat. */
const HEARTBEAT_S = 20;

Deno.test("followed job: job wait on a job in flight asks no passphrase and ends with it; a SIGKILLed provider is offline in providers after its heartbeat window, and its job's waiting lines say it is silent", async () => {
  // Waits for `go` beside it, then fixes add.
  const skills = await agentSkillsDir({
    "slow.sh": [
      `while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.1; done`,
      "set -e",
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
  });
  const go = `${skills}/agent-task/agents/go`;
  const net = await startRequesterNetwork({ provider: false });
  const state = `${net.root}/beta/state`;
  let provider: CliProcess | undefined;
  const followers: CliProcess[] = [];
  const home = `${net.root}/agent-home`;
  // The profile with no passphrase source at all: what a Mayor's shell has.
  const plain = (...args: string[]) =>
    runCli(["--profile", "alice", ...args], {
      env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" },
    });
  const follow = (id: string) => {
    const f = spawnCli(["--profile", "alice", "--json", "job", "wait", id], {
      env: { TURNPIKE_HOME: home },
    });
    followers.push(f);
    return f;
  };
  try {
    await Deno.mkdir(state, { recursive: true });
    await Deno.writeTextFile(`${net.root}/beta/pass`, "provider passphrase\n");
    await initWalletWithCli({ stateDir: state, passphraseFile: `${net.root}/beta/pass` });
    await Deno.writeTextFile(
      `${state}/config.toml`,
      [
        "[agents.slow]",
        `command = "sh ${skills}/agent-task/agents/slow.sh"`,
        "budget = 1000",
        'upstream = "http://127.0.0.1:9"',
        'api_key_env = "BETA_MODEL_KEY"',
        "",
      ].join("\n"),
    );
    provider = spawnCli([
      "--state-dir",
      state,
      "--output",
      "json",
      "node",
      "up",
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", "btp+ws://beta:b@"),
      "--btp-token",
      "b",
      "--relay-url",
      net.relayUrl,
      "--town-pubkey",
      net.town.pubkey,
      "--skills-dir",
      skills,
      "--passphrase-file",
      `${net.root}/beta/pass`,
      "--non-interactive",
      "--heartbeat",
      String(HEARTBEAT_S),
    ], { env: { BETA_MODEL_KEY: "sk-unused" } });
    const { pubkey, periodic } = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string; periodic: string };
    assert(periodic.startsWith(`heartbeat every ${HEARTBEAT_S} s`), periodic);
    console.log(`provider: ${periodic}`);
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
    const submit = async () => {
      const posted = await alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--title",
        "Fix add",
        "--accept",
        "sh test.sh",
        "--agent",
        "slow",
        "--bid",
        "1000000",
        "--provider",
        pubkey,
      );
      assertEquals(posted.code, 0, posted.stderr + posted.stdout);
      return String(posted.lines.find((l) => l.type === "job")!.id);
    };

    // 1. `job wait` on a job in flight, no passphrase anywhere: it follows the job (its waiting
    // lines come) and ends with it, exit 0.
    const first = await submit();
    const waiter = follow(first);
    await waiter.waitForLine((l) => l.includes('"type":"waiting"'));
    await Deno.writeTextFile(go, "");
    assertEquals((await waiter.done).code, 0, waiter.stderr.join("\n"));
    const end = JSON.parse(waiter.stdout().trim().split("\n").pop()!);
    assertEquals([end.type, end.status], ["result", "done"]);
    await Deno.remove(go);

    // 2. A provider SIGKILLed with a job at work: `providers` says it is offline once its last
    // heartbeat's window (three periods) has passed, and the job's waiting lines name it silent.
    const second = await submit();
    const watcher = follow(second);
    await watcher.waitForLine((l) => l.includes('"type":"waiting"') && l.includes('"result"'));
    provider.child.kill("SIGKILL");
    await provider.done;
    provider = undefined;
    const online = async () => {
      const out = await plain("--output", "json", "providers");
      const listed = JSON.parse(out.stdout.trim().split("\n").pop()!).providers as {
        pubkey: string;
        online: boolean;
      }[];
      return listed.find((p) => p.pubkey === pubkey)?.online;
    };
    let up = await online();
    // Polled for up to two windows (its last beat may be a period old, the town's answer a
    // moment late): a provider shown online for an hour is what this catches.
    const killedAt = Date.now();
    for (let i = 0; i < 4 * 3 * HEARTBEAT_S && up; i++) {
      await new Promise((r) => setTimeout(r, 500));
      up = await online();
    }
    assertEquals(up, false);
    console.log(
      `provider offline in providers ${
        Math.round((Date.now() - killedAt) / 1000)
      } s after its SIGKILL`,
    );
    const silent = JSON.parse(
      await watcher.waitForLine((l) => l.includes('"providerSilentS"')),
    );
    assertEquals([silent.type, silent.job, silent.provider], ["waiting", second, pubkey]);
    assert(silent.providerSilentS >= HEARTBEAT_S, JSON.stringify(silent));
    watcher.child.kill("SIGTERM");
    await watcher.done;
    assertEquals((await alice("job", "cancel", second)).code, 0);
  } finally {
    for (const f of followers) {
      try {
        f.child.kill("SIGTERM");
      } catch {
        // ended already
      }
      await f.done;
    }
    if (provider) {
      provider.child.kill("SIGTERM");
      await provider.done;
    }
    await plain("node", "stop");
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});
