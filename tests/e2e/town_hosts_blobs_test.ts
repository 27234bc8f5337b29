/**
 * Blobs on a town of several processes that share no directory, as on separate hosts (real
 * `startTownNode` processes, a real PostgreSQL server for events and the blob index, each process
 * with its own blob directory and private fetch listener): paid through one process and uploaded
 * through another; downloaded through another that fetches the bytes by hash from a holder,
 * skipping a holder that was killed; served from the kept copy after every holder is gone; a
 * blob whose only holder is dead is a prompt 503 with a reason, never a hang.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../../harness/town_test_node.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import {
  downloadBlob,
  payBlob as payKitBlob,
  randomBytes,
  sha256Hex,
  uploadBlob,
} from "../../harness/town_blob_kit.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import postgres from "postgres";

const TOWN = "test.town";
const PRICE = 200n;
const payBlob = (payer: PayingClient, sha256: string, size: number) =>
  payKitBlob(payer, sha256, size, PRICE);
const upload = async (p: SharedTownProcess, auth: NostrEvent, body: Uint8Array<ArrayBuffer>) =>
  (await uploadBlob(p.httpPort, auth, body)).status;
const download = (p: SharedTownProcess, sha256: string) => downloadBlob(p.httpPort, sha256);

function connect(p: SharedTownProcess, token: string, townPubkey: string) {
  return connectPayingClient({
    url: `btp+ws://127.0.0.1:${p.btpPort}`,
    token,
    townAddress: TOWN,
    townPubkey,
  });
}

Deno.test("blobs across hosts: index in PostgreSQL, bytes fetched by hash from a holder", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  const townPubkey = getPublicKey(secretKey);
  const clients: PayingClient[] = [];
  try {
    await using a = await startSharedTownProcess({ storeUrl, secretKey, ownBlobs: true });
    await using b = await startSharedTownProcess({ storeUrl, secretKey, ownBlobs: true });
    assert(a.blobPeerUrl !== undefined && b.blobPeerUrl !== undefined, "fetch listeners");
    assert(a.blobPeerUrl !== b.blobPeerUrl);
    const viaA = await connect(a, "pa", townPubkey);
    clients.push(viaA);
    const viaB = await connect(b, "pb", townPubkey);
    clients.push(viaB);

    // Paid through B, uploaded through A: the allowance is town-wide.
    const first = randomBytes(600_000);
    const firstSha = await sha256Hex(first);
    const paid = await payBlob(viaB, firstSha, first.length);
    assertEquals(paid.reply.type, "fulfill", JSON.stringify(paid.reply));
    assertEquals(await upload(a, paid.auth, first), 200);
    // Stored once town-wide: paying again through B is refused as already stored.
    const again = await payBlob(viaB, firstSha, first.length);
    assert(again.reply.type === "reject" && again.reply.message.includes("already-stored"));

    // B does not hold the bytes: it fetches them from A by hash, then serves them.
    assertEquals(await download(b, firstSha), first);

    // A second blob, only ever on A.
    const second = randomBytes(50_000);
    const secondSha = await sha256Hex(second);
    const paid2 = await payBlob(viaA, secondSha, second.length);
    assertEquals(paid2.reply.type, "fulfill", JSON.stringify(paid2.reply));
    assertEquals(await upload(a, paid2.auth, second), 200);

    // Both hold the first blob now. The holder C would try first is killed: C skips it.
    const sql = postgres(storeUrl, { max: 1, onnotice: () => {} });
    const holders = (await sql.unsafe(
      "SELECT url FROM turnpike_blob_holders WHERE sha256 = $1 ORDER BY since DESC, url",
      [firstSha],
    )).map((r) => String(r.url));
    await sql.end();
    assertEquals(new Set(holders), new Set([a.blobPeerUrl, b.blobPeerUrl]));
    const [tried, then] = holders[0] === a.blobPeerUrl ? [a, b] : [b, a];
    await tried.kill();
    await using c = await startSharedTownProcess({ storeUrl, secretKey, ownBlobs: true });
    assertEquals(await download(c, firstSha), first);

    // Every holder is dead now: C serves its own copy; the blob only A held is a 503 with a
    // reason.
    await then.kill();
    assertEquals(await download(c, firstSha), first);
    const gone = await download(c, secondSha);
    assert(!(gone instanceof Uint8Array), "a blob whose holders are dead is not served");
    assertEquals(gone.status, 503, gone.reason);
    assert(gone.reason.includes("could not deliver"), gone.reason);
    // Unknown to the index: 404.
    const unknown = await download(c, "ab".repeat(32));
    assert(!(unknown instanceof Uint8Array));
    assertEquals(unknown.status, 404);
  } finally {
    for (const client of clients) await client.close().catch(() => {});
  }
});
