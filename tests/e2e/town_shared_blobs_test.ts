/**
 * Blobs on a town of several processes on one host (real processes, a real PostgreSQL server
 * for the events, one blob directory they share, `[store] blobs_dir`): a blob paid on one
 * process and uploaded through the other is stored once and downloads from both; the other way
 * round too; a process started later (its store opened on the same directory) serves them all
 * and removes nothing. (Without a shared directory: tests/e2e/town_hosts_blobs_test.ts.)
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals } from "../support/assert.ts";
import { freshDatabase } from "../support/postgres_database.ts";
import { type SharedTownProcess, startSharedTownProcess } from "../support/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../support/town_test_node.ts";
import { startPostgresServer } from "../../state/postgres_server.ts";
import { buildPaidWrite } from "../../roles/town_client/spsp_handshake.ts";
import { authorizationHeader, buildBlobAuthorization } from "../../protocol/blob_authorization.ts";
import { priceBlob } from "../../protocol/blob_pricing.ts";
import { signEventTemplate } from "../../identity/event_signer.ts";
import { bytesToHex } from "@noble/hashes/utils.js";

const TOWN = "test.town";
const PRICE = 200n;

/** Random bytes (getRandomValues gives at most 64 KiB a call). */
function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/** Pays for a blob over ILP through `payer`'s process; the reply. */
async function payBlob(payer: PayingClient, sha256: string, size: number) {
  const auth = signEventTemplate(
    buildBlobAuthorization({ verb: "upload", sha256: [sha256], size }),
    payer.secretKey,
  );
  const { prepare } = await buildPaidWrite({
    event: auth,
    grant: payer.grant,
    pricePerByte: 0n,
    amount: priceBlob(size, PRICE),
  });
  return { reply: await payer.client.sendPrepare(prepare), auth };
}

async function upload(
  p: SharedTownProcess,
  auth: ReturnType<typeof signEventTemplate>,
  body: Uint8Array<ArrayBuffer>,
) {
  return await fetch(`http://127.0.0.1:${p.httpPort}/upload`, {
    method: "PUT",
    headers: { authorization: authorizationHeader(auth), "content-length": String(body.length) },
    body,
  });
}

async function download(p: SharedTownProcess, sha256: string): Promise<Uint8Array | number> {
  const res = await fetch(`http://127.0.0.1:${p.httpPort}/${sha256}`);
  if (res.status !== 200) {
    await res.body?.cancel();
    return res.status;
  }
  return new Uint8Array(await res.arrayBuffer());
}

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
    assertEquals(upB.status, 200, await upB.clone().text());
    assertEquals((await upB.json()).sha256, firstSha);
    assertEquals(await download(a, firstSha), first);
    assertEquals(await download(b, firstSha), first);

    // Paid through B, uploaded through A.
    const second = randomBytes(70_000);
    const secondSha = await sha256Hex(second);
    const paidB = await payBlob(viaB, secondSha, second.length);
    assertEquals(paidB.reply.type, "fulfill", JSON.stringify(paidB.reply));
    const upA = await upload(a, paidB.auth, second);
    assertEquals(upA.status, 200, await upA.clone().text());
    await upA.body?.cancel();
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
    await refused.body?.cancel();
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
