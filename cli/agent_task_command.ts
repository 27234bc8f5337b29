/**
 * The command line's side of an agent task (docs/AGENTS.md "A coding agent's task"): `job submit
 * agent-task`'s flags checked and its task read, and what `job results --apply`, `--save` and
 * `--proof` meet said as the CLI says errors. The work is the requester's half of an agent task,
 * roles/agent_work/requester/ (docs/ARCHITECTURE.md "One agent task, from `job submit` to
 * `--apply`"). Loaded only by those commands.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { errorCase, toCliError } from "./cli_error_map.ts";
import { ExitCode } from "./exit_codes.ts";
import type { ProviderListing } from "../roles/requester/provider_directory.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import type { JobBlobOutput } from "../protocol/job_blobs.ts";
import {
  type AgentTask,
  agentTaskFromText,
  parseAgentTask,
} from "../roles/agent_work/agent_task.ts";
import { checkProtectGlobs } from "../roles/agent_work/protected_paths.ts";
import { beadContext, DEFAULT_MAX_CONTEXT_CHARS } from "../roles/agent_work/bead_context.ts";
import type { DeliveryProof } from "../roles/agent_work/delivery_proof.ts";
import {
  type AgentTaskParts,
  agentTaskProvider,
  sealAgentTask,
} from "../roles/agent_work/requester/agent_task_out.ts";
import * as result from "../roles/agent_work/requester/agent_result.ts";
import * as sealed from "../roles/agent_work/requester/sealed_result.ts";
import type {
  AgentApplyMissingError,
  AgentResultRefusedError,
  DeliveryBrokenError,
  LocalGateUnavailableError,
  NoDeliveryProofError,
  TaskRepositoryError,
} from "../roles/agent_work/requester/requester_agent_errors.ts";
import type { AgentTaskFlags } from "./agent_task_options.ts";
import {
  BUNDLE_CACHE_DIR,
  openBundleCache,
} from "../roles/agent_work/requester/repository_bundle_cache.ts";

const usage = (message: string, suggestion?: string, cause?: unknown) =>
  new CliError(message, { exitCode: ExitCode.Usage, suggestion, cause });

/**
 * `job submit agent-task`: the flags checked, the task read, then the repository bundled and
 * sealed (roles/agent_work/requester/agent_task_out.ts); `flags.protect` are the profile's
 * `[agents] protect` and the `--protect` globs (docs/PROTOCOL.md "Protected paths"). With the
 * profile's state dir, the sealed bundle comes from its cache when a task on the same base, depth
 * and provider sent it (roles/agent_work/requester/repository_bundle_cache.ts).
 *
 * It bundles a git repository (git processes), so it has no example that runs here:
 * tests/unit/cli/agent_task_timeout_test.ts
 */
export async function agentTaskParts(
  flags: AgentTaskFlags,
  directory: readonly ProviderListing[] | Promise<readonly ProviderListing[]>,
  stateDir?: string,
): Promise<AgentTaskParts> {
  const { repo, accept, agent } = flags;
  if (repo === undefined) throw usage("agent-task needs --repo <dir>");
  if (accept === undefined) throw usage("agent-task needs --accept <command> (the gate)");
  if (agent === undefined) {
    throw usage("agent-task needs --agent <preset>", "`turnpike providers` lists the presets");
  }
  const task = await readTask(flags);
  let protect: string[];
  try {
    protect = checkProtectGlobs(flags.protect ?? []);
  } catch (err) {
    throw usage(`--protect: ${(err as Error).message}`);
  }
  if ((flags.provider?.length ?? 0) > 1) {
    throw usage("agent-task goes to one provider: give one --provider");
  }
  // A named provider's task is bundled while the directory is still read (startAgentTaskParts).
  const provider = flags.provider?.[0] ?? agentTaskProvider(await directory);
  if (provider === undefined) {
    throw usage(
      "no provider online serves agent-task",
      "give --provider <hex>, or --force once one is known",
    );
  }
  const budget = flags.budget;
  if (budget !== undefined && !/^\d{1,30}$/.test(budget)) {
    throw usage(`--budget must be a whole number of base units, got ${JSON.stringify(budget)}`);
  }
  const depth = flags.depth === undefined ? undefined : Number(flags.depth);
  return await sealAgentTask({
    repo,
    base: flags.base,
    depth,
    task,
    agent,
    accept,
    budget,
    protect,
    provider,
    directory,
    cache: stateDir === undefined
      ? undefined
      : openBundleCache({ dir: `${stateDir}/${BUNDLE_CACHE_DIR}` }),
  }).catch((err) => {
    throw toCliError(err, [
      errorCase<TaskRepositoryError>(
        "TaskRepositoryError",
        (e) => usage(`--repo ${repo}: ${e.message}`, undefined, e),
      ),
    ]);
  });
}

/** An agent task's parts under way ({@linkcode startAgentTaskParts}). */
export interface AgentTaskPartsStarted {
  /** The parts, or the error they met (their usage errors among them). */
  parts: Promise<AgentTaskParts>;
  /** Waits for the parts and removes their sealed bundle: the command failed before using it. */
  discard(): Promise<void>;
}

/**
 * `job submit agent-task` to a named provider (cli/agent_task_options.ts `repositoryFirst`): its
 * repository bundled, or found in the profile's cache, while the town's `directory` is still
 * read; a directory that could not be read counts as empty here (the command reports it).
 *
 * It bundles a git repository (git processes), so it has no example that runs here:
 * tests/unit/cli/agent_task_timeout_test.ts
 */
export function startAgentTaskParts(
  flags: AgentTaskFlags,
  directory: Promise<readonly ProviderListing[] | undefined>,
  stateDir?: string,
): AgentTaskPartsStarted {
  const parts = agentTaskParts(flags, directory.then((d) => d ?? [], () => []), stateDir);
  parts.catch(() => {}); // awaited by the command, or discarded
  return {
    parts,
    discard: async () => {
      const made = await parts.catch(() => undefined);
      if (made !== undefined) await Deno.remove(made.sealedPath).catch(() => {});
      if (made?.delta) await Deno.remove(made.delta.path).catch(() => {});
    },
  };
}

async function readTask(flags: AgentTaskFlags): Promise<AgentTask> {
  try {
    if (flags.bead !== undefined) {
      const text = flags.bead === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(flags.bead);
      const task = parseAgentTask(text);
      // The rig's bounded context goes with the task, encrypted with it (docs/PROTOCOL.md).
      const context = beadContext({
        bead: JSON.parse(text),
        closed: flags.closedBeads === undefined
          ? undefined
          : JSON.parse(await Deno.readTextFile(flags.closedBeads)),
        maxChars: Number(flags.maxContextChars ?? DEFAULT_MAX_CONTEXT_CHARS),
      });
      return context === undefined ? task : { ...task, context };
    }
    if (flags.title !== undefined) {
      return agentTaskFromText({ title: flags.title, text: flags.text ?? "" });
    }
  } catch (err) {
    throw usage(`the task: ${(err as Error).message}`);
  }
  throw usage("agent-task needs the task: --bead <file|-> or --title <t> [--text <t>]");
}

/** What a result's apply, save and proof meet, as the CLI says it (docs/AGENTS.md "Errors"). */
const RESULT_ERRORS = [
  errorCase("DeliveryNotPaidError", (e) =>
    new CliError(e.message, {
      code: "not-delivered",
      suggestion: "a result is opened by the payment of its delivery invoice (`job wait`)",
      cause: e,
    })),
  errorCase<AgentApplyMissingError>(
    "AgentApplyMissingError",
    (e) =>
      e.missing === "repo"
        ? usage("which repository? `job results <id> --apply <repo>`", undefined, e)
        : e.missing === "accept"
        ? usage(
          "--verify: the profile kept no acceptance command for this job",
          "jobs submitted before `--verify` existed did not keep it",
          e,
        )
        : new CliError("the result names no bundle blob", { cause: e }),
  ),
  errorCase<AgentResultRefusedError>("AgentResultRefusedError", (e) =>
    new CliError(e.message, {
      code: "result-refused",
      fields: { reason: e.reason },
      context: e.context,
      suggestion: e.reason === "blob-unavailable"
        ? "the town may have dropped it (blobs are kept for its retention period)"
        : undefined,
      cause: e,
    })),
  errorCase<DeliveryBrokenError>("DeliveryBrokenError", (e) =>
    new CliError(e.message, {
      code: "delivery-broken",
      fields: { proof: e.proof ?? null },
      context: e.proof ?? "no proof kept",
      cause: e,
    })),
  errorCase<LocalGateUnavailableError>(
    "LocalGateUnavailableError",
    (e) => new CliError(`--verify: the gate could not run here: ${e.message}`, { cause: e }),
  ),
  errorCase<NoDeliveryProofError>(
    "NoDeliveryProofError",
    (e) => new CliError(e.message, { code: "no-proof", context: e.path, cause: e }),
  ),
];

/**
 * `job results <id> --apply`: the result opened and applied as a branch
 * (roles/agent_work/requester/agent_result.ts); the line it prints.
 *
 * It fetches the result from a town and applies it with git, so it has no example that runs here:
 * tests/unit/cli/agent_result_fetch_test.ts
 */
export async function applyAgentResult(
  o: result.ApplyAgentResultOptions,
): Promise<Record<string, unknown>> {
  return await result.applyAgentResult(o).catch((err) => {
    throw toCliError(err, RESULT_ERRORS);
  });
}

/**
 * `job results --save` of an agent task: each sealed blob saved opened beside it, once the
 * delivery's payment released the key (roles/agent_work/requester/sealed_result.ts).
 *
 * It opens blobs a paid delivery's key released, so it has no example that runs here:
 * tests/e2e/job_results_save_fetch_test.ts
 */
export async function openSavedAgentBlobs(
  record: RequesterJobRecord,
  content: string,
  saved: readonly { name: string; path: string }[],
): Promise<{ name: string; path: string }[]> {
  return await sealed.openSavedAgentBlobs(record, content, saved).catch((err) => {
    throw toCliError(err, RESULT_ERRORS);
  });
}

/**
 * `job results --save` of an agent task: its sealed blobs refused before any is fetched when
 * their tags state more than a provider may seal (they are opened in memory).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refuseOverSealedMax } from "./agent_task_command.ts";
 * import { CliError } from "./cli_error.ts";
 *
 * refuseOverSealedMax([{ name: "result", url: "", sha256: "ab".repeat(32), size: 2 ** 30 }]);
 * const sealed = { name: "transcript.log.sealed", url: "", sha256: "ab".repeat(32), size: 2 ** 30 };
 * assert.throws(() => refuseOverSealedMax([sealed]), CliError);
 * ```
 */
export function refuseOverSealedMax(blobs: readonly JobBlobOutput[]): void {
  try {
    sealed.refuseOverSealedMax(blobs);
  } catch (err) {
    throw toCliError(err, RESULT_ERRORS);
  }
}

/**
 * `job results --proof`: the proof kept when the job's delivery broke its commitment, as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readDeliveryProof } from "./agent_task_command.ts";
 * import { CliError } from "./cli_error.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no job there kept a proof
 * const refused = await readDeliveryProof(stateDir, "ab".repeat(32)).catch((e) => e);
 * assert(refused instanceof CliError && refused.code === "no-proof");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readDeliveryProof(stateDir: string, id: string): Promise<DeliveryProof> {
  return await sealed.readDeliveryProof(stateDir, id).catch((err) => {
    throw toCliError(err, RESULT_ERRORS);
  });
}
