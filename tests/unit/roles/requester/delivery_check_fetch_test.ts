/**
 * The requester node's check before paying an agent task's delivery (roles/requester/
 * delivery_check.ts) against a hostile result: its sealed blobs are fetched by hash from the
 * profile's towns, never from the URL the tag names, and a blob whose tag states more than a
 * provider may seal is refused before anything is fetched (it would be opened whole in memory
 * after paying). Real HTTP servers on loopback: one plays the requester's town, one a server of
 * the provider's choosing; both count what they are asked.
 */
import { generateSecretKey } from "nostr-tools";
import { checkBeforePaying } from "../../../../roles/requester/delivery_check.ts";
import { commitmentTags, sha256Hex } from "../../../../protocol/delivery_commitment.ts";
import { blobOutputTag } from "../../../../protocol/job_blobs.ts";
import { signEventTemplate } from "../../../../identity/event_signer.ts";
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { withTempDir } from "../../../support/temp_dir.ts";

interface CountingServer {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** Serves `blobs` by path; any other path gets zeros until the reader stops. */
function countingServer(blobs: Map<string, Uint8Array<ArrayBuffer>>): CountingServer {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname.slice(1);
    hits.push(path);
    const body = blobs.get(path);
    if (body !== undefined) return new Response(body);
    const chunk = new Uint8Array(64 * 1024);
    return new Response(
      new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(chunk) }, { highWaterMark: 0 }),
    );
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, hits, close: () => server.shutdown() };
}

/** A signed agent-task result committing to one sealed bundle, its blob tag naming `url`. */
function resultEvent(o: { url: string; sha256: string; size: number }) {
  const hex = () => sha256Hex(crypto.getRandomValues(new Uint8Array(8)));
  return signEventTemplate({
    kind: 6603,
    created_at: Math.floor(Date.now() / 1000),
    tags: [
      ...commitmentTags({
        key: hex(),
        sealedKey: hex(),
        blobs: [{ name: "result.bundle.sealed", sealed: o.sha256, plain: hex() }],
      }),
      blobOutputTag({ name: "result.bundle.sealed", ...o }),
    ],
    content: "",
  }, generateSecretKey());
}

const JOB = "ab".repeat(32);

Deno.test("before paying a delivery, its sealed blob is fetched by hash from the requester's town, never from the server its tag names", async () => {
  await withTempDir(async (stateDir) => {
    const sealed = crypto.getRandomValues(new Uint8Array(50_000));
    const sha256 = sha256Hex(sealed);
    const town = countingServer(new Map([[sha256, sealed]]));
    // The provider's server has the very bytes: only where they are fetched from differs.
    const foreign = countingServer(new Map([[sha256, sealed]]));
    try {
      const event = resultEvent({ url: `${foreign.url}/${sha256}`, sha256, size: sealed.length });
      const refused = await checkBeforePaying({ stateDir, id: JOB, event, towns: [town.url] });
      assertEquals(refused, undefined);
      assertEquals(await Deno.readFile(`${stateDir}/results/${JOB}/result.bundle.sealed`), sealed);
      assertEquals([town.hits, foreign.hits], [[sha256], []]);
    } finally {
      await town.close();
      await foreign.close();
    }
  });
});

Deno.test("before paying a delivery, a sealed blob whose tag states more than a provider may seal is refused and nothing is fetched", async () => {
  await withTempDir(async (stateDir) => {
    const sha256 = "cd".repeat(32);
    const town = countingServer(new Map());
    const foreign = countingServer(new Map());
    try {
      const event = resultEvent({
        url: `${foreign.url}/${sha256}`,
        sha256,
        size: 64 * 1024 * 1024,
      });
      const refused = await checkBeforePaying({ stateDir, id: JOB, event, towns: [town.url] });
      assert(
        /result\.bundle\.sealed is 67108864 bytes, over the \d+ a provider may seal/.test(
          refused ?? "",
        ),
        refused,
      );
      assertEquals([town.hits, foreign.hits], [[], []]);
    } finally {
      await town.close();
      await foreign.close();
    }
  });
});

Deno.test("before paying a delivery, the requester's own disk failing to store its sealed blob throws (the job waits) instead of refusing the provider's delivery", async () => {
  await withTempDir(async (stateDir) => {
    const sealed = crypto.getRandomValues(new Uint8Array(5_000));
    const sha256 = sha256Hex(sealed);
    const town = countingServer(new Map([[sha256, sealed]]));
    try {
      const event = resultEvent({ url: `${town.url}/${sha256}`, sha256, size: sealed.length });
      // A folder, not empty, where the blob goes: the rename into place fails on this disk.
      await Deno.mkdir(`${stateDir}/results/${JOB}/result.bundle.sealed/taken`, {
        recursive: true,
      });
      const outcome = await checkBeforePaying({ stateDir, id: JOB, event, towns: [town.url] })
        .then((refused) => ({ refused }), (err: Error) => ({ thrown: err.name }));
      assertEquals(outcome, { thrown: "BlobWriteError" });
      assertEquals(town.hits, [sha256]);
    } finally {
      await town.close();
    }
  });
});
