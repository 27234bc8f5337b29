/**
 * A delivery checked against its commitment (protocol/delivery_commitment.ts), and the proof a
 * requester keeps when it fails (docs/PROTOCOL.md "Paid on delivery"). The hashlock sells the
 * fulfillment: paying always releases it. What it opens is the provider's word, signed in the
 * result's tags; a key or a sealed blob that breaks that word is a proof anyone can check with
 * the signed result, the fulfillment and the sealed key (and, for a blob, its bytes by hash).
 *
 * Each sealed blob opens with the result key or a key derived from it
 * (`BLOB_KEY_LABELS`, agent_task_wire.ts). A failure is data (`what`, `name`, `reason`):
 * - `key`: the key the fulfillment releases is not the one committed to;
 * - `sealed-key`: the sealed key does not open with the fulfillment;
 * - `blob`: a committed blob does not open with the key, or opens to other bytes.
 *
 * @module
 */
import { deliveryProofFile } from "../../state/jobs/delivery_proof_file.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  type CommittedBlob,
  type DeliveryCommitment,
  parseDeliveryCommitment,
  sha256Hex,
} from "../../protocol/delivery_commitment.ts";
import { openDeliveryKey } from "../../protocol/delivery_key.ts";
import { verifyEvent } from "../../protocol/event_verifier.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { derivedBlobKey, openBlob } from "./sealed_blob.ts";
import { DeliveryProofError } from "./agent_work_errors.ts";
import { BLOB_KEY_LABELS } from "./agent_task_wire.ts";

/** What part of a delivery broke its commitment. */
export type DeliveryFailureKind = "key" | "sealed-key" | "blob";

/** One broken promise. */
export interface DeliveryFailure {
  what: DeliveryFailureKind;
  /** The blob's name (`blob` only). */
  name?: string;
  /** The blob's sealed sha256 (`blob` only): fetch it by hash to check. */
  sha256?: string;
  reason: string;
}

/** What {@linkcode checkDelivery} found. */
export interface DeliveryCheck {
  failures: DeliveryFailure[];
  /** The blobs that opened to their committed bytes, by name. */
  opened: Map<string, Uint8Array<ArrayBuffer>>;
}

/** Options of {@linkcode checkDelivery}. */
export interface CheckDeliveryOptions {
  commitment: DeliveryCommitment;
  /** The result key the fulfillment released (64 hex). */
  key: string;
  /** The sealed bytes of a committed blob (already checked against `blob.sealed`). */
  blob: (blob: CommittedBlob) => Promise<Uint8Array<ArrayBuffer>>;
}

/**
 * Checks a released key and the sealed blobs against the commitment.
 *
 * @example
 * ```ts
 * import { bytesToHex } from "@noble/hashes/utils.js";
 * import { sha256Hex } from "../../protocol/delivery_commitment.ts";
 * import { checkDelivery } from "./delivery_proof.ts";
 * import { sealBlob } from "./sealed_blob.ts";
 *
 * const plain = new TextEncoder().encode("bundle");
 * const { sealed, key } = await sealBlob(plain);
 * const blob = { name: "result.bundle.sealed", sealed: sha256Hex(sealed), plain: sha256Hex(plain) };
 * const commitment = { key: sha256Hex(key), sealedKey: "00".repeat(32), blobs: [blob] };
 * const found = await checkDelivery({ commitment, key: bytesToHex(key), blob: () => Promise.resolve(sealed) });
 * if (found.failures.length !== 0) throw new Error();
 * ```
 */
export async function checkDelivery(o: CheckDeliveryOptions): Promise<DeliveryCheck> {
  const failures: DeliveryFailure[] = [];
  const opened = new Map<string, Uint8Array<ArrayBuffer>>();
  if (sha256Hex(o.key) !== o.commitment.key) {
    failures.push({
      what: "key",
      reason: `the released key's sha256 is ${
        sha256Hex(o.key)
      }, the commitment's ${o.commitment.key}`,
    });
  }
  for (const b of o.commitment.blobs) {
    const fail = (reason: string) =>
      failures.push({ what: "blob", name: b.name, sha256: b.sealed, reason });
    const sealed = await o.blob(b);
    if (sha256Hex(sealed) !== b.sealed) {
      throw new RangeError(`the bytes given for ${b.name} are not the committed blob ${b.sealed}`);
    }
    let key = hexToBytes(o.key) as Uint8Array<ArrayBuffer>;
    const label = BLOB_KEY_LABELS[b.name];
    if (label !== undefined) key = await derivedBlobKey(key, label);
    const plain = await openBlob(sealed, key).catch((err: Error) => err);
    if (plain instanceof Error) fail(`${b.name} does not open with the key: ${plain.message}`);
    else if (sha256Hex(plain) !== b.plain) {
      fail(`${b.name} opens to bytes of sha256 ${sha256Hex(plain)}, not the committed ${b.plain}`);
    } else opened.set(b.name, plain);
  }
  return { failures, opened };
}

/** A proof that a provider's delivery broke its commitment; JSON, publishable as it is. */
export interface DeliveryProof {
  type: "turnpike-delivery-proof";
  version: 1;
  /** The job (request event id). */
  job: string;
  /** The provider's Nostr key, the result's signer. */
  provider: string;
  /** The result event as signed: its tags hold the commitment and the delivery invoice. */
  result: NostrEvent;
  /** The delivery's fulfillment (64 hex): its sha256 is the invoice's condition. */
  fulfillment: string;
  /** The sealed key (80 hex) of the result's content: its sha256 is committed to. */
  sealedKey: string;
  /** The key the fulfillment opens from it (64 hex), or absent when it does not open. */
  key?: string;
  failures: DeliveryFailure[];
}

/** Options of {@linkcode openDelivery}. */
export interface OpenDeliveryOptions {
  /** The signed result event. */
  result: NostrEvent;
  /** Its sealed key (from its opened content). */
  sealedKey: string;
  /** The delivery's fulfillment (64 hex). */
  fulfillment: string;
  /** A committed blob's sealed bytes (checked against its hash by the caller). */
  blob: (blob: CommittedBlob) => Promise<Uint8Array<ArrayBuffer>>;
  /** The job id. */
  job: string;
}

/**
 * Opens a paid delivery: the key, then each committed blob. Returns the opened blobs and, when
 * anything broke the commitment, the proof.
 *
 * It needs a paid delivery: no example that runs here: tests/e2e/agent_delivery_proof_test.ts.
 */
export async function openDelivery(
  o: OpenDeliveryOptions,
): Promise<{ proof?: DeliveryProof; opened: Map<string, Uint8Array<ArrayBuffer>> }> {
  const commitment = parseDeliveryCommitment(o.result.tags);
  if (commitment === undefined) throw new RangeError("the result carries no commitment");
  const proof = (key: string | undefined, failures: DeliveryFailure[]): DeliveryProof => ({
    type: "turnpike-delivery-proof",
    version: 1,
    job: o.job,
    provider: o.result.pubkey,
    result: o.result,
    fulfillment: o.fulfillment,
    sealedKey: o.sealedKey,
    ...(key === undefined ? {} : { key }),
    failures,
  });
  const key = await openDeliveryKey(o.sealedKey, hexToBytes(o.fulfillment)).catch(() => undefined);
  if (key === undefined) {
    const reason = "the sealed key does not open with the fulfillment";
    return { proof: proof(undefined, [{ what: "sealed-key", reason }]), opened: new Map() };
  }
  const found = await checkDelivery({ commitment, key, blob: o.blob });
  return {
    ...(found.failures.length > 0 ? { proof: proof(key, found.failures) } : {}),
    opened: found.opened,
  };
}

/**
 * Verifies a proof as anyone may: the result's signature, the fulfillment against the signed
 * invoice's condition, the sealed key against the committed hash, then the key and each failed
 * blob (fetched with `blob` by its sealed hash) against the commitment. Returns the failures it
 * found again (at least one); throws {@linkcode DeliveryProofError} when the proof does not hold.
 *
 * It needs a paid delivery and its blobs: no example that runs here:
 * tests/e2e/agent_delivery_proof_test.ts.
 */
export async function verifyDeliveryProof(
  proof: DeliveryProof,
  blob: (sha256: string) => Promise<Uint8Array<ArrayBuffer>>,
): Promise<DeliveryFailure[]> {
  const bad = (why: string) => new DeliveryProofError(`the proof does not hold: ${why}`);
  try {
    verifyEvent(proof.result);
  } catch (err) {
    throw bad(`the result's signature: ${(err as Error).message}`);
  }
  if (proof.result.pubkey !== proof.provider) throw bad("the result is not the provider's");
  const commitment = parseDeliveryCommitment(proof.result.tags);
  if (commitment === undefined) throw bad("the result carries no commitment");
  const invoice = proof.result.tags.find((t) => t[0] === "amount")?.[2];
  if (invoice === undefined) throw bad("the result carries no delivery invoice");
  if (parseIlpInvoice(invoice).condition !== sha256Hex(proof.fulfillment)) {
    throw bad("the fulfillment is not the invoice's preimage");
  }
  if (sha256Hex(proof.sealedKey) !== commitment.sealedKey) {
    throw bad("the sealed key is not the one committed to");
  }
  const key = await openDeliveryKey(proof.sealedKey, hexToBytes(proof.fulfillment))
    .catch(() => undefined);
  if (key === undefined) {
    return [{ what: "sealed-key", reason: "the sealed key does not open with the fulfillment" }];
  }
  // Only the blobs the proof names are fetched: a key that breaks its hash needs none.
  const named = new Set(proof.failures.flatMap((f) => f.name ?? []));
  const found = await checkDelivery({
    commitment: { ...commitment, blobs: commitment.blobs.filter((b) => named.has(b.name)) },
    key,
    blob: (b) => blob(b.sealed),
  });
  if (found.failures.length === 0) throw bad("the key and the blobs keep the commitment");
  return found.failures;
}

/**
 * Keeps a proof (0600, under a 0700 dir) at {@linkcode deliveryProofFile}; its path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { type DeliveryProof, keepDeliveryProof } from "./delivery_proof.ts";
 *
 * const result = finalizeEvent({ kind: 6600, created_at: 1, tags: [], content: "" }, generateSecretKey());
 * const proof: DeliveryProof = {
 *   type: "turnpike-delivery-proof",
 *   version: 1,
 *   job: "5c83".repeat(16),
 *   provider: result.pubkey,
 *   result,
 *   fulfillment: "00".repeat(32),
 *   sealedKey: "00".repeat(40),
 *   failures: [],
 * };
 * const stateDir = await Deno.makeTempDir();
 * const path = await keepDeliveryProof(stateDir, proof);
 * assert.equal(path, `${stateDir}/proofs/${proof.job}.json`);
 * assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), JSON.parse(JSON.stringify(proof)));
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function keepDeliveryProof(stateDir: string, proof: DeliveryProof): Promise<string> {
  await Deno.mkdir(`${stateDir}/proofs`, { recursive: true, mode: 0o700 });
  const path = deliveryProofFile(stateDir, proof.job);
  await Deno.writeTextFile(path, JSON.stringify(proof, null, 2) + "\n", { mode: 0o600 });
  return path;
}

export { deliveryProofFile };
