/**
 * agent-task end to end (docs/PROTOCOL.md "agent-task (kind 5603)"): a town, the real provider
 * node with the agent-task skill and presets whose commands are scripted agents (shell scripts,
 * no model) calling a stand-in model API (harness/stand_in_model_api.ts, a mock: no real
 * model can run here) through the job's gateway, the real sandbox and git, and a requester
 * profile driven through its CLI as an agent drives it (its own node process).
 *
 * One network for all steps: the honest agent fixes the sample repository's failing test
 * (fixtures/agent-repo), the requester applies the branch and the gate passes there, twice is
 * once; the town's database and blobs hold nothing of the task or the repository in the clear;
 * the stand-in saw the provider's key, the agent's environment and its job's processes did not.
 * Then the hostile agents: one that reaches for anything but the gateway (refused and logged,
 * the job goes on), one that overspends (stopped at its budget), one that rewrites history
 * (never delivered, only the deposit paid); a failed gate declined (the deposit only, the key
 * sealed); a preset the provider lacks (refused before any payment); the requester's node
 * SIGKILLed while the agent runs (the job ends once, each invoice paid once, applied once).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
  scriptedPreset,
} from "../../harness/agent_task_kit.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { hasProcessWith } from "../support/process_scan.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { readProviderJobRecord } from "../../state/jobs/provider_job_index.ts";

/** The gate: the sample's test, and no way out: the gateway's relay is gone by then. */
const GATE = 'sh test.sh && ! curl -s -m 5 "$TURNPIKE_MODEL_GATEWAY/v1/models"';
/** A file of the provider's host that no job may read (snoop.sh links to it). */
const HOST_SECRET = `/tmp/turnpike-agent-host-secret-${crypto.randomUUID()}`;
/** In the task's title and text: must never be found in the clear on the town. */
const MARKER = "MARKER-agent-task-7c1e90";

/** The scripted agents: each a shell script the preset runs in the worktree. */
function agentScripts(): Record<string, string> {
  const call =
    `curl -sS -o /dev/null -w '%{http_code}\\n' -X POST "$ANTHROPIC_BASE_URL/v1/messages" ` +
    `-H 'content-type: application/json' ` +
    `-d '{"model":"stand-in","max_tokens":16,"messages":[{"role":"user","content":"fix add"}]}'`;
  const fix = [
    `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
    "git add add.sh",
    "git commit -q -m 'add: add, not subtract'",
  ].join("\n");
  return {
    // Reads its task, asks the model once, fixes add.sh, and leaves what it could see.
    "fix.sh": [
      "set -e",
      `grep -q '${MARKER}' "$TURNPIKE_TASK"`,
      `echo "agent: working on $(grep -m1 '${MARKER}' "$TURNPIKE_TASK")"`,
      "echo 'agent: a line on stderr' >&2",
      `${call} > model-call.txt`,
      "env | sort > agent-env.txt",
      "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; tr '\\0' '\\n' < $p/environ; done " +
      "> agent-procs.txt 2>/dev/null || true",
      "git add model-call.txt agent-env.txt agent-procs.txt",
      fix,
    ].join("\n"),
    // Tries the world, then the gateway for another host and another path; then does the work.
    "elsewhere.sh": [
      "set -e",
      "curl -sS -m 5 http://1.1.1.1/ > /dev/null 2> direct.txt && echo reached >> direct.txt || true",
      `curl -sS -m 5 -o /dev/null -w '%{http_code}\\n' -x "$TURNPIKE_MODEL_GATEWAY" ` +
      "http://example.com/steal > proxied.txt || true",
      `curl -sS -m 5 -o /dev/null -w '%{http_code}\\n' "$ANTHROPIC_BASE_URL/v1/files" ` +
      "> other-path.txt || true",
      `${call} > model-call.txt`,
      "git add direct.txt proxied.txt other-path.txt model-call.txt",
      fix,
    ].join("\n"),
    // Calls the model until it is stopped, committing as it goes.
    "overspend.sh": [
      "i=0",
      "while [ $i -lt 200 ]; do",
      `  ${call} >> calls.txt`,
      "  i=$((i + 1))",
      "done",
      fix,
    ].join("\n"),
    // Waits (in the sandbox, which sees the skill's folder as it is) until the test says go.
    // Fixes add, and makes the gate (its own test.sh) leave out/gate.log a link to a host file.
    "snoop.sh": [
      "set -e",
      `printf '%s\\n' 'rm -f "$TURNPIKE_OUTPUTS/gate.log"' ` +
      `'ln -s ${HOST_SECRET} "$TURNPIKE_OUTPUTS/gate.log"' | cat - test.sh > t && mv t test.sh`,
      "git add test.sh",
      fix,
    ].join("\n"),
    // Prints 9 MiB before its fix: its transcript is delivered cut to 8 MiB, the cut said.
    "chatty.sh": [
      "echo CHATTY-START",
      "head -c 9437184 /dev/zero | tr '\\0' x",
      "echo",
      "echo CHATTY-END",
      fix,
    ].join("\n"),
    // Asks the model once, then waits until the test has seen its spend in the progress.
    "spender.sh": [
      `${call} > model-call.txt`,
      `while [ ! -e "$(dirname "$0")/spent-go" ]; do sleep 0.1; done`,
      fix,
    ].join("\n"),
    "slow.sh": [
      `while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.1; done`,
      fix,
    ].join("\n"),
    // Commits a change that does not fix add: the gate fails.
    "broken.sh": [
      "set -e",
      "echo '# looked at it' >> add.sh",
      "git commit -q -am 'add: a comment'",
    ].join("\n"),
    // Commits a fix on top of a rewritten base (its own history, not the requester's).
    "rewrite.sh": [
      "set -e",
      "git commit -q --amend -m 'the base, rewritten'",
      fix,
    ].join("\n"),
  };
}

Deno.test("agent-task: a scripted agent fixes a failing test behind the gateway, applied as a branch; the town sees ciphertext only; hostile agents are refused, stopped, never delivered", async () => {
  const apiKey = `sk-provider-${crypto.randomUUID()}`;
  await using api = await startStandInModelApi({ apiKey });
  const skills = await agentSkillsDir(agentScripts());
  const skillDir = `${skills}/agent-task`;
  const preset = (name: string, budget: bigint) =>
    scriptedPreset(skills, name, {
      // The honest agent's preset costs 1,000 more than the skill; the others nothing more.
      price: name === "fix" ? 1000n : 0n,
      budget,
      upstream: api.url,
      apiKey,
      // 1,000 input and 200 output tokens a call (the stand-in's): 1 + 1 units a call.
      inputPerMillion: 1000n,
      outputPerMillion: 5000n,
      headers: { "anthropic-version": "2023-06-01" },
    });
  const townDir = await Deno.makeTempDir({ prefix: "turnpike-agent-town-" });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      // The agent's spend reported every 200 ms (default 10 s): step 1c waits for it.
      agentSpendEveryMs: 200,
      agents: Object.fromEntries(
        ["fix", "elsewhere", "overspend", "rewrite", "broken", "slow", "snoop", "chatty", "spender"]
          .map((
            n,
          ) => [n, preset(n, 1000n)]),
      ),
    },
    town: { stateDir: townDir, databasePath: `${townDir}/town-events.sqlite` },
  });
  /** The provider's payment log has one payment in for the job: its deposit. */
  const assertProviderPaidOnce = async (job: string) => {
    const lines = (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries();
    assertEquals(lines.filter((l) => l.jobId === job && l.direction === "in").length, 1);
  };
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    const base = await commitAgentSample(repo);
    const bead = `${net.root}/bead.json`;
    await Deno.writeTextFile(
      bead,
      JSON.stringify([{
        id: "gt-42",
        title: `Fix add (${MARKER})`,
        description: `add.sh subtracts; test.sh fails. ${MARKER}`,
        acceptance_criteria: "sh test.sh exits 0",
        priority: 1,
        issue_type: "bug",
        labels: ["agent"],
      }]),
    );
    const submit = (agent: string, ...more: string[]) =>
      alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--bead",
        bead,
        "--accept",
        agent === "broken" ? "sh test.sh" : GATE,
        "--agent",
        agent,
        "--bid",
        "1000000",
        "--provider",
        net.providerPubkey!,
        "--timeout",
        "240",
        "--wait",
        ...more,
      );

    /** Posts a job for `agent` without waiting for it (its id in the `job` line). */
    const post = (agent: string) =>
      alice(
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
        agent,
        "--bid",
        "1000000",
        "--provider",
        net.providerPubkey!,
      );

    // 0. The presets, with their prices and budgets, in the provider's 31990.
    const listed = (await alice("providers")).lines[0].providers as {
      skills: { name: string; price: string; agents?: { name: string }[] }[];
    }[];
    const served = listed.flatMap((p) => p.skills).find((s) => s.name === "agent-task");
    assertEquals(served?.agents?.map((a) => a.name).sort(), [
      "broken",
      "chatty",
      "elsewhere",
      "fix",
      "overspend",
      "rewrite",
      "slow",
      "snoop",
      "spender",
    ]);
    // 0b. A bid within the skill's price but below it with the preset's: refused before anything
    // is paid, with the price of both (the fix preset costs 1,000).
    const priced = Number(served!.price) + 1000;
    const low = await submit("fix", "--bid", String(priced - 1));
    assertEquals(low.code, 1, low.stdout);
    const refusal = low.lines[0];
    assertEquals([refusal.type, refusal.code, refusal.price, refusal.agent], [
      "error",
      "bid-below-price",
      String(priced),
      "fix",
    ]);
    assertEquals(low.lines.some((l) => l.type === "job"), false);

    // 1. The honest agent: done, applied as a branch, the gate passes there.
    const done = await submit("fix");
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const result = done.lines.find((l) => l.type === "result")!;
    assertEquals(result.status, "done", JSON.stringify(result));
    const id = String(result.job);
    const applied = await alice("job", "results", id, "--apply");
    assertEquals(applied.code, 0, applied.stderr);
    const line = applied.lines[0];
    assertEquals([line.type, line.created, line.verdict], ["applied", true, "passed"]);
    assertEquals(line.base, base);
    assertEquals(line.branch, `turnpike/${id.slice(0, 12)}`);
    // The agent's transcript, opened with the delivery's key, in the profile.
    const transcriptPath = `${net.root}/agent-home/alice/agent-tasks/${id}.transcript.log`;
    assertEquals(line.transcript, transcriptPath);
    const transcript = await Deno.readTextFile(transcriptPath);
    assertStringIncludes(transcript, `agent: working on`);
    assertStringIncludes(transcript, MARKER);
    assertStringIncludes(transcript, "agent: a line on stderr");
    // --save: the sealed blobs, and beside them the bundle and the transcript opened.
    const saved = await alice("job", "results", id, "--save", `${net.root}/saved`);
    assertEquals(saved.code, 0, saved.stderr);
    const names = (saved.lines[0].saved as { name: string }[]).map((s) => s.name).sort();
    assertEquals(names, [
      "result.bundle",
      "result.bundle.sealed",
      "transcript.log",
      "transcript.log.sealed",
    ]);
    assertEquals(await Deno.readTextFile(`${net.root}/saved/transcript.log`), transcript);
    const report1 = saved.lines[0].report as {
      transcript: { bytes: number; totalBytes: number; truncated: boolean };
      model: {
        calls: number;
        inputTokens: number;
        outputTokens: number;
        cost: string;
        perCall: { ok: boolean; inputTokens: number; outputTokens: number; cost: string }[];
      };
    };
    const size = new TextEncoder().encode(transcript).length;
    assertEquals(report1.transcript.bytes, size);
    assertEquals([report1.transcript.totalBytes, report1.transcript.truncated], [size, false]);
    assertEquals(report1.model.calls, 1);
    assertEquals([report1.model.inputTokens, report1.model.outputTokens], [1000, 200]);
    assertEquals(report1.model.cost, "2");
    assertEquals(
      report1.model.perCall.map((c) => [c.ok, c.inputTokens, c.outputTokens, c.cost]),
      [[true, 1000, 200, "2"]],
    );
    const again = await alice("job", "results", id, "--apply");
    assertEquals([again.code, again.lines[0].created, again.lines[0].tip], [0, false, line.tip]);
    // Another branch of that name at another commit (here the checked-out one): refused, unchanged.
    const clash = await alice("job", "results", id, "--apply", "--branch", "main");
    assertEquals(clash.code, 1, clash.stdout);
    assertEquals([clash.lines[0].type, clash.lines[0].code], ["error", "result-refused"]);
    // The checked-out branch and the working files are untouched; the branch passes its gate.
    assertEquals(await repo.git("rev-parse", "HEAD"), base);
    await repo.git("worktree", "add", "-q", `${net.root}/applied`, String(line.branch));
    const gate = await new Deno.Command("sh", { args: ["test.sh"], cwd: `${net.root}/applied` })
      .output();
    assertEquals(gate.code, 0, new TextDecoder().decode(gate.stdout));
    // The stand-in saw the provider's key; the agent's environment and processes did not.
    const calls = api.seen.filter((r) => r.target === "/v1/messages");
    assert(calls.length >= 1 && calls.every((r) => r.headers["x-api-key"] === apiKey));
    const read = (name: string) => Deno.readTextFile(`${net.root}/applied/${name}`);
    assertEquals((await read("model-call.txt")).trim(), "200");
    const env = await read("agent-env.txt");
    assertStringIncludes(env, "ANTHROPIC_BASE_URL=http://127.0.0.1:");
    const procs = await read("agent-procs.txt");
    // The gateway's relay ran beside the agent: the compiled setup's, or the forwarder.
    assertMatch(procs, /--relay-gateway|forwarder\.js/);
    for (const seen of [env, procs]) assert(!seen.includes(apiKey), "the key reached the job");
    // The town holds ciphertext only: no task, no bundle in the clear.
    const town = await allBytes(townDir);
    assert(town.length > 0);
    for (const clear of [MARKER, "git bundle", "refs/turnpike", "gt-42"]) {
      assert(!town.includes(clear), `the town holds ${JSON.stringify(clear)} in the clear`);
    }

    // 1b. A transcript over 8 MiB: its first and last 4 MiB, the cut said in it and the report.
    const chatty = await submit("chatty");
    assertEquals(chatty.code, 0, chatty.stderr);
    const cid = String(chatty.lines.find((l) => l.type === "result")!.job);
    const capplied = await alice("job", "results", cid, "--apply");
    assertEquals(capplied.code, 0, capplied.stderr);
    const long = await Deno.readFile(String(capplied.lines[0].transcript));
    const longText = new TextDecoder().decode(long);
    assert(longText.startsWith("CHATTY-START\n"), longText.slice(0, 40));
    assert(longText.endsWith("CHATTY-END\n"), longText.slice(-40));
    const total = "CHATTY-START\n".length + 9437184 + 1 + "CHATTY-END\n".length;
    assertStringIncludes(
      longText,
      `[turnpike: transcript truncated: ${total - 8388608} of ${total} bytes left out here`,
    );
    const creport = (await alice("job", "results", cid)).lines[0].report as {
      transcript: { bytes: number; totalBytes: number; truncated: boolean };
    };
    assertEquals(creport.transcript, {
      ...creport.transcript,
      bytes: long.length,
      totalBytes: total,
      truncated: true,
    });

    // 1c. The agent's spend so far in the progress: a `processing` line with it, while it runs.
    const spending = await post("spender");
    assertEquals(spending.code, 0, spending.stderr);
    const pid = String(spending.lines.find((l) => l.type === "job")!.id);
    const home = `${net.root}/agent-home`;
    const follow = spawnCli([
      "--profile",
      "alice",
      "--json",
      "job",
      "wait",
      pid,
      "--passphrase-file",
      `${home}/pw`,
      "--non-interactive",
    ], { env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" } });
    const spendLine = JSON.parse(await follow.waitForLine((l) => l.includes('"spend"'))) as {
      status: string;
      detail: string;
      spend: Record<string, unknown>;
    };
    await Deno.writeTextFile(`${skillDir}/agents/spent-go`, "");
    assertEquals(spendLine.status, "processing");
    assertEquals(spendLine.spend, {
      cost: "2",
      budget: "1000",
      calls: 1,
      inputTokens: 1000,
      outputTokens: 200,
    });
    assertStringIncludes(spendLine.detail, "agent running: its model calls cost 2 of 1000");
    assertEquals((await follow.done).code, 0);
    // Reported once: the spend did not change after.
    const spendLines = follow.stdout().split("\n").filter((l) => l.includes('"spend"'));
    assertEquals(spendLines.length, 1, follow.stdout());

    // 2. Reaching past the gateway: refused and logged, the job goes on and is delivered.
    const elsewhere = await submit("elsewhere");
    assertEquals(elsewhere.code, 0, elsewhere.stderr);
    const eid = String(elsewhere.lines.find((l) => l.type === "result")!.job);
    const shown = (await alice("job", "results", eid)).lines[0];
    const refusals = (shown.report as { model: { refusals: { code: string; target: string }[] } })
      .model.refusals;
    assertEquals(refusals.map((r) => r.code), ["forbidden", "forbidden"], JSON.stringify(refusals));
    const eapplied = await alice("job", "results", eid, "--apply");
    assertEquals(eapplied.code, 0, eapplied.stderr);
    await repo.git(
      "worktree",
      "add",
      "-q",
      `${net.root}/elsewhere`,
      String(eapplied.lines[0].branch),
    );
    const ereads = (name: string) => Deno.readTextFile(`${net.root}/elsewhere/${name}`);
    assert(!(await ereads("direct.txt")).includes("reached"), "the world was reached");
    assertEquals((await ereads("proxied.txt")).trim(), "403");
    assertEquals((await ereads("other-path.txt")).trim(), "403");
    assertEquals((await ereads("model-call.txt")).trim(), "200");
    // The preset's price is the job's on top of the skill's, split as the skill splits it; the
    // writes each job made are billed beside it.
    const billed = async (job: string) => {
      const r = (await readProviderJobRecord(`${net.root}/provider`, job))!;
      return BigInt(r.price) + BigInt(r.deliveryPrice ?? "0") - BigInt(r.depositWrites ?? "0") -
        BigInt(r.deliveryWrites ?? "0") - BigInt(r.deliveryBlobs ?? "0");
    };
    assertEquals(await billed(id) - await billed(eid), 1000n);

    // 3. Overspending: stopped at its budget (2 units a call, a budget of 5: the third call
    // reaches it), nothing delivered, only the deposit paid.
    const before = api.seen.length;
    const over = await submit("overspend", "--budget", "5");
    assertFailedWithDepositOnly(over, "budget");
    assertEquals(api.seen.length - before, 3, "calls past the budget reached the model");
    await assertProviderPaidOnce(String(over.lines.find((l) => l.type === "result")!.job));

    // 4. A rewritten history: never delivered, only the deposit paid.
    const rewrite = await submit("rewrite");
    assertFailedWithDepositOnly(rewrite, "history-rewritten");
    await assertProviderPaidOnce(String(rewrite.lines.find((l) => l.type === "result")!.job));

    // 5. A failed gate, declined: the delivery is not paid, the provider keeps the deposit and
    // its job waits `delivered` (declined once its invoice expires), the key stays sealed.
    const broken = await submit("broken", "--decline-failed");
    assertFailedWithDepositOnly(broken, "declined");
    const bid = String(broken.lines.find((l) => l.type === "result")!.job);
    await assertProviderPaidOnce(bid);
    assertEquals((await readProviderJobRecord(`${net.root}/provider`, bid))?.status, "delivered");
    const sealedOnly = await alice("job", "results", bid, "--apply");
    assertEquals(sealedOnly.code, 1, sealedOnly.stdout);
    assertStringIncludes(sealedOnly.stderr + sealedOnly.stdout, "not-delivered");

    // 6. A preset the provider does not announce: refused by the CLI, nothing posted; with
    // --force, by the provider, before anything is paid.
    const unlisted = await submit("nosuch");
    assertEquals(unlisted.code, 1, unlisted.stdout);
    assertEquals([unlisted.lines[0].type, unlisted.lines[0].code], ["error", "no-provider"]);
    assertStringIncludes(String(unlisted.lines[0].message), 'the agent preset "nosuch"');
    const unknown = await submit("nosuch", "--force");
    assert(unknown.code !== 0, unknown.stderr);
    const refused = unknown.lines.find((l) => l.type === "result")!;
    assertEquals(refused.status, "error", JSON.stringify(refused));
    assertStringIncludes(String(refused.error), "no agent preset");
    assertEquals((refused.receipts as unknown[]).length, 0);

    // 6b. Links the job leaves in out/ are not followed on the host: the gate's log is empty.
    await Deno.writeTextFile(HOST_SECRET, "HOST-SECRET-of-the-provider\n");
    try {
      const snoop = await submit("snoop");
      assertEquals(snoop.code, 0, snoop.stderr);
      const nid = String(snoop.lines.find((l) => l.type === "result")!.job);
      const report = (await alice("job", "results", nid)).lines[0].report as {
        verdict: string;
        gate: { logTail: string };
      };
      assertEquals([report.verdict, report.gate.logTail], ["pass", ""]);
      assertEquals(JSON.stringify(report).includes("HOST-SECRET"), false);
    } finally {
      await Deno.remove(HOST_SECRET);
    }

    // 7. The requester's node SIGKILLed while the agent runs: the next command's node follows
    // the job to its end; deposit and delivery each paid once, the branch applied once.
    const posted = await post("slow");
    assertEquals(posted.code, 0, posted.stderr);
    const sid = String(posted.lines.find((l) => l.type === "job")!.id);
    while ((await readProviderJobRecord(`${net.root}/provider`, sid))?.status !== "running") {
      await new Promise((r) => setTimeout(r, 100));
    }
    const node = (await alice("node", "status")).lines[0].node as { pid: number };
    Deno.kill(node.pid, "SIGKILL");
    await Deno.writeTextFile(`${skillDir}/agents/go`, "");
    const waited = await alice("job", "wait", sid);
    assertEquals(waited.code, 0, waited.stderr);
    const end = waited.lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "done", JSON.stringify(end));
    assertEquals((end.receipts as unknown[]).length, 2, JSON.stringify(end.receipts));
    const payments = (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries();
    assertEquals(payments.filter((l) => l.jobId === sid && l.direction === "in").length, 2);
    const first = await alice("job", "results", sid, "--apply");
    const second = await alice("job", "results", sid, "--apply");
    assertEquals([first.code, first.lines[0].created], [0, true], first.stderr);
    assertEquals([second.code, second.lines[0].created], [0, false], second.stderr);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
    await Deno.remove(townDir, { recursive: true }).catch(() => {});
  }
});

/** A job that ended `error` for `why`, having paid one invoice (the deposit). */
function assertFailedWithDepositOnly(
  out: { code: number; stderr: string; lines: Record<string, unknown>[] },
  why: string,
): void {
  assert(out.code !== 0, out.stderr);
  const result = out.lines.find((l) => l.type === "result")!;
  assertEquals(result.status, "error", JSON.stringify(result));
  assertStringIncludes(String(result.error), why);
  assertEquals((result.receipts as unknown[]).length, 1, JSON.stringify(result.receipts));
}

/** Every file under `dir`, as one Latin-1 string (bytes searched as they are). */
async function allBytes(dir: string): Promise<string> {
  const parts: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) parts.push(await allBytes(path));
    else if (entry.isFile) {
      parts.push(new TextDecoder("latin1").decode(await Deno.readFile(path)));
    }
  }
  return parts.join("\n");
}

for (const mode of ["root", "rootless"] as const) {
  Deno.test(`agent-task: the provider (node up, its [agents] from config.toml, ${mode} sandbox) SIGKILLed mid-agent: no process of the job outlives it; after its restart the job ends once, error, the deposit its only payment`, () =>
    sigkillMidAgent(mode));
}

/**
 * Both modes: as root, a dead provider's pooled cgroups are emptied when any sandbox opens on the
 * machine (job_cgroup_pool.ts), maybe another test's; rootless, nothing but the sandbox can end
 * the agent before the restart.
 */
async function sigkillMidAgent(mode: "root" | "rootless"): Promise<void> {
  await using api = await startStandInModelApi({ apiKey: "sk-provider-restart" });
  const skills = await agentSkillsDir(agentScripts());
  const net = await startRequesterNetwork({ provider: false });
  const root = `${net.root}/beta`;
  let provider: ReturnType<typeof spawnCli> | undefined;
  try {
    await Deno.mkdir(`${root}/state`, { recursive: true });
    await Deno.writeTextFile(`${root}/pass`, "provider passphrase\n");
    await initWalletWithCli({ stateDir: `${root}/state`, passphraseFile: `${root}/pass` });
    await Deno.writeTextFile(
      `${root}/state/config.toml`,
      [
        "[agents.slow]",
        `command = "sh ${skills}/agent-task/agents/slow.sh"`,
        "budget = 1000",
        `upstream = "${api.url}"`,
        'api_key_env = "BETA_MODEL_KEY"',
        "",
      ].join("\n"),
    );
    const up = () => {
      const node = spawnCli([
        "--state-dir",
        `${root}/state`,
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
        `${root}/pass`,
        "--non-interactive",
        "--sandbox",
        mode,
      ], { env: { BETA_MODEL_KEY: "sk-provider-restart" } });
      return node;
    };
    provider = up();
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
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
      info.pubkey,
    );
    assertEquals(posted.code, 0, posted.stderr + posted.stdout);
    const id = String(posted.lines.find((l) => l.type === "job")!.id);
    // The agent's sandbox runs (its unshare names the job's work dir as an argument).
    while (!(await hasProcessWith(`${root}/state/work/${id}`))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const socketDir = await Deno.readTextFile(`${root}/state/work/${id}.agent/gateway-dir`);
    const agent = `${skills}/agent-task/agents/slow.sh`;
    await waitUntil(() => hasProcessWith(agent), 30_000, "the agent to run");
    provider.child.kill("SIGKILL");
    await provider.done;
    // Nothing of the job outlives its provider: not the sandbox, not its agent (running as
    // nobody), before anything restarts (roles/provider/sandbox/parent_death.ts).
    await waitUntil(
      async () => !await hasProcessWith(`${root}/state/work/${id}`) && !await hasProcessWith(agent),
      30_000,
      "the SIGKILLed provider's sandboxed agent to die with it",
    );
    // The agent would now finish: the restarted provider must not deliver its work.
    await Deno.writeTextFile(`${skills}/agent-task/agents/go`, "");
    provider = up();
    await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"'));
    const waited = await alice("job", "wait", id);
    const end = waited.lines.find((l) => l.type === "result")!;
    assertEquals(end.status, "error", JSON.stringify(end));
    assertEquals((end.receipts as unknown[]).length, 1, JSON.stringify(end.receipts));
    const payments = (await openPaymentLog({ stateDir: `${root}/state` })).entries();
    assertEquals(payments.filter((l) => l.jobId === id && l.direction === "in").length, 1);
    assertEquals((await alice("job", "results", id, "--apply")).code, 1);
    // What the run left on the provider's disk (the repository in the clear, the gateway's
    // socket dir) is gone.
    assertEquals(await Deno.stat(socketDir).then(() => true, () => false), false, socketDir);
    for (const left of [id, `${id}.agent`]) {
      assertEquals(
        await Deno.stat(`${root}/state/work/${left}`).then(() => true, () => false),
        false,
      );
    }
  } finally {
    if (provider) {
      try {
        provider.child.kill("SIGTERM");
      } catch { /* the SIGKILLed one, not restarted */ }
      await provider.done;
    }
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
}

Deno.test("agent-task in the rootless sandbox: the agent's commits come back and apply, its gateway call passes", async () => {
  const apiKey = "sk-provider-rootless";
  await using api = await startStandInModelApi({ apiKey });
  const skills = await agentSkillsDir(agentScripts());
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      sandboxMode: "rootless",
      agents: {
        fix: scriptedPreset(skills, "fix", {
          upstream: api.url,
          apiKey,
          inputPerMillion: 1000n,
          outputPerMillion: 5000n,
        }),
      },
    },
  });
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
    await Deno.writeTextFile(
      `${net.root}/bead.json`,
      JSON.stringify({ title: `Fix add ${MARKER}` }),
    );
    const done = await alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repo.dir,
      "--bead",
      `${net.root}/bead.json`,
      "--accept",
      GATE,
      "--agent",
      "fix",
      "--bid",
      "1000000",
      "--provider",
      net.providerPubkey!,
      "--wait",
    );
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const id = String(done.lines.find((l) => l.type === "result")!.job);
    const applied = await alice("job", "results", id, "--apply");
    assertEquals([applied.code, applied.lines[0].verdict], [0, "passed"], applied.stderr);
    await repo.git("worktree", "add", "-q", `${net.root}/applied`, String(applied.lines[0].branch));
    const gate = await new Deno.Command("sh", { args: ["test.sh"], cwd: `${net.root}/applied` })
      .output();
    assertEquals(gate.code, 0);
    assertEquals(
      (await Deno.readTextFile(`${net.root}/applied/model-call.txt`)).trim(),
      "200",
    );
    assert(!(await Deno.readTextFile(`${net.root}/applied/agent-procs.txt`)).includes(apiKey));
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});

Deno.test("agent-task on a town that keeps its request, result and feedback kinds private (5603, 6603, 7000): the feeds answer its AUTH, the commits come back and apply", async () => {
  const apiKey = "sk-provider-private";
  await using api = await startStandInModelApi({ apiKey });
  const skills = await agentSkillsDir(agentScripts());
  const net = await startRequesterNetwork({
    // docs/PROTOCOL.md "Private events: NIP-42 AUTH": the flow's kinds served to their readers only.
    town: { privateKinds: [5603, 6603, 7000] },
    providerSkillsDir: skills,
    providerOptions: {
      sandboxMode: "rootless",
      agents: {
        fix: scriptedPreset(skills, "fix", {
          upstream: api.url,
          apiKey,
          inputPerMillion: 1000n,
          outputPerMillion: 5000n,
        }),
      },
    },
  });
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
    await Deno.writeTextFile(
      `${net.root}/bead.json`,
      JSON.stringify({ title: `Fix add ${MARKER}` }),
    );
    const done = await alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repo.dir,
      "--bead",
      `${net.root}/bead.json`,
      "--accept",
      GATE,
      "--agent",
      "fix",
      "--bid",
      "1000000",
      "--provider",
      net.providerPubkey!,
      "--wait",
    );
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const id = String(done.lines.find((l) => l.type === "result")!.job);
    const applied = await alice("job", "results", id, "--apply");
    assertEquals([applied.code, applied.lines[0].verdict], [0, "passed"], applied.stderr);
    await repo.git("worktree", "add", "-q", `${net.root}/applied`, String(applied.lines[0].branch));
    const gate = await new Deno.Command("sh", { args: ["test.sh"], cwd: `${net.root}/applied` })
      .output();
    assertEquals(gate.code, 0);
    assertEquals(
      (await Deno.readTextFile(`${net.root}/applied/model-call.txt`)).trim(),
      "200",
    );
    assert(!(await Deno.readTextFile(`${net.root}/applied/agent-procs.txt`)).includes(apiKey));
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});
