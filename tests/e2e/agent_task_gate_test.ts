/**
 * An agent-task whose gate fails, end to end (docs/PROTOCOL.md "agent-task (kind 5603)",
 * docs/AGENTS.md "A coding agent's task"): a town, the real provider node whose preset is a
 * scripted agent (a shell script, no model) committing work that does not pass, the real sandbox
 * and git, and a requester profile driven through its CLI as an agent drives it.
 *
 * A failed gate whose delivery is paid is `done` with the verdict `failed` wherever the CLI shows
 * it, and exits 3; its logs open with the delivery's key. A gate that prints the agent's diff and
 * fails, declined (`--decline-failed`): the requester paid the deposit only, and nothing of what
 * the gate printed reached its profile or its CLI's output. A result over its inline budget is
 * refused, never published as a blob in the clear.
 */
import { BUNDLE_CACHE_DIR } from "../../roles/agent_work/requester/repository_bundle_cache.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, commitAgentSample, scriptedPreset } from "../../harness/agent_task_kit.ts";

/** What `gzip | base64` output starts with (the gzip magic and method, base64): the leak's mark. */
const GZIP_BASE64 = "H4sI";

Deno.test("agent-task: a failed gate paid for shows verdict failed in its result, status and list and exits 3, its logs opened; declined, nothing the gate printed reaches the requester; a result over its budget is refused", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      // Commits a change that does not fix add: `sh test.sh` fails.
      "broken.sh": [
        "set -e",
        "echo 'agent: AGENT-LOG-LINE'",
        "echo '# looked at it' >> add.sh",
        "git commit -q -am 'add: a comment'",
      ].join("\n"),
    },
    network: (skills) => ({
      providerOptions: { agents: { broken: scriptedPreset(skills, "broken") } },
    }),
  });
  const { net, alice, repo } = kit;
  const state = `${net.root}/agent-home/alice`;
  const base = await commitAgentSample(repo);
  const submit = (accept: string, ...more: string[]) =>
    alice(
      ...agentTaskArgs({
        repo: repo.dir,
        title: "Fix add",
        text: "add.sh subtracts",
        accept,
        agent: "broken",
        provider: net.providerPubkey!,
        timeoutS: 240,
      }),
      ...more,
    );

  // 1. Paid for (no --decline-failed): done, the verdict failed everywhere, exit 3.
  const paid = await submit("sh test.sh");
  assertEquals(paid.code, 3, paid.stderr + paid.stdout);
  const result = paid.lines.find((l) => l.type === "result")!;
  assertEquals([result.status, result.verdict], ["done", "failed"], JSON.stringify(result));
  const id = String(result.job);
  const status = await alice("job", "status", id);
  assertEquals([status.code, status.lines[0].status, status.lines[0].verdict], [
    0,
    "done",
    "failed",
  ]);
  const listed = (await alice("job", "list")).lines.find((l) => l.id === id);
  assertEquals(listed?.verdict, "failed", JSON.stringify(listed));
  const waited = await alice("job", "wait", id);
  assertEquals(waited.code, 3, waited.stderr);
  // Its logs, opened with the key the delivery's payment released.
  const shown = await alice("job", "results", id);
  const report = shown.lines[0].report as {
    verdict: string;
    gate: { exitCode: number; logTail: string };
    agent: { logTail: string };
  };
  assertEquals([report.verdict, report.gate.exitCode], ["fail", 1]);
  assertStringIncludes(report.gate.logTail, "not ok - add 2 3");
  assertStringIncludes(report.agent.logTail, "agent: AGENT-LOG-LINE");

  // 2. A gate that prints the agent's whole diff and fails, declined: the deposit only, and
  // the gate's output nowhere in the requester's profile or its CLI's lines.
  const leak = `git diff ${base} HEAD | gzip -9 | base64 -w0; exit 1`;
  const declined = await submit(leak, "--decline-failed");
  assertEquals(declined.code, 1, declined.stderr);
  const end = declined.lines.find((l) => l.type === "result")!;
  assertEquals(end.status, "error", JSON.stringify(end));
  assertStringIncludes(String(end.error), "declined");
  assertEquals((end.receipts as unknown[]).length, 1, JSON.stringify(end.receipts));
  const did = String(end.job);
  const seen = (end.report ?? {}) as {
    verdict: string;
    gate: { exitCode: number; logTail?: string };
    diffstat: { files: number };
  };
  // What the requester learns before paying: the verdict, the gate's exit code, the counts.
  assertEquals([seen.verdict, seen.gate.exitCode, seen.diffstat.files], ["fail", 1, 1]);
  assertEquals(seen.gate.logTail, undefined);
  const outputs = [
    declined.stdout,
    declined.stderr,
    ...await Promise.all([
      alice("job", "results", did),
      alice("job", "status", did),
      alice("job", "list"),
      alice("job", "wait", did),
      alice("job", "results", did, "--save", `${net.root}/saved`),
    ].map(async (p) => {
      const out = await p;
      return out.stdout + out.stderr;
    })),
    await allText(state),
    await allText(`${net.root}/saved`),
  ];
  for (const text of outputs) {
    assert(!text.includes(GZIP_BASE64), `the gate's output reached the requester: ${text}`);
  }
  assert(!(await allText(state)).includes("looked at it"), "the agent's diff is in the profile");

  // 3. A gate command that makes the result JSON (which echoes it) larger than the skill's
  // 16 KiB inline budget: 2,700 control characters, six bytes each escaped. Refused at once,
  // the deposit only, never a public `result` blob with the bundle's key in the clear (before,
  // the provider could publish neither, and the job waited for its timeout).
  const long = await submit(`exit 1 # ${"\u0001".repeat(2700)}`, "--decline-failed");
  const over = long.lines.find((l) => l.type === "result")!;
  assertEquals(over.status, "error", JSON.stringify(over));
  assertStringIncludes(String(over.error), "-byte budget for an encrypted job");
  assertEquals((over.receipts as unknown[]).length, 1, JSON.stringify(over.receipts));
  // The profile's cache of its own sealed repository bundles keeps their keys (the
  // requester's own, repository_bundle_cache.ts): not a result's.
  for (const text of [long.stdout, long.stderr, await allText(state, [BUNDLE_CACHE_DIR])]) {
    assert(!text.includes('"key":"'), "the result's key reached the requester unpaid");
  }
});

/** Every file under `dir` (none when it does not exist), as one Latin-1 string. */
async function allText(dir: string, skip: string[] = []): Promise<string> {
  const parts: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && skip.includes(entry.name)) continue;
      if (entry.isDirectory) parts.push(await allText(path));
      else if (entry.isFile) {
        parts.push(new TextDecoder("latin1").decode(await Deno.readFile(path)));
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return parts.join("\n");
}
