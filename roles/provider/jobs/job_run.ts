/**
 * One paid job's run, from its inputs to its kept outputs: the request's blob inputs fetched
 * (checked against the size limit, hashed on the way), the skill run by its runner (the sandbox,
 * or the Docker runner for docker-build skills), the outputs moved out of the work dir into
 * `<state dir>/results/<job id>` within what the quote budgeted, and the run classified. It
 * writes no job record and publishes nothing: the node does both with what this returns
 * (docs/ARCHITECTURE.md, "One job, from `job submit` to the skill and back").
 *
 * @module
 */
import { decodeEventToon, encodeEventToon } from "../../../protocol/toon_codec.ts";
import { decryptJobParams } from "../../../protocol/nip90_job.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { AgentSpend } from "../../../protocol/agent_spend.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { SkillEntry } from "../skills/skill_catalog.ts";
import type { SkillJob, SkillOutcome } from "../sandbox/skill_sandbox.ts";
import { OUTPUTS_DIR } from "../sandbox/sandbox_mounts.ts";
import { BlobInputError, checkBlobInputs, fetchBlobInputs } from "./blob_inputs.ts";
import { BlobWriteError } from "../../../transport/blossom_client.ts";
import { keepJobOutputs, ResultTooLargeError } from "./result_outputs.ts";
import { stderrTail } from "./stderr_tail.ts";

/**
 * Where a provider keeps fetched input blobs (by hash), in its state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobCacheDirOf } from "./job_run.ts";
 *
 * assert.equal(blobCacheDirOf("/var/lib/turnpike"), "/var/lib/turnpike/blob-cache");
 * ```
 */
export function blobCacheDirOf(stateDir: string): string {
  return `${stateDir}/blob-cache`;
}

/**
 * Where a job's kept output files wait for their publication, in the state dir.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobResultsDir } from "./job_run.ts";
 *
 * assert.equal(jobResultsDir("/var/lib/turnpike", "job-1"), "/var/lib/turnpike/results/job-1");
 * ```
 */
export function jobResultsDir(stateDir: string, jobId: string): string {
  return `${stateDir}/results/${jobId}`;
}

/**
 * The skill's stdin: the request's TOON, with decrypted params inlined when it was encrypted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { skillInput } from "./job_run.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 * import { buildJobRequest, encryptJobParams } from "../../../protocol/nip90_job.ts";
 * import { decodeEventToon, encodeEventToon } from "../../../protocol/toon_codec.ts";
 *
 * using requester = localNodeSigner(generateSecretKey());
 * using provider = localNodeSigner(generateSecretKey()); // an encrypted request is for it
 * const inputs = [{ data: "What is ILP?", type: "text" as const }];
 * const content = await encryptJobParams({ inputs }, requester, provider.pubkey);
 * const request = await requester.signEvent(
 *   buildJobRequest({ kind: 5050, providers: [provider.pubkey], encryptedContent: content }),
 * );
 * const stdin = await skillInput({ encrypted: true, requestToon: encodeEventToon(request) }, provider);
 * // The skill gets the plain tags, never the key.
 * assert.deepEqual(decodeEventToon(stdin, { verify: false }).tags.find((t) => t[0] === "i"), [
 *   "i",
 *   "What is ILP?",
 *   "text",
 * ]);
 * ```
 */
export async function skillInput(
  record: Pick<ProviderJobRecord, "encrypted" | "requestToon">,
  signer: NodeSigner,
): Promise<string> {
  if (!record.encrypted) return record.requestToon;
  const request = decodeEventToon(record.requestToon, { verify: false });
  const job = await decryptJobParams(request, signer);
  // Skills never see the key; they get the plain tags. The signature no longer covers them.
  const tags = [
    ...request.tags.filter((t) => t[0] !== "encrypted"),
    ...job.inputs.map((i) => ["i", i.data, i.type]),
    ...job.params.map((p) => ["param", p.name, ...p.values]),
  ];
  return encodeEventToon({ ...request, tags, content: "" });
}

/** What runs a skill: the sandbox, or the Docker runner. */
export interface SkillRunner {
  run(job: SkillJob & RunHooks): Promise<SkillOutcome>;
}

/** What a run may report while it goes: an agent-task's model spend (docs/PROTOCOL.md "Live spend"). */
export interface RunHooks {
  /** `beatMs`: the agent's heartbeat period, when the report is also its beat. */
  progress?: (p: { spend: AgentSpend; beatMs?: number }) => void;
  /** A text-generation's answer, a piece at a time, in order (its `partial` feedback). */
  partial?: (text: string) => void;
  /** A text-generation's tokens and what they cost, base units: billed with its delivery. */
  metered?: (m: ModelMetering) => void;
  /** What the job's bid leaves for a text-generation's tokens (undefined: no bid). */
  tokenBudget?: bigint;
}

/** A text-generation job's model use, from the upstream's usage fields. */
export interface ModelMetering {
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** Base units billed: the tokens at the preset's prices, at most the budget. */
  cost: bigint;
}

/** How one run ended. */
export type JobRunOutcome =
  | { status: "computed"; result: string; files: string[]; skipped: string[] }
  | { status: "failed"; reason: string; code: string }
  | { status: "cancelled" };

/** Options for {@linkcode runJob}. */
export interface JobRunOptions {
  jobId: string;
  skill: SkillEntry;
  /** The runner for this skill, or why there is none (docker-build without an engine). */
  runner: SkillRunner | { unavailable: string };
  /** The skill's stdin: the request as TOON, decrypted params inlined (may fail to decrypt). */
  input: () => Promise<string>;
  /** The request was encrypted: outputs go inline only (blobs are public). */
  encrypted: boolean;
  /** Kind 5 cancellation or shutdown: aborting kills the skill. */
  signal: AbortSignal;
  /** Largest blob inputs of one job, bytes. */
  maxInputBytes: number;
  /** Where fetched input blobs are kept (by hash). */
  blobCacheDir: string;
  /** Where the kept output files go. */
  resultsDir: string;
  /** What the run reports while it goes (an agent-task's spend). */
  onProgress?: RunHooks["progress"];
  /** A text-generation's answer so far, its model use, and its token budget. */
  model?: Pick<RunHooks, "partial" | "metered" | "tokenBudget">;
  /** Called once the skill's start is under way; returns what to call when it ends. */
  onStarted?: () => () => void;
  /** The work dir's removal, off the critical path (the node tracks it). */
  removeLater: (workDir: string) => void;
}

/**
 * Runs one paid job's skill and keeps its outputs; see the module doc.
 *
 * It runs a skill in the sandbox (createSkillSandbox's example runs one): no example that runs
 * here: tests/unit/roles/provider/job_run_test.ts.
 */
export async function runJob(o: JobRunOptions): Promise<JobRunOutcome> {
  let input: string;
  let files: { path: string; name: string }[];
  try {
    input = await o.input();
    const tags = decodeEventToon(input, { verify: false }).tags;
    const blobs = await checkBlobInputs(tags, { maxBytes: o.maxInputBytes });
    files = await fetchBlobInputs(blobs, { maxBytes: o.maxInputBytes, cacheDir: o.blobCacheDir });
  } catch (err) {
    // The provider's own disk failing its blob cache is its failure: the deposit comes back
    // (docs/PROTOCOL.md "Refunds: the provider's own failures").
    if (err instanceof BlobWriteError) {
      return {
        status: "failed",
        reason: `input blobs not stored: ${err.message}`,
        code: "sandbox-error",
      };
    }
    const reason = err instanceof BlobInputError
      ? err.message
      : `cannot read the request: ${(err as Error).message}`;
    return { status: "failed", reason, code: "bad-input" };
  }
  if ("unavailable" in o.runner) {
    return { status: "failed", reason: o.runner.unavailable, code: "unavailable" };
  }
  let outcome: SkillOutcome;
  let ended: (() => void) | undefined;
  try {
    const run = o.runner.run({
      jobId: o.jobId,
      skillDir: o.skill.dir,
      manifest: o.skill.manifest,
      input,
      files,
      signal: o.signal,
      progress: o.onProgress,
      ...o.model,
    });
    // Informational only: armed after the skill's start is under way, so whatever it sends
    // (a signed, paid feedback) never delays the spawn.
    ended = o.onStarted?.();
    outcome = await run;
  } catch (err) {
    const reason = `skill refused: ${(err as Error).message}`;
    return { status: "failed", reason, code: "skill-refused" };
  } finally {
    ended?.();
  }
  return await classify(outcome, o);
}

async function classify(outcome: SkillOutcome, o: JobRunOptions): Promise<JobRunOutcome> {
  const manifest = o.skill.manifest;
  try {
    // Outputs leave the work dir first; its removal is then off the critical path.
    if (outcome.status === "ok") {
      const kept = await keepJobOutputs({
        // An encrypted job's blobs would be public; agent-task's one output is sealed already.
        blobs: !o.encrypted || manifest.runner === "agent",
        // Its stdout is the result in the clear (an agent-task's: the bundle's key): never a
        // public blob, refused when over its inline budget.
        resultBlob: !o.encrypted,
        outDir: `${outcome.workDir}/${OUTPUTS_DIR}`,
        keepDir: o.resultsDir,
        stdout: outcome.stdout,
        // What the quote budgeted: more files or bytes are not the requester's to pay for.
        inlineBytes: manifest.resultBytes,
        maxFiles: manifest.outputFiles,
        maxBytes: manifest.outputBytes,
      });
      return { status: "computed", result: kept.inline, files: kept.files, skipped: kept.skipped };
    }
  } catch (err) {
    if (!(err instanceof ResultTooLargeError)) throw err;
    return { status: "failed", reason: err.message, code: "result-too-large" };
  } finally {
    o.removeLater(outcome.workDir);
    for (const dir of outcome.hostDirs ?? []) o.removeLater(dir);
  }
  if (outcome.status === "cancelled") return { status: "cancelled" };
  const tail = stderrTail(outcome.stderrTail);
  return {
    status: "failed",
    reason: `${outcome.status}: ${outcome.reason}${tail === "" ? "" : `; stderr: ${tail}`}`,
    // The skill's outcome (skill_sandbox.ts), an agent-task's named so: `agent-failed`.
    code: manifest.runner === "agent" ? `agent-${outcome.status}` : outcome.status,
  };
}
