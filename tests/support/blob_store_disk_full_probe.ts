/**
 * Run by the blob store's disk-full test inside its own mount namespace, on a store whose
 * directory is a tiny tmpfs: pays for and uploads a blob larger than the filesystem, then prints
 * one JSON line of what the store did (`status` of the refusal, whether anything is visible,
 * what `incoming/` holds, whether the allowance survived).
 *
 * Usage: deno run -A tests/support/blob_store_disk_full_probe.ts <store dir> <size>
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { BlobStoreError, openBlobStore } from "../../state/blobs/blob_store.ts";

const [dir, sizeText] = Deno.args;
const size = Number(sizeText);
const bytes = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
const hash = bytesToHex(sha256(bytes));
const pubkey = "a".repeat(64);
const blobs = await openBlobStore({ dir, maxBlobBytes: size * 2 });
blobs.recordPayment({ sha256: hash, size, pubkey, amount: 1n });
let status = 0;
let message = "";
try {
  await blobs.receive({ sha256: hash, size, pubkey, body: ReadableStream.from([bytes]) });
} catch (err) {
  if (!(err instanceof BlobStoreError)) throw err;
  [status, message] = [err.status, err.message];
}
console.log(JSON.stringify({
  status,
  message,
  visible: blobs.get(hash) !== undefined,
  incoming: [...Deno.readDirSync(`${dir}/incoming`)].length,
  allowance: blobs.allowance(hash, pubkey) !== undefined,
}));
blobs.close();
