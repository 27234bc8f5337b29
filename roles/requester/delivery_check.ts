/**
 * The requester's checks of a delivery against its commitment (protocol/delivery_commitment.ts,
 * docs/PROTOCOL.md "Paid on delivery"), around the payment of an agent-task's delivery invoice:
 *
 * - before paying ({@linkcode checkBeforePaying}): the result commits to every sealed blob it
 *   names, at the hash its `blob` tag says, within what a provider may seal, and each is
 *   downloaded by that hash from the profile's towns (never from the URL the tag names) into
 *   `results/<id>/<name>`. A result without a commitment, a blob it does not commit to or over
 *   that size, a committed blob no town has or whose bytes have another hash or size: the
 *   reason, and the delivery is not paid.
 * - after paying ({@linkcode checkAfterPaying}): the key the fulfillment released and the sealed
 *   blobs downloaded, against the commitment; what broke it is kept as a proof
 *   (`proofs/<id>.json`, roles/agent_work/delivery_proof.ts) and its path returned.
 *
 * @module
 */
import {
  type CommittedBlob,
  parseDeliveryCommitment,
  sha256Hex,
} from "../../protocol/delivery_commitment.ts";
import { blobOutputsOf } from "../../protocol/job_blobs.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { fetchBlobFromTowns } from "./town_blob_fetch.ts";
import { BlobWriteError } from "../../transport/blossom_client.ts";
import { sealedBlobMax } from "../agent_work/requester/sealed_result.ts";
import { keepDeliveryProof, openDelivery } from "../agent_work/delivery_proof.ts";

/** Options of {@linkcode checkBeforePaying}. */
export interface CheckBeforePayingOptions {
  stateDir: string;
  /** The job's id. */
  id: string;
  /** The signed result event. */
  event: NostrEvent;
  /**
   * The profile's towns' Blossom servers (HTTP URLs): the sealed blobs are fetched by hash from
   * these, never from the URL the result names (the provider's word).
   */
  towns: readonly string[];
}

/** Where a delivery's sealed blob is kept once downloaded. */
function sealedPath(stateDir: string, id: string, name: string): string {
  return `${stateDir}/results/${id}/${name}`;
}

/**
 * Why the delivery must not be paid, or undefined when its sealed blobs keep the commitment.
 *
 * It fetches from towns: no example that runs here:
 * tests/unit/roles/requester/delivery_check_fetch_test.ts.
 */
export async function checkBeforePaying(
  o: CheckBeforePayingOptions,
): Promise<string | undefined> {
  let commitment;
  try {
    commitment = parseDeliveryCommitment(o.event.tags);
  } catch (err) {
    return `its commitment: ${(err as Error).message}`;
  }
  if (commitment === undefined) return "the result commits to nothing its key opens";
  const named = blobOutputsOf(o.event.tags);
  for (const blob of named) {
    const committed = commitment.blobs.find((c) => c.name === blob.name);
    if (committed === undefined) return `the result does not commit to its blob ${blob.name}`;
    if (committed.sealed !== blob.sha256) {
      return `the blob ${blob.name} is ${blob.sha256}, the commitment says ${committed.sealed}`;
    }
    // Opened whole in memory after paying (one AES-GCM seal over each blob): never more than a
    // provider may seal, refused before a byte is fetched.
    const max = sealedBlobMax(blob.name);
    if (max === undefined) return `the blob ${blob.name} is not one a provider seals`;
    if (!(blob.size <= max)) {
      return `the blob ${blob.name} is ${blob.size} bytes, over the ${max} a provider may seal`;
    }
  }
  await Deno.mkdir(`${o.stateDir}/results/${o.id}`, { recursive: true, mode: 0o700 });
  const wanted: { c: (typeof commitment.blobs)[number]; size: number }[] = [];
  for (const c of commitment.blobs) {
    const blob = named.find((b) => b.name === c.name);
    if (blob === undefined) return `the committed blob ${c.name} is not in the result`;
    wanted.push({ c, size: blob.size });
  }
  // All at once (an agent-task's bundle and transcript); the first refusal in their order.
  const refused = await Promise.all(wanted.map(async ({ c, size }) => {
    try {
      await fetchBlobFromTowns({
        servers: o.towns,
        sha256: c.sealed,
        maxBytes: size,
        to: sealedPath(o.stateDir, o.id, c.name),
      });
      return undefined;
    } catch (err) {
      // This disk's failure is not the provider's: thrown, the job waits for its result again
      // (read again when the node restarts) rather than declining a delivery that may be good.
      if (err instanceof BlobWriteError) throw err;
      return `the committed blob ${c.name} (${c.sealed}): ${(err as Error).message}`;
    }
  }));
  return refused.find((why) => why !== undefined);
}

/** Options of {@linkcode checkAfterPaying}. */
export interface CheckAfterPayingOptions extends CheckBeforePayingOptions {
  /** The result's opened content (its `sealedKey`). */
  content: string;
  /** The fulfillments of the job's paid invoices (hex). */
  fulfillments: readonly string[];
}

/**
 * The path of the proof kept when the paid delivery breaks its commitment; undefined when it
 * keeps it (or is not a commitment's: nothing to check).
 *
 * It needs a paid delivery: no example that runs here: tests/e2e/agent_delivery_proof_test.ts.
 */
export async function checkAfterPaying(
  o: CheckAfterPayingOptions,
): Promise<string | undefined> {
  const invoice = o.event.tags.find((t) => t[0] === "amount")?.[2];
  if (invoice === undefined || parseDeliveryCommitment(o.event.tags) === undefined) return;
  const condition = parseIlpInvoice(invoice).condition;
  const fulfillment = o.fulfillments.find((f) => sha256Hex(f) === condition);
  let sealedKey: unknown;
  try {
    sealedKey = (JSON.parse(o.content) as { sealedKey?: unknown }).sealedKey;
  } catch { /* not a report */ }
  if (fulfillment === undefined || typeof sealedKey !== "string") return;
  const { proof } = await openDelivery({
    result: o.event,
    sealedKey,
    fulfillment,
    job: o.id,
    blob: (c: CommittedBlob) => Deno.readFile(sealedPath(o.stateDir, o.id, c.name)),
  });
  return proof === undefined ? undefined : await keepDeliveryProof(o.stateDir, proof);
}
