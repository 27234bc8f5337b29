/**
 * Blobs on a town of several processes on one host (real processes, a real PostgreSQL server
 * for the events, one blob directory they share, `[store] blobs_dir`): a blob paid on one
 * process and uploaded through the other is stored once and downloads from both; the other way
 * round too; a process started later (its store opened on the same directory) serves them all
 * and removes nothing. (Without a shared directory: tests/e2e/town_hosts_blobs_test.ts.)
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
import { buildBlobAuthorization } from "../../protocol/blob_authorization.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { signEventTemplate } from "../../identity/event_signer.ts";

const TOWN = "test.town";
const PRICE = 200n;

/** Pays for a blob over ILP through `payer`'s process; the reply. */
const payBlob = (payer: PayingClient, sha256: string, size: number) =>
  payKitBlob(payer, sha256, size, PRICE);
const upload = (p: SharedTownProcess, auth: NostrEvent, body: Uint8Array<ArrayBuffer>) =>
  uploadBlob(p.httpPort, auth, body);
const download = (p: SharedTownProcess, sha256: string) => downloadBlob(p.httpPort, sha256);

function connect(p: SharedTownProcess, token: string, townPubkey: string) {
  return connectPayingClient({
    url: `btp+ws://127.0.0.1:${p.btpPort}`,
    token,
    townAddress: TOWN,
    townPubkey,
  });
}

Deno.test("shared blobs: paid on one process, uploaded through another, served by all", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const blobsDir = await Deno.makeTempDir({ prefix: "shared_blobs_" });
  const secretKey = generateSecretKey();
  const townPubkey = getPublicKey(secretKey);
  const clients: PayingClient[] = [];
  try {
    await using a = await startSharedTownProcess({ storeUrl, secretKey, blobsDir });
    await using b = await startSharedTownProcess({ storeUrl, secretKey, blobsDir });
    const viaA = await connect(a, "pa", townPubkey);
    clients.push(viaA);
    const viaB = await connect(b, "pb", townPubkey);
    clients.push(viaB);

    // Paid through A, uploaded through B.
    const first = randomBytes(300_000);
    const firstSha = await sha256Hex(first);
    const paidA = await payBlob(viaA, firstSha, first.length);
    assertEquals(paidA.reply.type, "fulfill", JSON.stringify(paidA.reply));
    const upB = await upload(b, paidA.auth, first);
    assertEquals(upB.status, 200, upB.text);
    assertEquals(JSON.parse(upB.text).sha256, firstSha);
    assertEquals(await download(a, firstSha), first);
    assertEquals(await download(b, firstSha), first);

    // Paid through B, uploaded through A.
    const second = randomBytes(70_000);
    const secondSha = await sha256Hex(second);
    const paidB = await payBlob(viaB, secondSha, second.length);
    assertEquals(paidB.reply.type, "fulfill", JSON.stringify(paidB.reply));
    const upA = await upload(a, paidB.auth, second);
    assertEquals(upA.status, 200, upA.text);
    assertEquals(await download(b, secondSha), second);

    // Stored once: paying again for either is refused as already stored, on both processes.
    for (const payer of [viaA, viaB]) {
      const again = await payBlob(payer, firstSha, first.length);
      assert(again.reply.type === "reject" && again.reply.message.includes("already-stored"));
    }
    // An unpaid upload through either is refused (402), and nothing of it is served.
    const unpaid = crypto.getRandomValues(new Uint8Array(1000));
    const unpaidAuth = signEventTemplate(
      buildBlobAuthorization({ verb: "upload", sha256: [await sha256Hex(unpaid)], size: 1000 }),
      viaA.secretKey,
    );
    const refused = await upload(b, unpaidAuth, unpaid);
    assertEquals(refused.status, 402);

    // A process started afterwards opens the same directory: it serves both and removes nothing.
    await using c = await startSharedTownProcess({ storeUrl, secretKey, blobsDir });
    assertEquals(await download(c, firstSha), first);
    assertEquals(await download(c, secondSha), second);
    assertEquals(await download(a, secondSha), second);
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await Deno.remove(blobsDir, { recursive: true });
  }
});
