/**
 * An agent task's result applied (docs/PROTOCOL.md "Paid on delivery", docs/ARCHITECTURE.md "One
 * agent task, from `job submit` to `--apply`"): its key released by the delivery's payment, its
 * bundle fetched and opened (sealed_result.ts), the opened bytes checked against the provider's
 * commitment, the bundle checked against the repository and made a branch (../result_apply.ts)
 * whose commits carry the job, provider and bead as trailers (provenance_trailers.ts),
 * its transcript saved, and with `verify` the gate run here (verify_applied.ts). What `job results
 * <id> --apply` (cli/agent_task_command.ts) prints is what {@linkcode applyAgentResult} returns.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { verdictOf } from "../../../protocol/job_verdict.ts";
import { blobOutputsOf } from "../../../protocol/job_blobs.ts";
import { parseDeliveryCommitment, sha256Hex } from "../../../protocol/delivery_commitment.ts";
import { openBlob } from "../sealed_blob.ts";
import { applyResultBundle } from "../result_apply.ts";
import { readAgentTask } from "../../../state/jobs/agent_task_record.ts";
import {
  fetchSealedBlob,
  keptProofPath,
  releasedResultKey,
  saveTranscript,
  type SealedResultSource,
} from "./sealed_result.ts";
import { SEALED_RESULT_NAME as SEALED_BUNDLE } from "../agent_task_wire.ts";
import { verifyApplied } from "./verify_applied.ts";
import { addProvenanceTrailers, type Trailer } from "./provenance_trailers.ts";
import type { RequesterJobRecord } from "../../../state/jobs/job_record.ts";
import {
  AgentApplyMissingError,
  AgentResultRefusedError,
  DeliveryBrokenError,
  DeliveryNotPaidError,
} from "./requester_agent_errors.ts";

/** Options for {@linkcode applyAgentResult}. */
export interface ApplyAgentResultOptions extends SealedResultSource {
  /** Milliseconds each git command the apply runs may take; runGit's default otherwise. */
  gitTimeoutMs?: number;
  /** The repository; default the one the job was submitted from. */
  repo?: string;
  /** The branch; default `turnpike/<the job id's first 12>`. */
  branch?: string;
  /** Fast-forward `branch` if it exists at the base, even checked out (`--fast-forward`). */
  fastForward?: boolean;
  /**
   * Run the job's acceptance command on the applied branch here, in the skill sandbox
   * (`--verify`), and record its verdict beside the provider's.
   */
  verify?: boolean;
}

/**
 * Opens an agent task's result (the key sealed with the delivery's fulfillment), fetches and
 * opens its bundle, and applies it as a branch; the line `job results --apply` prints. Throws
 * {@linkcode DeliveryNotPaidError} before the delivery is paid, {@linkcode AgentApplyMissingError}
 * without a repository (or, with `verify`, the acceptance command), {@linkcode DeliveryBrokenError}
 * when the paid key does not open the committed bytes, {@linkcode AgentResultRefusedError} for a
 * result that does not apply.
 *
 * It fetches from towns and runs git: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export async function applyAgentResult(
  o: ApplyAgentResultOptions,
): Promise<Record<string, unknown>> {
  const report = JSON.parse(o.result.content) as Record<string, unknown>;
  const key = await releasedResultKey(o.record, report);
  if (key === undefined) throw new DeliveryNotPaidError();
  const local = await readAgentTask(o.stateDir, o.record.id);
  const repo = o.repo ?? local?.repo;
  const base = local?.base ?? String(report.base);
  if (repo === undefined) throw new AgentApplyMissingError("repo");
  // The command this profile sent, never the one the result echoes (the provider's word).
  if (o.verify && local?.accept === undefined) throw new AgentApplyMissingError("accept");
  const blob = blobOutputsOf(o.result.tags).find((b) => b.name === SEALED_BUNDLE);
  if (blob === undefined) throw new AgentApplyMissingError("bundle-blob");
  const dir = await Deno.makeTempDir({ prefix: "turnpike-result-" });
  try {
    await fetchSealedBlob(o, blob, `${dir}/s`);
    const sealed = await Deno.readFile(`${dir}/s`);
    const broken = async (why: string, cause?: Error) =>
      new DeliveryBrokenError(why, await keptProofPath(o.stateDir, o.record.id), { cause });
    const plain = await openBlob(sealed, hexToBytes(key) as Uint8Array<ArrayBuffer>)
      .catch(async (err: Error) => {
        throw await broken(`the paid key does not open the bundle: ${err.message}`, err);
      });
    const committed = parseDeliveryCommitment(o.result.tags)?.blobs
      .find((b) => b.name === SEALED_BUNDLE);
    if (committed !== undefined && sha256Hex(plain) !== committed.plain) {
      throw await broken("the bundle opens to other bytes than the provider committed to");
    }
    await Deno.writeFile(`${dir}/result.bundle`, plain);
    // The transcript never stands in the way of the work: one that does not open is a warning
    // (and a failure in the job's proof, docs/PROTOCOL.md "Paid on delivery").
    const transcript = await saveTranscript(o, key, dir).catch((err: Error) => err);
    const applied = await applyResultBundle({
      repoDir: repo,
      bundlePath: `${dir}/result.bundle`,
      base,
      branch: o.branch,
      jobId: o.record.id,
      fastForward: o.fastForward,
      timeoutMs: o.gitTimeoutMs,
      rewrite: (dir, base, tip) =>
        addProvenanceTrailers({
          dir,
          base,
          tip,
          trailers: provenanceOf(o.record),
          timeoutMs: o.gitTimeoutMs,
        }),
    }).catch((err: Error & { code?: string }) => {
      throw new AgentResultRefusedError(
        err.code ?? "bundle",
        `the result does not apply: ${err.message}`,
        { context: repo, cause: err },
      );
    });
    const verified = o.verify
      ? await verifyApplied(o, { ...local!, repo }, applied.tip, report.verdict)
      : undefined;
    return {
      job: o.record.id,
      repo,
      branch: applied.branch,
      created: applied.created,
      ...(applied.fastForwarded ? { fastForwarded: true } : {}),
      base: applied.base,
      tip: applied.tip,
      ...(applied.bundleTip ? { bundleTip: applied.bundleTip } : {}),
      commits: applied.commits,
      diffstat: applied.diffstat,
      changes: applied.changes,
      ...(Array.isArray(report.protectedChanged)
        ? { protectedChanged: report.protectedChanged }
        : {}),
      verdict: verdictOf(report) ?? null,
      ...(verified ? { verified } : {}),
      ...(typeof transcript === "string" ? { transcript } : {}),
      ...(transcript instanceof Error
        ? {
          warnings: [`the transcript: ${transcript.message}`],
          proof: await keptProofPath(o.stateDir, o.record.id) ?? null,
        }
        : {}),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The trailers of an applied result's commits, from this profile's own record: the job it
 * posted, the provider whose signed result it took (the result event's author), the bead it sent.
 */
function provenanceOf(record: RequesterJobRecord): Trailer[] {
  return [
    { key: "Turnpike-Job", value: record.id },
    ...(record.provider ? [{ key: "Turnpike-Provider", value: record.provider }] : []),
    ...(record.bead ? [{ key: "Bead", value: record.bead.id }] : []),
  ];
}
