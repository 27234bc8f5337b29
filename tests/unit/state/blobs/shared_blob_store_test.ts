/**
 * The blob store of a town on several hosts against a real PostgreSQL server: a blob received by
 * one process is fetched by hash by another through the holder's real fetch listener; a holder
 * that sends other bytes (a stand-in server, named for what it does) is skipped and nothing of
 * its bytes is kept; with only such holders the answer is 503 and the blob stays unheld here.
 */
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { freshDatabase } from "../../../../harness/postgres_database.ts";
import { startPostgresServer } from "../../../../state/postgres/postgres_server.ts";
import { openBlobStore } from "../../../../state/blobs/blob_store.ts";
import { BlobStoreError } from "../../../../state/blobs/blob_store.ts";
import { PostgresBlobIndex } from "../../../../state/postgres/postgres_blob_index.ts";
import { openSharedBlobStore } from "../../../../state/blobs/shared_blob_store.ts";
import { startBlobPeerListener } from "../../../../roles/town/blobs/blob_peer_listener.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import postgres from "postgres";

const PUBKEY = "a1".repeat(32);

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

Deno.test("shared blob store: fetched by hash from a holder, a lying holder skipped", async () => {
  await using pg = await startPostgresServer();
  const url = await freshDatabase(pg.url);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const dirA = await Deno.makeTempDir({ prefix: "shared_blobs_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "shared_blobs_b_" });
  const localA = await openBlobStore({ dir: dirA });
  const localB = await openBlobStore({ dir: dirB });
  const listenerA = startBlobPeerListener({ blobs: localA, hostname: "127.0.0.1" });
  // Answers a fetch with bytes of the blob's length but another hash.
  const sizes = new Map<string, number>();
  const liar = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const size = sizes.get(new URL(req.url).pathname.slice(1)) ?? 0;
      return new Response(new Uint8Array(size).fill(7));
    },
  );
  try {
    const index = await PostgresBlobIndex.open(sql);
    const a = await openSharedBlobStore({ local: localA, index, selfUrl: listenerA.url });
    const b = await openSharedBlobStore({ local: localB, index, selfUrl: "http://127.0.0.1:9" });
    const bytes = crypto.getRandomValues(new Uint8Array(50_000));
    const sha256 = await sha256Hex(bytes);
    sizes.set(sha256, bytes.length);
    assertEquals(
      await a.recordPayment({ sha256, size: bytes.length, pubkey: PUBKEY, amount: 10n }),
      "recorded",
    );
    const record = await a.receive({
      sha256,
      size: bytes.length,
      pubkey: PUBKEY,
      body: new Blob([bytes]).stream(),
    });
    // The liar is recorded as the newest holder, so B tries it first.
    const liarUrl = `http://127.0.0.1:${liar.addr.port}`;
    await index.addHolder(sha256, liarUrl, record.uploaded + 100);
    assertEquals((await index.holders(sha256))[0], liarUrl);
    const path = await b.localFile(record);
    assertEquals(new Uint8Array(await Deno.readFile(path)), bytes);
    assertEquals(b.fetched, 1);

    // A blob held only by the liar: 503, and B keeps nothing of it.
    const other = crypto.getRandomValues(new Uint8Array(1000));
    const otherSha = await sha256Hex(other);
    sizes.set(otherSha, other.length);
    await a.recordPayment({ sha256: otherSha, size: other.length, pubkey: PUBKEY, amount: 1n });
    const otherRecord = await a.receive({
      sha256: otherSha,
      size: other.length,
      pubkey: PUBKEY,
      body: new Blob([other]).stream(),
    });
    await sql.unsafe("DELETE FROM turnpike_blob_holders WHERE sha256 = $1", [otherSha]);
    await index.addHolder(otherSha, liarUrl, otherRecord.uploaded);
    const err = await assertRejects(() => b.localFile(otherRecord), BlobStoreError);
    assertEquals(err.status, 503);
    assert(err.message.includes("sha256 mismatch"), err.message);
    assertEquals(localB.get(otherSha), undefined);
    assertEquals([...Deno.readDirSync(`${dirB}/incoming`)].length, 0);
  } finally {
    await liar.shutdown();
    await listenerA.close();
    localA.close();
    localB.close();
    await sql.end();
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});
