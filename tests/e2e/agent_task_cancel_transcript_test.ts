/**
 * A cancelled agent task still gives its requester the agent's transcript (docs/PROTOCOL.md
 * "Errors of an encrypted job"): a real town, the real provider node and its sandbox, and a
 * requester profile driven through its CLI. The agent is a shell script that prints a line of the
 * requester's repository and sleeps; the requester cancels it mid-run with `job cancel`. The
 * profile's node, which ended the job when it sent the kind 5, reads the provider's error that
 * follows for its transcript only: `job results` and `job status` name it, it holds what the agent printed, the
 * job's payments are those it had when cancelled, and a third party reading the town's feedback
 * and blobs finds none of it.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { agentTaskArgs, modelFreePreset } from "../../harness/agent_task_kit.ts";
import { assertTranscriptSealed } from "../support/sealed_transcript.ts";
import { type AgentTaskNetwork, startAgentTaskNetwork } from "../../harness/agent_task_network.ts";

const SECRET = "SECRET-REPO-LINE-c3e07b";

Deno.test("agent-task: a job its requester cancels mid-run: its transcript, sealed on the way, reaches the requester's profile with what the agent printed, nothing more is paid; the town's public feedback and blobs hold none of it", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "slow.sh": [
        "echo 'slow: reading notes.txt'",
        "cat notes.txt",
        "echo 'slow: thinking it over' >&2",
        // Its `sleep` killed by the cancel, it says nothing more.
        "sleep 600 && echo 'slow: never printed'",
      ].join("\n"),
    },
    network: (skills) => ({
      providerOptions: { agents: { slow: modelFreePreset(skills, "slow") } },
    }),
  });
  const { net, alice, repo } = kit;
  await repo.commit("private notes", { "notes.txt": `${SECRET}\n` });
  const posted = await alice(
    ...agentTaskArgs({
      repo: repo.dir,
      title: "Tidy the notes",
      accept: "true",
      agent: "slow",
      provider: net.providerPubkey!,
      timeoutS: 300,
      wait: false,
    }),
  );
  assertEquals(posted.code, 0, posted.stderr + posted.stdout);
  const id = String(posted.lines.find((l) => l.type === "job")!.id);

  // Mid-run: the agent has printed its lines and sleeps (read from the provider's work dir).
  await agentPrinted(net.root, id, "slow: thinking it over");
  const cancelledAt = Date.now();
  const cancel = await alice("job", "cancel", id);
  assertEquals(cancel.code, 0, cancel.stderr + cancel.stdout);
  assertEquals(cancel.lines.find((l) => l.type === "job")?.status, "cancelled");
  const cancelled = await alice("job", "status", id);
  const paidAtCancel = cancelled.lines.find((l) => l.type === "job")!.payments;

  // The transcript comes after the job ended: `job results` names it once it is in the profile.
  const path = await transcriptNamed(alice, id);
  console.log(`cancel -> transcript in the profile: ${Date.now() - cancelledAt} ms`);
  assertEquals(path, `${net.root}/agent-home/alice/agent-tasks/${id}.transcript.log`);
  const transcript = await Deno.readTextFile(path);
  for (
    const said of ["slow: reading notes.txt", SECRET, "slow: thinking it over"]
  ) assertStringIncludes(transcript, said);
  assert(!transcript.includes("slow: never printed"), transcript);

  // Still cancelled, `job status` names the transcript, and nothing more was paid for it.
  const after = await alice("job", "status", id);
  const record = after.lines.find((l) => l.type === "job")!;
  assertEquals(record.status, "cancelled");
  assertEquals(record.transcript, path);
  assertEquals(record.payments, paidAtCancel);

  // A third party: the public feedback names a blob; the blob is ciphertext.
  await assertTranscriptSealed(net.relayUrl, id, { hidden: SECRET, sealed: "slow:" });
});

/** Waits until the job's agent log in the provider's work dir holds `line`. */
async function agentPrinted(root: string, id: string, line: string): Promise<void> {
  const log = `${root}/provider/work/${id}/out/agent.log`;
  for (let i = 0; i < 1200; i++) {
    if ((await Deno.readTextFile(log).catch(() => "")).includes(line)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`hang guard: the agent of ${id} never printed "${line}"`);
}

/** The transcript path `job results` names, asked until it names one. */
async function transcriptNamed(
  alice: AgentTaskNetwork["alice"],
  id: string,
): Promise<string> {
  // About the node's watch of a cancelled job (roles/requester/after_cancel.ts), no longer.
  for (let i = 0; i < 100; i++) {
    const results = await alice("job", "results", id);
    const line = results.lines.find((l) => l.type === "result");
    if (line?.transcript !== undefined) return String(line.transcript);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`hang guard: job results ${id} never named a transcript`);
}
