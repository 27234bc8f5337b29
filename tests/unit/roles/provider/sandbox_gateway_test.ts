import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  parseSkillManifest,
  type SkillManifest,
} from "../../../../roles/provider/skills/skill_manifest.ts";
import type {
  SkillOutcome,
  SkillSandbox,
} from "../../../../roles/provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../../../../roles/provider/sandbox/sandbox_probe.ts";
import {
  type AgentGateway,
  startAgentGateway,
} from "../../../../roles/agent_work/provider/agent_gateway.ts";
import type { GatewaySpend } from "../../../../roles/agent_work/provider/gateway_ledger.ts";
import { SkillJobError } from "../../../../roles/provider/sandbox/skill_sandbox_errors.ts";
import { SANDBOX_GATEWAY_SOCKET } from "../../../../roles/provider/sandbox/sandbox_gateway.ts";
import { closeTestSandboxes, testSandbox } from "../../../support/pooled_sandbox.ts";
import {
  type StandInModelApi,
  startStandInModelApi,
} from "../../../../harness/stand_in_model_api.ts";
import { denoTestAsNobody } from "../../../support/unprivileged_run.ts";

// A real sandbox, a real gateway on a Unix socket, a stand-in model API on the host's loopback,
// and curl inside the job. This file runs in the mode its user gets (root when the suite runs as
// root), then once more as nobody (rootless) through the last test.
const MODE: SandboxMode = Deno.uid() === 0 ? "root" : "rootless";
const KEY = "sk-provider-SECRET-0123456789";
/** The key as the skills write it: never the literal, so a search for it cannot find itself. */
const KEY_IN_SHELL = `"sk-provider-""SECRET-0123456789"`;
/** A port inside the job's namespace. */
const PORT = 8089;
const text = (o: SkillOutcome) => new TextDecoder().decode(o.stdout);

interface World {
  root: string;
  api: StandInModelApi;
  gateway: AgentGateway;
  sandbox: SkillSandbox;
  budgetReached: GatewaySpend[];
  skill(name: string, script: string, meta?: string): Promise<[string, SkillManifest]>;
}

async function withWorld(
  budget: bigint,
  onBudget: (spend: GatewaySpend) => void,
  fn: (w: World) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir();
  await Deno.chmod(root, 0o755);
  const state = `${root}/state`;
  await Deno.mkdir(`${state}/gateways`, { recursive: true, mode: 0o700 });
  await using api = await startStandInModelApi({ apiKey: KEY });
  const budgetReached: GatewaySpend[] = [];
  await using gateway = await startAgentGateway({
    socketPath: `${state}/gateways/j.sock`,
    upstream: api.url,
    flavor: "anthropic",
    apiKey: KEY,
    // 1 unit per input token, 5 per output token: a stand-in call (1000 in, 200 out) is 2000.
    prices: { inputPerMillion: 1_000_000n, outputPerMillion: 5_000_000n },
    budget,
    onBudgetReached: (s) => {
      budgetReached.push(s);
      onBudget(s);
    },
  });
  const sandbox = await testSandbox({
    jobsRoot: `${state}/jobs`,
    hiddenPaths: [state],
    mode: MODE,
    allowNetwork: true,
  });
  try {
    await fn({
      root,
      api,
      gateway,
      sandbox,
      budgetReached,
      async skill(name, script, meta = "") {
        const dir = `${root}/skills/${name}`;
        await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
        await Deno.chmod(`${root}/skills`, 0o755);
        await Deno.chmod(dir, 0o755);
        const md =
          `---\nname: ${name}\ndescription: t\nmetadata:\n  kinds: [5000]\n  timeout: 120\n${meta}---\n`;
        await Deno.writeTextFile(`${dir}/SKILL.md`, md);
        await Deno.writeTextFile(`${dir}/run`, script, { mode: 0o755 });
        return [dir, parseSkillManifest(md)];
      },
    });
  } finally {
    await closeTestSandboxes();
    await gateway.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** curl's POST of a small Messages call to the gateway; prints `<label> <status>`. */
const post = (label: string, path: string, extra = "") =>
  `curl -sS -X POST -H 'content-type: application/json' -H 'x-api-key: agent-made-up' ` +
  `-d '{"model":"m","max_tokens":5,"messages":[]${extra}}' -o ${label}.out ` +
  `-w '${label} %{http_code}\\n' "$ANTHROPIC_BASE_URL${path}"`;

Deno.test(`model gateway in the sandbox (${MODE}): the job reaches the model API only through the gateway, which adds the key`, async () => {
  await withWorld(1_000_000n, () => {}, async ({ api, gateway, sandbox, skill, root }) => {
    const script = `#!/bin/bash
echo "anthropic $ANTHROPIC_BASE_URL"
echo "openai $OPENAI_BASE_URL"
${post("messages", "/v1/messages")}
${post("stream", "/v1/messages", ',"stream":true')}
grep -c '^event: message_delta' stream.out | sed 's/^/stream-deltas /'
${post("files", "/v1/files")}
curl -sS -o /dev/null "http://127.0.0.1:${api.port}/v1/messages" 2>/dev/null; echo "stand-in-direct $?"
curl -sS -o /dev/null http://1.1.1.1/ 2>/dev/null; echo "elsewhere $?"
key=${KEY_IN_SHELL}
# The key in no process's environment or command line (the relay's too), in no file the job
# can reach but the host's system dirs. The pattern comes by a pipe: on no command line.
found=$(cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' |
  grep -cF -f <(printf '%s\\n' "$key"))
echo "key-in-processes $found"
files=$(grep -rlsF -f <(printf '%s\\n' "$key") /tmp /var/tmp /run /opt /dev/shm "$HOME" | wc -l)
echo "key-in-files $files"
# The relay: the compiled setup's (--relay-gateway) or, set up by the shell, the forwarder (the
# brackets keep grep's own command line out).
echo "relays $(grep -lE 'forwarder[.]js|--relay[-]gateway' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"
# Its user and privileges, as the job sees them: the job's user, no capability, no new ones.
relay=$(grep -lE 'forwarder[.]js|--relay[-]gateway' /proc/[0-9]*/cmdline 2>/dev/null | head -1)
grep -E '^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs)' "\${relay%/cmdline}/status" | tr -s '\t ' '  '
`;
    const [dir, manifest] = await skill("agent", script);
    const o = await sandbox.run({
      jobId: "agent1",
      skillDir: dir,
      manifest,
      input: "",
      gateway: { socketPath: gateway.socketPath, port: PORT },
    });
    assertEquals(o.status, "ok", `${o.reason}\n${o.stderrTail}`);
    const lines = text(o).trim().split("\n");
    assertEquals(lines, [
      `anthropic http://127.0.0.1:${PORT}`,
      `openai http://127.0.0.1:${PORT}/v1`,
      "messages 200",
      "stream 200",
      "stream-deltas 1",
      "files 403",
      "stand-in-direct 7", // curl: could not connect (nothing listens on the job's loopback)
      "elsewhere 7", // no route out of the job's network namespace
      "key-in-processes 0",
      "key-in-files 0",
      "relays 1",
      "Uid: 65534 65534 65534 65534",
      "CapPrm: 0000000000000000",
      "CapEff: 0000000000000000",
      "CapBnd: 0000000000000000",
      "NoNewPrivs: 1",
    ]);
    // The stand-in saw the two model calls and nothing else, each with the provider's key.
    assertEquals(api.seen.map((s) => [s.target, s.headers["x-api-key"]]), [
      ["/v1/messages", KEY],
      ["/v1/messages", KEY],
    ]);
    const spend = gateway.spend();
    assertEquals(
      [spend.calls, spend.inputTokens, spend.outputTokens, spend.cost],
      [2, 2000, 400, 4000n],
    );
    assertEquals(
      gateway.refusals().map((r) => [r.code, r.status, r.method, r.target]),
      [["forbidden", 403, "POST", "/v1/files"]],
    );
    // Nor in anything the job left in its work dir.
    for await (const e of Deno.readDir(o.workDir)) {
      if (e.isFile) {
        const body = await Deno.readTextFile(`${o.workDir}/${e.name}`);
        assert(!body.includes(KEY), e.name);
      }
    }
    assert(!o.stderrTail.includes(KEY));
    assert(root !== "");
  });
});

Deno.test(`model gateway in the sandbox (${MODE}): the budget stops the job, and a job on a spent gateway gets 402`, async () => {
  const stop = new AbortController();
  // One call (2000) reaches the budget: the callback stops the job.
  await withWorld(1500n, () => stop.abort(), async ({ api, gateway, sandbox, skill }) => {
    const [dir, manifest] = await skill(
      "spender",
      `#!/bin/bash\n${post("first", "/v1/messages", ',"stream":true')}\nexec sleep 600\n`,
    );
    const job = (jobId: string, signal?: AbortSignal) =>
      sandbox.run({
        jobId,
        skillDir: dir,
        manifest,
        input: "",
        signal,
        gateway: { socketPath: gateway.socketPath, port: PORT },
      });
    const stopped = await job("spend1", stop.signal);
    assertEquals(stopped.status, "cancelled", `${stopped.reason}\n${stopped.stderrTail}`);
    // Stopped by the budget, not by its 120 s timeout; killed while sleeping or at its curl.
    assertEquals(api.seen.length, 1);
    assertEquals(gateway.spend().cost, 2000n);
    assertEquals(gateway.spend().exhausted, true);

    const [dir2, manifest2] = await skill(
      "late",
      `#!/bin/bash\n${post("second", "/v1/messages")}\ncat second.out\n`,
    );
    const late = await sandbox.run({
      jobId: "spend2",
      skillDir: dir2,
      manifest: manifest2,
      input: "",
      gateway: { socketPath: gateway.socketPath, port: PORT },
    });
    assertEquals(late.status, "ok", `${late.reason}\n${late.stderrTail}`);
    const [status, body] = text(late).split("\n");
    assertEquals(status, "second 402");
    assertEquals(JSON.parse(body).error.code, "budget-spent");
    assertEquals(api.seen.length, 1);
    assertEquals(gateway.refusals().map((r) => r.code), ["budget-spent"]);
  });
});

Deno.test(`model gateway in the sandbox (${MODE}): a job with network gets no gateway`, async () => {
  await withWorld(1n, () => {}, async ({ gateway, sandbox, skill }) => {
    const [dir, manifest] = await skill(
      "netted",
      "#!/bin/sh\ntrue\n",
      "  permissions:\n    network: true\n",
    );
    let error: unknown;
    try {
      await sandbox.run({
        jobId: "net1",
        skillDir: dir,
        manifest,
        input: "",
        gateway: { socketPath: gateway.socketPath, port: PORT },
      });
    } catch (err) {
      error = err;
    }
    assert(error instanceof SkillJobError, String(error));
    assertStringIncludes(error.message, "no namespace of its own for a model gateway");
  });
});

Deno.test(`model gateway in the sandbox (${MODE}): the agent-task gate cannot reach the gateway's socket: it is closed once the agent is over`, async () => {
  await withWorld(1_000_000n, () => {}, async ({ api, gateway, sandbox, skill, root }) => {
    const driver = await Deno.readTextFile(
      new URL("../../../../skills/agent-task/run", import.meta.url),
    );
    const [dir, manifest] = await skill("agent-task", driver);
    const repo = `${root}/repo`;
    await Deno.mkdir(repo);
    const git = (...args: string[]) =>
      new Deno.Command("git", { args: ["-C", repo, ...args], stdout: "piped" }).output();
    await git("init", "-q");
    await Deno.writeTextFile(`${repo}/README`, "base\n");
    await git("add", "README");
    await git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base");
    const base = new TextDecoder().decode((await git("rev-parse", "HEAD")).stdout).trim();
    const inputs = `${root}/inputs`;
    await Deno.mkdir(inputs);
    await new Deno.Command("tar", { args: ["-C", repo, "-cf", `${inputs}/worktree.tar`, "."] })
      .output();
    // The agent makes one call through its gateway; the gate tries the socket the sandbox bound
    // in, past the relay (gone with the agent), as a hostile gate would.
    const files: Record<string, string> = {
      base,
      "task.md": "t\n",
      "task.json": "{}",
      "agent-command": post("agent", "/v1/messages"),
      "accept-command": `curl -sS --unix-socket ${SANDBOX_GATEWAY_SOCKET} -X POST ` +
        `-d '{"model":"m","max_tokens":5,"messages":[]}' -w 'gate %{http_code}\\n' ` +
        `http://127.0.0.1:${PORT}/v1/messages; code=$?; echo "curl $code"; exit $code`,
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${inputs}/${name}`, text);
    }
    const o = await sandbox.run({
      jobId: "agentgate1",
      skillDir: dir,
      manifest,
      input: "",
      files: ["worktree.tar", ...Object.keys(files)].map((name) => ({
        path: `${inputs}/${name}`,
        name,
      })),
      gateway: { socketPath: gateway.socketPath, port: PORT },
    });
    assertEquals(o.status, "ok", `${o.reason}\n${o.stderrTail}`);
    const report = JSON.parse(text(o).trim().split("\n").at(-1)!);
    const gateLog = await Deno.readTextFile(`${o.workDir}/out/gate.log`);
    assertEquals(report.agentExit, 0, await Deno.readTextFile(`${o.workDir}/out/agent.log`));
    // curl 7: could not connect. The stand-in saw the agent's call only.
    assertStringIncludes(gateLog, "curl 7");
    assertEquals(report.gateExit, 7, gateLog);
    assertEquals(api.seen.length, 1);
    assertEquals(gateway.spend().calls, 1);
    assert(gateway.stopped, "the gateway still listens");
  });
});

if (Deno.uid() === 0) {
  Deno.test("model gateway in the sandbox: the whole file again as an unprivileged user (rootless mode)", async () => {
    const run = await denoTestAsNobody("tests/unit/roles/provider/sandbox_gateway_test.ts");
    assertEquals([run.code, run.failed], [0, 0], run.output.slice(-4000));
    assertStringIncludes(run.output, "model gateway in the sandbox (rootless): the job reaches");
    assertEquals(run.passed, 4, run.output.slice(-2000));
  });
}
