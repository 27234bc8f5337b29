/**
 * The profile's node socket (roles/requester/node_server.ts) against what a caller may abuse:
 * uploads are read only from the files a command staged in `<state dir>/uploads/` (a request
 * naming `/etc/shadow`, a file elsewhere or a link out of `uploads/` is refused, nothing
 * published), and connections that only hold a slot do not keep a command out.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import type { Requester } from "../../../../roles/requester/requester_node.ts";
import { serveNode } from "../../../../roles/requester/node_server.ts";
import { stagedUploadPath, stageUpload } from "../../../../roles/requester/node_uploads.ts";
import { callNode } from "../../../../cli/node_call.ts";
import { nodeSocketPath } from "../../../../roles/requester/node_wire.ts";
import type { JobSpec } from "../../../../roles/requester/job_spec.ts";
import { fakeNodeRequester } from "../../../support/fake_node_requester.ts";

async function startNode(stateDir: string, requester: Requester) {
  return await serveNode({
    requester,
    stateDir,
    settings: {},
    proof: PROOF,
    background: false,
    describeError: (err) => ({ message: (err as Error).message }),
    onStop: () => {},
  });
}

/** The proof of the passphrase the node was started with (identity/passphrase_proof.ts). */
const PROOF = "ab".repeat(32);

const spec = { kind: 5900, inputs: [], params: [], then: [] } as unknown as JobSpec;

/** The node's answer to a submit of one upload: its lines, or the error a command prints. */
async function submitUpload(
  stateDir: string,
  path: string,
): Promise<Record<string, unknown>[] | Error> {
  const lines: Record<string, unknown>[] = [];
  try {
    for await (
      const line of callNode(stateDir, {
        op: "submit",
        spec: structuredClone(spec),
        uploads: [{ path, name: "x" }],
        wait: false,
        proof: PROOF,
      })
    ) lines.push(line);
  } catch (err) {
    return err as Error;
  }
  return lines;
}

Deno.test("profile node: uploads outside the staged files (/etc/shadow, elsewhere, a link out) are refused, nothing published", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const elsewhere = await Deno.makeTempDir({ prefix: "turnpike-elsewhere-" });
  const { requester, published, submitted } = fakeNodeRequester();
  await using _node = await startNode(stateDir, requester);
  try {
    await Deno.writeTextFile(`${elsewhere}/secret.txt`, "not the caller's to publish");
    // A link with a staged-looking name in uploads/, pointing out of it.
    const link = await stagedUploadPath(stateDir);
    await Deno.symlink("/etc/shadow", link);
    const linkedDir = `${stateDir}/uploads-link`;
    await Deno.symlink(elsewhere, linkedDir);
    for (
      const path of [
        "/etc/shadow",
        `${elsewhere}/secret.txt`,
        link,
        `${stateDir}/uploads/../uploads/${link.slice(link.lastIndexOf("/") + 1)}`,
        `${linkedDir}/secret.txt`,
        `${stateDir}/uploads`,
      ]
    ) {
      const answer = await submitUpload(stateDir, path);
      assert(answer instanceof Error, `${path}: not refused`);
      assert(/refused/.test(answer.message), answer.message);
    }
    assertEquals(published, []);
    assertEquals(submitted, []);
    // A file the command staged is published.
    await Deno.writeTextFile(`${elsewhere}/data.csv`, "a,b\n");
    const staged = await stageUpload({ stateDir, path: `${elsewhere}/data.csv` });
    const lines = await submitUpload(stateDir, staged);
    assert(!(lines instanceof Error), String(lines));
    assert(lines.some((l) => l.type === "record"), lines.map((l) => l.type).join());
    assertEquals(published, [staged]);
    assertEquals((await Deno.stat(`${stateDir}/uploads`)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("profile node: 256 connections holding a slot do not keep a command out", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-node-" });
  const { requester } = fakeNodeRequester();
  await using _node = await startNode(stateDir, requester);
  const held: Deno.UnixConn[] = [];
  try {
    for (let i = 0; i < 256; i++) {
      held.push(await Deno.connect({ transport: "unix", path: nodeSocketPath(stateDir) }));
    }
    // Let the node accept them all.
    await new Promise((r) => setTimeout(r, 200));
    const lines: Record<string, unknown>[] = [];
    for await (const line of callNode(stateDir, { op: "hello" })) lines.push(line);
    assertEquals(lines[0]?.type, "hello");
  } finally {
    for (const conn of held) {
      try {
        conn.close();
      } catch {
        // closed by the node
      }
    }
    await Deno.remove(stateDir, { recursive: true });
  }
});
