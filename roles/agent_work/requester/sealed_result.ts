/**
 * An agent task's result coming in, up to its opened bytes (docs/PROTOCOL.md "Paid on delivery",
 * docs/ARCHITECTURE.md "One agent task, from `job submit` to `--apply`"): the key sealed with the
 * delivery's fulfillment, released once a payment of the job holds that fulfillment; each sealed
 * blob fetched by hash from the profile's towns within what a provider may seal; opened with the
 * key (the transcript with the key derived from it). Also what `job results --save` and `--proof`
 * read.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { releasedDeliveryKey } from "../../../protocol/delivery_key.ts";
import { blobOutputsOf, type JobBlobOutput } from "../../../protocol/job_blobs.ts";
import type { RequesterJobRecord } from "../../../state/jobs/job_record.ts";
import { fetchBlobFromTowns } from "../../requester/town_blob_fetch.ts";
import { derivedBlobKey, openBlob, SEALED_BLOB_OVERHEAD } from "../sealed_blob.ts";
import { DEFAULT_RESULT_BUNDLE_MAX } from "../result_apply.ts";
import { TRANSCRIPT_MAX_KEPT_BYTES } from "../provider/job_out_files.ts";
import { type DeliveryProof, deliveryProofFile } from "../delivery_proof.ts";
import { agentTranscriptFile } from "../../../state/jobs/agent_task_record.ts";
import {
  SEALED_RESULT_NAME as SEALED_BUNDLE,
  SEALED_TRANSCRIPT_NAME as SEALED_TRANSCRIPT,
  TRANSCRIPT_KEY_LABEL,
} from "../agent_task_wire.ts";
import { AgentResultRefusedError, NoDeliveryProofError } from "./requester_agent_errors.ts";

/**
 * The most each sealed blob may have: what a provider may seal (roles/agent_work/provider/
 * agent_task_runner.ts), whatever size its tag states. Fetched streaming to disk, but opened in
 * memory (one AES-GCM seal over the whole blob, ../sealed_blob.ts), so these bound what
 * `--apply` and `--save` hold (docs/AGENTS.md "A coding agent's task").
 */
const SEALED_MAX: Record<string, number> = {
  [SEALED_BUNDLE]: DEFAULT_RESULT_BUNDLE_MAX + SEALED_BLOB_OVERHEAD,
  [SEALED_TRANSCRIPT]: TRANSCRIPT_MAX_KEPT_BYTES + SEALED_BLOB_OVERHEAD,
};

/**
 * The most bytes a sealed blob of the result named `name` may have (what a provider may seal);
 * undefined for a name no provider seals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sealedBlobMax } from "./sealed_result.ts";
 *
 * assert.equal(sealedBlobMax("result.bundle.sealed"), 33554465);
 * if (sealedBlobMax("build.log") !== undefined) throw new Error();
 * ```
 */
export function sealedBlobMax(name: string): number | undefined {
  return Object.hasOwn(SEALED_MAX, name) ? SEALED_MAX[name] : undefined;
}

/** Where a result's blobs are fetched from, and for which job of which profile. */
export interface SealedResultSource {
  stateDir: string;
  record: RequesterJobRecord;
  /** The result event's tags and its (decrypted) content. */
  result: { tags: string[][]; content: string };
  /**
   * The profile's towns' Blossom servers (HTTP URLs): the result's blobs are fetched by hash
   * from these, never from the URL its tags name.
   */
  towns: readonly string[];
}

/**
 * The key of an agent task's result, opened with the fulfillment of a paid invoice (the delivery
 * key's path, docs/PROTOCOL.md "Paid on delivery"); throws when the result is not an agent
 * task's, undefined while no payment released it.
 *
 * It needs a paid delivery: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export async function releasedResultKey(
  record: RequesterJobRecord,
  report: Record<string, unknown>,
): Promise<string | undefined> {
  const sealedKey = report.sealedKey;
  if (typeof sealedKey !== "string") {
    throw new AgentResultRefusedError(
      "not-agent-result",
      "the result carries no sealed key: not an agent-task result",
    );
  }
  return await releasedDeliveryKey(sealedKey, record.payments.flatMap((p) => p.fulfillment ?? []));
}

/**
 * The path of the job's delivery proof, when one is kept.
 *
 * @example
 * ```ts
 * import { keptProofPath } from "./sealed_result.ts";
 *
 * if (await keptProofPath("/nonexistent", "ab") !== undefined) throw new Error();
 * ```
 */
export async function keptProofPath(stateDir: string, id: string): Promise<string | undefined> {
  const path = deliveryProofFile(stateDir, id);
  return await Deno.stat(path).then(() => path, () => undefined);
}

/**
 * The transcript blob fetched, opened, and written to the profile; its path, undefined when the
 * result names none.
 *
 * It fetches from towns: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export async function saveTranscript(
  o: SealedResultSource,
  key: string,
  dir: string,
): Promise<string | undefined> {
  const blob = blobOutputsOf(o.result.tags).find((b) => b.name === SEALED_TRANSCRIPT);
  if (blob === undefined) return undefined;
  await fetchSealedBlob(o, blob, `${dir}/t`);
  const path = agentTranscriptFile(o.stateDir, o.record.id);
  await Deno.mkdir(`${o.stateDir}/agent-tasks`, { recursive: true, mode: 0o700 });
  await Deno.writeFile(path, await openSealedFile(`${dir}/t`, key, SEALED_TRANSCRIPT), {
    mode: 0o600,
  });
  return path;
}

/**
 * A sealed blob of the result fetched by hash from the profile's towns to `to`, within the
 * smaller of the size its tag commits to and what a provider may seal; refused before a byte is
 * read when the tag states more.
 *
 * It fetches from towns: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export async function fetchSealedBlob(
  o: Pick<SealedResultSource, "towns">,
  blob: JobBlobOutput,
  to: string,
): Promise<void> {
  refuseOverSealedMax([blob]);
  try {
    await fetchBlobFromTowns({ servers: o.towns, sha256: blob.sha256, maxBytes: blob.size, to });
  } catch (err) {
    throw new AgentResultRefusedError(
      "blob-unavailable",
      `cannot fetch the result's ${blob.name}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Throws {@linkcode AgentResultRefusedError} (`too-large`) when a sealed blob of the result
 * states more than a provider may seal: checked before anything is fetched, since each is opened
 * in memory. Blobs of other names pass.
 *
 * @example
 * ```ts
 * import { refuseOverSealedMax } from "./sealed_result.ts";
 * import { AgentResultRefusedError } from "./requester_agent_errors.ts";
 *
 * const blob = { name: "transcript.log.sealed", url: "", sha256: "ab".repeat(32), size: 2 ** 30 };
 * try {
 *   refuseOverSealedMax([blob]);
 *   throw new Error("not refused");
 * } catch (err) {
 *   if (!(err instanceof AgentResultRefusedError)) throw err;
 * }
 * ```
 */
export function refuseOverSealedMax(blobs: readonly JobBlobOutput[]): void {
  for (const blob of blobs) {
    const max = sealedBlobMax(blob.name);
    if (max !== undefined && !(blob.size <= max)) {
      throw new AgentResultRefusedError(
        "too-large",
        `the result's ${blob.name} is ${blob.size} bytes, over the ${max} a provider may seal`,
      );
    }
  }
}

/** The sealed blob at `path` opened with the result's key (the transcript's derived from it). */
async function openSealedFile(path: string, key: string, name: string): Promise<Uint8Array> {
  // Read whole to open it: never more than a provider may seal, whatever the file holds.
  const { size } = await Deno.stat(path);
  if (!(size <= SEALED_MAX[name])) {
    throw new AgentResultRefusedError(
      "too-large",
      `${path} is ${size} bytes, over the ${SEALED_MAX[name]} a provider may seal`,
    );
  }
  let k = hexToBytes(key) as Uint8Array<ArrayBuffer>;
  if (name === SEALED_TRANSCRIPT) k = await derivedBlobKey(k, TRANSCRIPT_KEY_LABEL);
  return await openBlob(await Deno.readFile(path), k);
}

/**
 * `job results --save` of an agent task: beside each sealed blob saved (`<name>.sealed`), the
 * blob opened (`<name>`) once the delivery's payment released the key; none before.
 *
 * It needs a paid delivery: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export async function openSavedAgentBlobs(
  record: RequesterJobRecord,
  content: string,
  saved: readonly { name: string; path: string }[],
): Promise<{ name: string; path: string }[]> {
  const report = JSON.parse(content) as Record<string, unknown>;
  if (typeof report.sealedKey !== "string") return [];
  const key = await releasedResultKey(record, report);
  if (key === undefined) return [];
  const opened: { name: string; path: string }[] = [];
  for (const s of saved.filter((s) => [SEALED_BUNDLE, SEALED_TRANSCRIPT].includes(s.name))) {
    const path = s.path.slice(0, -".sealed".length);
    await Deno.writeFile(path, await openSealedFile(s.path, key, s.name), { mode: 0o600 });
    opened.push({ name: s.name.slice(0, -".sealed".length), path });
  }
  return opened;
}

/**
 * `job results --proof`: the proof kept when the job's delivery broke its commitment
 * (roles/agent_work/delivery_proof.ts), as it is, to be published; throws
 * {@linkcode NoDeliveryProofError} when none is kept.
 *
 * @example
 * ```ts
 * import { readDeliveryProof } from "./sealed_result.ts";
 * import { NoDeliveryProofError } from "./requester_agent_errors.ts";
 *
 * const none = await readDeliveryProof("/nonexistent", "ab").catch((e) => e);
 * if (!(none instanceof NoDeliveryProofError)) throw new Error();
 * ```
 */
export async function readDeliveryProof(stateDir: string, id: string): Promise<DeliveryProof> {
  const path = deliveryProofFile(stateDir, id);
  const text = await Deno.readTextFile(path).catch(() => undefined);
  if (text === undefined) throw new NoDeliveryProofError(id, path);
  return JSON.parse(text) as DeliveryProof;
}
