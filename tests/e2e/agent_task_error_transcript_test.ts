/**
 * An agent task that delivers nothing still gives its requester the agent's transcript
 * (docs/PROTOCOL.md "Errors of an encrypted job"): a real town, the real provider node and its
 * sandbox, and a requester profile driven through its CLI; the agent is a shell script that prints
 * a line of the requester's repository and exits 3 having committed nothing. The transcript goes
 * sealed (a blob the town stores as ciphertext, its key in the error's encrypted content): the
 * requester's `job results` names it in the profile and it reads the agent's whole output, while a
 * third party reading the town's feedback and blobs finds none of it.
 */
import { readPublicFrames } from "../../harness/public_frames.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { agentTaskArgs } from "../../harness/agent_task_kit.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";
import { blobServerOf } from "../../transport/relay_info.ts";

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
    network: (skills) => {
      const crash: AgentPreset = {
        name: "crash",
        command: `sh ${skills}/agent-task/agents/crash.sh`,
        price: 0n,
        budget: 0n,
        flavor: "anthropic",
        apiKey: "",
        inputPerMillion: 0n,
        outputPerMillion: 0n,
        headers: {},
      };
      return {
        providerOptions: { agents: { crash } },
      };
    },
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

  // A third party: the public feedback says a code and names a blob; the blob is ciphertext.
  const frames = await readPublicFrames(net.relayUrl, { kinds: [7000], "#e": [id] });
  const error = frames.map((f) => JSON.parse(f)).find((m) =>
    m[0] === "EVENT" && m[2].tags.some((t: string[]) => t[0] === "status" && t[1] === "error")
  )?.[2] as { tags: string[][] } | undefined;
  assert(error !== undefined, frames.join("\n"));
  for (const frame of frames) assert(!frame.includes(SECRET), `public: ${frame}`);
  const blob = error.tags.find((t) => t[0] === "blob" && t[1] === "transcript.log.sealed");
  assert(blob !== undefined, JSON.stringify(error.tags));
  const stored = await fetch(`${blobServerOf(net.relayUrl)}/${blob[3]}`);
  assertEquals(stored.status, 200);
  const bytes = new Uint8Array(await stored.arrayBuffer());
  assertEquals(bytes.length, Number(blob[4]));
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  assert(!text.includes(SECRET) && !text.includes("crash:"), "the stored blob is in the clear");
});
