/**
 * The requester's side of an `agent-task` job (docs/PROTOCOL.md "agent-task (kind 5603)",
 * docs/AGENTS.md "A coding agent's task"): `job submit agent-task` bundles the repository at its
 * base, seals the bundle with a fresh key (the town stores ciphertext only), and sends the key,
 * the task, the gate and the preset in the job's encrypted params, to one provider; `job results
 * <id> --apply` opens the result with the key the delivery's payment released, checks the bundle
 * against the repository and creates the branch. Loaded only by those two commands.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import type { JobInput, JobParam } from "../protocol/nip90_job.ts";
import type { ProviderListing } from "../roles/requester/provider_directory.ts";
import { createRepositoryBundle } from "../roles/agent_work/repository_bundle.ts";
import {
  derivedBlobKey,
  openBlob,
  sealBlob,
  SEALED_BLOB_OVERHEAD,
} from "../roles/agent_work/sealed_blob.ts";
import {
  type AgentTask,
  agentTaskFromText,
  parseAgentTask,
} from "../roles/agent_work/agent_task.ts";
import { applyResultBundle } from "../roles/agent_work/result_apply.ts";
import { checkProtectGlobs } from "../roles/agent_work/protected_paths.ts";
import { releasedDeliveryKey } from "../protocol/delivery_key.ts";
import { verdictOf } from "../protocol/job_verdict.ts";
import { blobOutputsOf } from "../protocol/job_blobs.ts";
import { fetchBlobFromTowns } from "../roles/requester/town_blob_fetch.ts";
import { DEFAULT_RESULT_BUNDLE_MAX } from "../roles/agent_work/result_bundle.ts";
import { TRANSCRIPT_MAX_KEPT_BYTES } from "../roles/agent_work/provider/job_out_files.ts";
import type { JobBlobOutput } from "../protocol/job_blobs.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { parseDeliveryCommitment, sha256Hex } from "../protocol/delivery_commitment.ts";
import { type DeliveryProof, deliveryProofFile } from "../roles/agent_work/delivery_proof.ts";
import {
  AGENT_TASK_KIND,
  agentTaskFile,
  type AgentTaskFlags,
  type AgentTaskLocal,
  agentTranscriptFile,
} from "./agent_task_options.ts";
import { verifyApplied } from "./agent_task_verify.ts";

/** The result's sealed blobs (roles/agent_work/provider/agent_task_runner.ts names them so). */
const SEALED_BUNDLE = "result.bundle.sealed";
const SEALED_TRANSCRIPT = "transcript.log.sealed";
/** The label the transcript's key is derived with from the bundle's. */
const TRANSCRIPT_KEY_LABEL = "agent-task transcript";
/**
 * The most each sealed blob may have: what a provider may seal (roles/agent_work/provider/
 * agent_task_runner.ts), whatever size its tag states. Fetched whole and opened in memory, so
 * these bound what `--apply` holds (docs/AGENTS.md "A coding agent's task").
 */
const SEALED_MAX: Record<string, number> = {
  [SEALED_BUNDLE]: DEFAULT_RESULT_BUNDLE_MAX + SEALED_BLOB_OVERHEAD,
  [SEALED_TRANSCRIPT]: TRANSCRIPT_MAX_KEPT_BYTES + SEALED_BLOB_OVERHEAD,
};

/** What `job submit` adds to its spec for an agent task. */
export interface AgentTaskParts {
  inputs: JobInput[];
  params: JobParam[];
  /** The sealed bundle, a temporary file: uploaded as the job's blob input. */
  sealedPath: string;
  provider: string;
  /**
   * The job's timeout when `--timeout` is not given (ms): the preset's wall time as the provider
   * announces it plus {@linkcode AGENT_DELIVERY_MARGIN_MS}; undefined when it announces none.
   */
  timeoutMs?: number;
  /** Kept in the profile for `--apply` (`agent-tasks/<job id>.json`). */
  local: AgentTaskLocal;
}

/**
 * What an agent task's default timeout adds to the preset's announced wall time: the gate, the
 * result's blobs uploaded and its delivery paid (docs/AGENTS.md "A coding agent's task").
 */
export const AGENT_DELIVERY_MARGIN_MS = 120_000;

const usage = (message: string, suggestion?: string) =>
  new CliError(message, { exitCode: ExitCode.Usage, suggestion });

/**
 * Bundles and seals the repository and builds the job's inputs and params; `flags.protect` are
 * the profile's `[agents] protect` and the `--protect` globs (docs/PROTOCOL.md "Protected paths").
 *
 * @example
 * ```ts ignore
 * import { agentTaskParts } from "./agent_task_command.ts";
 *
 * const parts = await agentTaskParts({
 *   repo: ".",
 *   title: "Fix the failing test",
 *   accept: "sh test.sh",
 *   agent: "claude",
 *   provider: ["ab".repeat(32)],
 * }, []);
 * console.log(parts.params.map((p) => p.name)); // agent, base, accept, repo-key
 * ```
 */
export async function agentTaskParts(
  flags: AgentTaskFlags,
  directory: readonly ProviderListing[],
): Promise<AgentTaskParts> {
  if (flags.repo === undefined) throw usage("agent-task needs --repo <dir>");
  if (flags.accept === undefined) throw usage("agent-task needs --accept <command> (the gate)");
  if (flags.agent === undefined) {
    throw usage("agent-task needs --agent <preset>", "`turnpike providers` lists the presets");
  }
  const task = await readTask(flags);
  let globs: string[];
  try {
    globs = checkProtectGlobs(flags.protect ?? []);
  } catch (err) {
    throw usage(`--protect: ${(err as Error).message}`);
  }
  const provider = flags.provider?.length === 1
    ? flags.provider[0]
    : (flags.provider?.length ?? 0) > 1
    ? (() => {
      throw usage("agent-task goes to one provider: give one --provider");
    })()
    : directory.find((p) => p.online && p.skills.some((s) => s.kinds.includes(AGENT_TASK_KIND)))
      ?.pubkey;
  if (provider === undefined) {
    throw usage(
      "no provider online serves agent-task",
      "give --provider <hex>, or --force once one is known",
    );
  }
  const depth = flags.depth === undefined ? undefined : Number(flags.depth);
  const budget = flags.budget;
  if (budget !== undefined && !/^\d{1,30}$/.test(budget)) {
    throw usage(`--budget must be a whole number of base units, got ${JSON.stringify(budget)}`);
  }
  const plainPath = await Deno.makeTempFile({ prefix: "turnpike-repo-", suffix: ".bundle" });
  const sealedPath = await Deno.makeTempFile({ prefix: "turnpike-repo-", suffix: ".sealed" });
  try {
    const bundle = await createRepositoryBundle({
      repoDir: flags.repo,
      outPath: plainPath,
      base: flags.base,
      depth,
    }).catch((err: Error) => {
      throw usage(`--repo ${flags.repo}: ${err.message}`);
    });
    const { sealed, key } = await sealBlob(await Deno.readFile(plainPath));
    await Deno.writeFile(sealedPath, sealed, { mode: 0o600 });
    return {
      inputs: [{ type: "text", data: JSON.stringify(beadShape(task)) }],
      params: [
        { name: "agent", values: [flags.agent] },
        { name: "base", values: [bundle.base] },
        { name: "accept", values: [flags.accept] },
        { name: "repo-key", values: [bytesToHex(key)] },
        ...(budget === undefined ? [] : [{ name: "budget", values: [budget] }]),
        ...(globs.length === 0 ? [] : [{ name: "protect", values: globs }]),
      ],
      sealedPath,
      provider,
      timeoutMs: announcedTimeoutMs(directory, provider, flags.agent),
      local: { repo: await Deno.realPath(flags.repo), base: bundle.base, accept: flags.accept },
    };
  } catch (err) {
    await Deno.remove(sealedPath).catch(() => {});
    throw err;
  } finally {
    await Deno.remove(plainPath).catch(() => {});
  }
}

/** The preset's wall time the provider announces, plus the delivery margin; undefined: none. */
function announcedTimeoutMs(
  directory: readonly ProviderListing[],
  provider: string,
  agent: string,
): number | undefined {
  const skills = directory.find((p) => p.pubkey === provider)?.skills ?? [];
  const timeout = skills.filter((s) => s.kinds.includes(AGENT_TASK_KIND))
    .flatMap((s) => s.agents ?? []).find((a) => a.name === agent)?.timeout;
  return timeout === undefined ? undefined : timeout * 1000 + AGENT_DELIVERY_MARGIN_MS;
}

async function readTask(flags: AgentTaskFlags): Promise<AgentTask> {
  try {
    if (flags.bead !== undefined) {
      const text = flags.bead === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(flags.bead);
      return parseAgentTask(text);
    }
    if (flags.title !== undefined) {
      return agentTaskFromText({ title: flags.title, text: flags.text ?? "" });
    }
  } catch (err) {
    throw usage(`the task: ${(err as Error).message}`);
  }
  throw usage("agent-task needs the task: --bead <file|-> or --title <t> [--text <t>]");
}

/** The task as bd's own issue shape, which the provider reads with the same parser. */
function beadShape(task: AgentTask): Record<string, unknown> {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    design: task.design,
    acceptance_criteria: task.acceptanceCriteria,
    notes: task.notes,
    priority: task.priority,
    issue_type: task.issueType,
    labels: task.labels,
  };
}

/** Options for {@linkcode applyAgentResult}. */
export interface ApplyAgentResultOptions {
  stateDir: string;
  record: RequesterJobRecord;
  /** The result event's tags and its (decrypted) content. */
  result: { tags: string[][]; content: string };
  /**
   * The profile's towns' Blossom servers (HTTP URLs): the result's blobs are fetched by hash
   * from these, never from the URL its tags name.
   */
  towns: readonly string[];
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
 * opens its bundle, and applies it as a branch; the line `job results --apply` prints.
 *
 * @example
 * ```ts ignore
 * import { applyAgentResult } from "./agent_task_command.ts";
 * import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
 *
 * declare const record: RequesterJobRecord;
 * declare const result: { tags: string[][]; content: string };
 * const line = await applyAgentResult({
 *   stateDir: "/home/me/.turnpike/alice",
 *   record,
 *   result,
 *   towns: ["http://127.0.0.1:7100"],
 * });
 * console.log(line.branch);
 * ```
 */
export async function applyAgentResult(
  o: ApplyAgentResultOptions,
): Promise<Record<string, unknown>> {
  const report = JSON.parse(o.result.content) as Record<string, unknown>;
  const key = await releasedKey(o.record, report);
  if (key === undefined) {
    throw new CliError("the delivery is not paid: the result's key is still sealed", {
      code: "not-delivered",
      suggestion: "a result is opened by the payment of its delivery invoice (`job wait`)",
    });
  }
  const local = await Deno.readTextFile(agentTaskFile(o.stateDir, o.record.id))
    .then((t) => JSON.parse(t) as AgentTaskLocal, () => undefined);
  const repo = o.repo ?? local?.repo;
  const base = local?.base ?? String(report.base);
  if (repo === undefined) {
    throw usage("which repository? `job results <id> --apply <repo>`");
  }
  // The command this profile sent, never the one the result echoes (the provider's word).
  if (o.verify && local?.accept === undefined) {
    throw usage(
      "--verify: the profile kept no acceptance command for this job",
      "jobs submitted before `--verify` existed did not keep it",
    );
  }
  const blob = blobOutputsOf(o.result.tags).find((b) => b.name === SEALED_BUNDLE);
  if (blob === undefined) throw new CliError("the result names no bundle blob");
  const dir = await Deno.makeTempDir({ prefix: "turnpike-result-" });
  try {
    await fetchSealed(o, blob, `${dir}/s`);
    const sealed = await Deno.readFile(`${dir}/s`);
    const broken = async (why: string, cause?: Error) => {
      const proof = await proofOf(o.stateDir, o.record.id);
      return new CliError(why, {
        code: "delivery-broken",
        fields: { proof: proof ?? null },
        context: proof ?? "no proof kept",
        cause,
      });
    };
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
    }).catch((err: Error & { code?: string }) => {
      throw new CliError(`the result does not apply: ${err.message}`, {
        code: "result-refused",
        fields: { reason: err.code ?? "bundle" },
        context: repo,
        cause: err,
      });
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
          proof: await proofOf(o.stateDir, o.record.id) ?? null,
        }
        : {}),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The key of an agent task's result, opened with the fulfillment of a paid invoice (the delivery
 * key's path, docs/PROTOCOL.md "Paid on delivery"); throws when the result is not an agent
 * task's, undefined while no payment released it.
 */
async function releasedKey(
  record: RequesterJobRecord,
  report: Record<string, unknown>,
): Promise<string | undefined> {
  const sealedKey = report.sealedKey;
  if (typeof sealedKey !== "string") {
    throw new CliError("the result carries no sealed key: not an agent-task result", {
      code: "result-refused",
      fields: { reason: "not-agent-result" },
    });
  }
  return await releasedDeliveryKey(sealedKey, record.payments.flatMap((p) => p.fulfillment ?? []));
}

/** The path of the job's proof, when one is kept. */
async function proofOf(stateDir: string, id: string): Promise<string | undefined> {
  const path = deliveryProofFile(stateDir, id);
  return await Deno.stat(path).then(() => path, () => undefined);
}

/** The transcript blob fetched, opened, and written to the profile; its path. */
async function saveTranscript(
  o: ApplyAgentResultOptions,
  key: string,
  dir: string,
): Promise<string | undefined> {
  const blob = blobOutputsOf(o.result.tags).find((b) => b.name === SEALED_TRANSCRIPT);
  if (blob === undefined) return undefined;
  await fetchSealed(o, blob, `${dir}/t`);
  const path = agentTranscriptFile(o.stateDir, o.record.id);
  await Deno.mkdir(`${o.stateDir}/agent-tasks`, { recursive: true, mode: 0o700 });
  await Deno.writeFile(path, await openSealed(`${dir}/t`, key, SEALED_TRANSCRIPT), { mode: 0o600 });
  return path;
}

/**
 * A sealed blob of the result fetched by hash from the profile's towns, within the smaller of
 * the size its tag commits to and what a provider may seal; refused before a byte is read when
 * the tag states more.
 */
async function fetchSealed(
  o: ApplyAgentResultOptions,
  blob: JobBlobOutput,
  to: string,
): Promise<void> {
  const max = SEALED_MAX[blob.name];
  if (!(blob.size <= max)) {
    throw new CliError(
      `the result's ${blob.name} is ${blob.size} bytes, over the ${max} a provider may seal`,
      { code: "result-refused", fields: { reason: "too-large" } },
    );
  }
  try {
    await fetchBlobFromTowns({ servers: o.towns, sha256: blob.sha256, maxBytes: blob.size, to });
  } catch (err) {
    throw new CliError(`cannot fetch the result's ${blob.name}: ${(err as Error).message}`, {
      code: "result-refused",
      fields: { reason: "blob-unavailable" },
      suggestion: "the town may have dropped it (blobs are kept for its retention period)",
      cause: err,
    });
  }
}

async function openSealed(path: string, key: string, name: string): Promise<Uint8Array> {
  let k = hexToBytes(key) as Uint8Array<ArrayBuffer>;
  if (name === SEALED_TRANSCRIPT) k = await derivedBlobKey(k, TRANSCRIPT_KEY_LABEL);
  return await openBlob(await Deno.readFile(path), k);
}

/**
 * `job results --save` of an agent task: beside each sealed blob saved (`<name>.sealed`), the
 * blob opened (`<name>`) once the delivery's payment released the key; none before.
 *
 * @example
 * ```ts ignore
 * import { openSavedAgentBlobs } from "./agent_task_command.ts";
 * import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
 *
 * declare const record: RequesterJobRecord;
 * declare const content: string;
 * const opened = await openSavedAgentBlobs(record, content, [
 *   { name: "transcript.log.sealed", path: "out/transcript.log.sealed" },
 * ]);
 * console.log(opened[0].path); // out/transcript.log
 * ```
 */
export async function openSavedAgentBlobs(
  record: RequesterJobRecord,
  content: string,
  saved: readonly { name: string; path: string }[],
): Promise<{ name: string; path: string }[]> {
  const report = JSON.parse(content) as Record<string, unknown>;
  if (typeof report.sealedKey !== "string") return [];
  const key = await releasedKey(record, report);
  if (key === undefined) return [];
  const opened: { name: string; path: string }[] = [];
  for (const s of saved.filter((s) => [SEALED_BUNDLE, SEALED_TRANSCRIPT].includes(s.name))) {
    const path = s.path.slice(0, -".sealed".length);
    await Deno.writeFile(path, await openSealed(s.path, key, s.name), { mode: 0o600 });
    opened.push({ name: s.name.slice(0, -".sealed".length), path });
  }
  return opened;
}

/**
 * `job results --proof`: the proof kept when the job's delivery broke its commitment
 * (roles/agent_work/delivery_proof.ts), as it is, to be published.
 *
 * @example
 * ```ts ignore
 * import { readDeliveryProof } from "./agent_task_command.ts";
 *
 * console.log(JSON.stringify(await readDeliveryProof("/home/me/.turnpike/alice", jobId)));
 * ```
 */
export async function readDeliveryProof(stateDir: string, id: string): Promise<DeliveryProof> {
  const path = deliveryProofFile(stateDir, id);
  const text = await Deno.readTextFile(path).catch(() => undefined);
  if (text === undefined) {
    throw new CliError(`job ${id} has no proof: its delivery kept its commitment, or is not paid`, {
      code: "no-proof",
      context: path,
    });
  }
  return JSON.parse(text) as DeliveryProof;
}
