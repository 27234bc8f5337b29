/**
 * A delivery that opens, or proof that it did not (docs/PROTOCOL.md "Paid on delivery"), end to
 * end: a town, the real provider node with the agent-task skill, the real sandbox and git, a
 * requester profile driven through its CLI. The provider is made to cheat by its test-only
 * `agentDeliveryForTests` hook (roles/agent_work/provider/agent_task_runner.ts), one cheat per
 * preset:
 *
 * - `wrongkey`: the result's key is another than the one the bundle is sealed with: the
 *   requester pays the delivery (the hashlock sells the fulfillment), keeps a proof, and the
 *   proof verifies from the signed result, the fulfillment and the sealed key alone;
 * - `badblob`: the sealed bundle published is not the one committed to: not paid;
 * - `badtranscript`: the transcript is sealed with another key (and committed as it is): the
 *   bundle applies, the transcript is a warning and a failure in the proof.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, commitAgentSample, scriptedPreset } from "../../harness/agent_task_kit.ts";
import type { AgentDeliveryForTests } from "../../roles/agent_work/provider/agent_task_runner.ts";
import { sealBlob } from "../../roles/agent_work/sealed_blob.ts";
import { sha256Hex } from "../../protocol/delivery_commitment.ts";
import { blobOutputsOf } from "../../protocol/job_blobs.ts";
import { type DeliveryProof, verifyDeliveryProof } from "../../roles/agent_work/delivery_proof.ts";

/** The cheats, by preset: each changes the delivery after its commitment was made. */
async function cheat(d: AgentDeliveryForTests): Promise<void> {
  if (d.preset === "wrongkey") {
    d.result.key = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  } else if (d.preset === "badblob") {
    const path = `${d.outDir}/result.bundle.sealed`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
  } else if (d.preset === "badtranscript") {
    const { sealed } = await sealBlob(new TextEncoder().encode("not the transcript"));
    await Deno.writeFile(`${d.outDir}/transcript.log.sealed`, sealed);
    const entry = d.result.commitment.blobs.find((b) => b.name === "transcript.log.sealed")!;
    entry.sealed = sha256Hex(sealed);
  }
}

Deno.test("agent-task delivery: a wrong key is paid for and proven, a blob off its commitment is not paid, a bad transcript leaves the bundle applied with a warning", async (t) => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "fix.sh": [
        "set -e",
        "echo 'agent: fixing add'",
        `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
        "git commit -q -am 'add: add, not subtract'",
      ].join("\n"),
    },
    network: (skills) => {
      const preset = (name: string) => scriptedPreset(skills, "fix", { name });
      return {
        providerOptions: {
          agents: {
            wrongkey: preset("wrongkey"),
            badblob: preset("badblob"),
            badtranscript: preset("badtranscript"),
          },
          agentDeliveryForTests: cheat,
        },
      };
    },
  });
  const { net, alice, repo } = kit;
  const state = `${net.root}/agent-home/alice`;
  await commitAgentSample(repo);
  const submit = (agent: string) =>
    alice(
      ...agentTaskArgs({
        repo: repo.dir,
        title: "Fix add",
        text: "add.sh subtracts",
        accept: "sh test.sh",
        agent,
        provider: net.providerPubkey!,
        timeoutS: 240,
      }),
    );

  await t.step("a wrong key: paid for, and a proof kept that anyone can verify", async () => {
    const wrong = await submit("wrongkey");
    const wrongEnd = wrong.lines.find((l) => l.type === "result")!;
    assertEquals(wrongEnd.status, "done", wrong.stderr + JSON.stringify(wrongEnd));
    assertEquals((wrongEnd.receipts as unknown[]).length, 2, JSON.stringify(wrongEnd.receipts));
    const wid = String(wrongEnd.job);
    assertEquals(wrongEnd.proof, `${state}/proofs/${wid}.json`);
    const shown = await alice("job", "results", wid, "--proof");
    assertEquals(shown.code, 0, shown.stderr);
    const proof = shown.lines[0] as unknown as DeliveryProof;
    assertEquals([proof.type, proof.job, proof.provider], [
      "turnpike-delivery-proof",
      wid,
      net.providerPubkey,
    ]);
    assert(proof.failures.some((f) => f.what === "key"), JSON.stringify(proof.failures));
    // Verified as a stranger would: the proof, and the blobs fetched from the town by hash.
    const fetchBlob = fetchBlobOf(proof);
    const found = await verifyDeliveryProof(proof, fetchBlob);
    assert(found.some((f) => f.what === "key"), JSON.stringify(found));
    // A forged proof (another fulfillment) does not hold.
    const forged = { ...proof, fulfillment: "00".repeat(32) };
    const refused = await verifyDeliveryProof(forged, fetchBlob).then(
      () => "held",
      (e) => e.name,
    );
    assertEquals(refused, "DeliveryProofError");
    const notApplied = await alice("job", "results", wid, "--apply");
    assertEquals(notApplied.code, 1, notApplied.stdout);
    assertEquals(
      [notApplied.lines[0].code, notApplied.lines[0].proof],
      ["delivery-broken", `${state}/proofs/${wid}.json`],
    );
  });

  await t.step(
    "a sealed bundle that is not the committed one: the delivery is not paid",
    async () => {
      const bad = await submit("badblob");
      const badEnd = bad.lines.find((l) => l.type === "result")!;
      assertEquals(badEnd.status, "error", JSON.stringify(badEnd));
      assertStringIncludes(String(badEnd.error), "undelivered");
      assertStringIncludes(String(badEnd.error), "result.bundle.sealed");
      assertEquals((badEnd.receipts as unknown[]).length, 1, JSON.stringify(badEnd.receipts));
      assertEquals(badEnd.proof, undefined);
    },
  );

  await t.step(
    "a transcript that does not open: the bundle applies, with a warning and a proof",
    async () => {
      const chatty = await submit("badtranscript");
      const tEnd = chatty.lines.find((l) => l.type === "result")!;
      assertEquals(tEnd.status, "done", chatty.stderr + JSON.stringify(tEnd));
      const tid = String(tEnd.job);
      const applied = await alice("job", "results", tid, "--apply");
      assertEquals(applied.code, 0, applied.stderr);
      const line = applied.lines[0];
      assertEquals([line.type, line.created, line.verdict], ["applied", true, "passed"]);
      assertEquals(line.proof, `${state}/proofs/${tid}.json`);
      assertStringIncludes(String((line.warnings as string[])[0]), "transcript");
      assertStringIncludes(applied.stderr, "warning: the transcript");
      assertEquals(await repo.git("rev-parse", String(line.branch)), line.tip);
      const tproof = (await alice("job", "results", tid, "--proof"))
        .lines[0] as unknown as DeliveryProof;
      assertEquals(
        tproof.failures.map((f) => [f.what, f.name]),
        [["blob", "transcript.log.sealed"]],
      );
      assertEquals(
        (await verifyDeliveryProof(tproof, fetchBlobOf(tproof))).map((f) => f.name),
        ["transcript.log.sealed"],
      );
    },
  );
});

/** A proof's blobs fetched from the town by their sealed hash. */
function fetchBlobOf(proof: DeliveryProof): (sha256: string) => Promise<Uint8Array<ArrayBuffer>> {
  const byHash = new Map(blobOutputsOf(proof.result.tags).map((b) => [b.sha256, b.url]));
  return async (sha256) => new Uint8Array(await (await fetch(byHash.get(sha256)!)).arrayBuffer());
}
