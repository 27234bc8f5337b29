/**
 * Blob helpers shared by the tests of town processes: random bytes and their sha256, a blob paid
 * for over ILP (a BUD-02 upload authorization as the paid write, at the blob's price), an upload
 * and a download over the town's HTTP port. Every request is bounded by a hang guard, not a
 * timing assertion.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { IlpReply } from "../protocol/ilp_packet.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { authorizationHeader, buildBlobAuthorization } from "../protocol/blob_authorization.ts";
import { priceBlob } from "../protocol/blob_pricing.ts";
import { signEventTemplate } from "../identity/event_signer.ts";
import { buildPaidWrite } from "../roles/town_client/spsp_handshake.ts";
import type { PayingClient } from "./town_test_node.ts";

/** A hang guard on each request, not a timing assertion. */
const GUARD_MS = 60_000;

/**
 * Random bytes (getRandomValues gives at most 64 KiB a call).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomBytes } from "./town_blob_kit.ts";
 *
 * assert.equal(randomBytes(100_000).length, 100_000);
 * ```
 */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/**
 * The bytes' sha256, lowercase hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./town_blob_kit.ts";
 *
 * const hex = "709e80c88487a2411e1ee4dfb9f22a861492d20c4765150c0c794abd70f8147c";
 * assert.equal(await sha256Hex(new Uint8Array(3)), hex);
 * ```
 */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/**
 * Pays for a blob over ILP through the payer's connection, at `pricePerMiB`: the town's reply and
 * the signed upload authorization.
 *
 * It pays a town, so it has no example here: tests/e2e/town_hosts_blobs_test.ts and
 * tests/e2e/job_results_save_fetch_test.ts pay for their blobs with it.
 */
export async function payBlob(
  payer: Pick<PayingClient, "client" | "grant" | "secretKey">,
  sha256: string,
  size: number,
  pricePerMiB: bigint,
): Promise<{ reply: IlpReply; auth: NostrEvent }> {
  const auth = signEventTemplate(
    buildBlobAuthorization({ verb: "upload", sha256: [sha256], size }),
    payer.secretKey,
  );
  const { prepare } = await buildPaidWrite({
    event: auth,
    grant: payer.grant,
    pricePerByte: 0n,
    amount: priceBlob(size, pricePerMiB),
  });
  return { reply: await payer.client.sendPrepare(prepare), auth };
}

/**
 * `PUT /upload` to the town process on `httpPort`: the status and the body's text.
 *
 * It needs a town, so it has no example here: tests/e2e/town_blob_test.ts uploads with it.
 */
export async function uploadBlob(
  httpPort: number,
  auth: NostrEvent,
  body: Uint8Array<ArrayBuffer>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/upload`, {
    method: "PUT",
    headers: { authorization: authorizationHeader(auth), "content-length": String(body.length) },
    body,
    signal: AbortSignal.timeout(GUARD_MS),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * `GET /<sha256>` from the town process on `httpPort`: the bytes, or the status and the
 * `X-Reason` header when it is not 200.
 *
 * It needs a town, so it has no example here: tests/e2e/town_blob_test.ts downloads with it.
 */
export async function downloadBlob(
  httpPort: number,
  sha256: string,
): Promise<Uint8Array | { status: number; reason: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/${sha256}`, {
    signal: AbortSignal.timeout(GUARD_MS),
  });
  if (res.status !== 200) {
    const reason = res.headers.get("x-reason") ?? "";
    await res.body?.cancel();
    return { status: res.status, reason };
  }
  return new Uint8Array(await res.arrayBuffer());
}
