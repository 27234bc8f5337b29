/**
 * An agent task that delivers nothing still gives its requester the agent's transcript
 * (docs/PROTOCOL.md "Errors of an encrypted job"): a real town, the real provider node and its
 * sandbox, and a requester profile driven through its CLI; the agent is a shell script that prints
 * a line of the requester's repository and exits 3 having committed nothing. The transcript goes
 * sealed (a blob the town stores as ciphertext, its key in the error's encrypted content): the
 * requester's `job results` names it in the profile and it reads the agent's whole output, while a
 * third party reading the town's feedback and blobs finds none of it.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { agentTaskArgs, modelFreePreset } from "../../harness/agent_task_kit.ts";
import { assertTranscriptSealed } from "../support/sealed_transcript.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";

const SECRET = "SECRET-REPO-LINE-9a41d2";

Deno.test("agent-task: an agent that exits 3 having committed nothing: the requester's job results name its transcript, sealed on the way, with the agent's whole output; the town's public feedback and blobs hold none of it", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "crash.sh": [
        "echo 'crash: reading notes.txt'",
        "cat notes.txt",
        "echo 'crash: the first of the last words' >&2",
        "echo 'crash: cannot go on'",
        "exit 3",
      ].join("\n"),
    },
    network: (skills) => ({
      providerOptions: { agents: { crash: modelFreePreset(skills, "crash") } },
    }),
  });
  const { net, alice, repo } = kit;
  await repo.commit("private notes", { "notes.txt": `${SECRET}\n` });
  const run = await alice(
    ...agentTaskArgs({
      repo: repo.dir,
      title: "Tidy the notes",
      accept: "true",
      agent: "crash",
      provider: net.providerPubkey!,
      timeoutS: 120,
    }),
  );
  assert(run.code !== 0, run.stderr + run.stdout);
  const end = run.lines.find((l) => l.type === "result")!;
  assertEquals(end.status, "error", JSON.stringify(end));
  const id = String(end.job);
  // The exit code and the last lines, in the reason.
  assertStringIncludes(String(end.error), "the preset crash exited 3");
  assertStringIncludes(String(end.error), "crash: cannot go on");

  // The requester reads the whole transcript: `job results` names it in the profile.
  const results = await alice("job", "results", id);
  const line = results.lines.find((l) => l.type === "result")!;
  const path = String(line.transcript);
  assertEquals(path, `${net.root}/agent-home/alice/agent-tasks/${id}.transcript.log`);
  const transcript = await Deno.readTextFile(path);
  for (
    const said of [
      "crash: reading notes.txt",
      SECRET,
      "crash: the first of the last words",
      "crash: cannot go on",
    ]
  ) assertStringIncludes(transcript, said);

  // A third party: the public feedback names a blob; the blob is ciphertext.
  await assertTranscriptSealed(net.relayUrl, id, { hidden: SECRET, sealed: "crash:" });
});
