/**
 * An agent task going out (docs/PROTOCOL.md "agent-task (kind 5603)", docs/ARCHITECTURE.md "One
 * agent task, from `job submit` to `--apply`"): the repository bundled at its base, the bundle
 * sealed with a fresh key (the town stores ciphertext only; sealed_file.ts), or the blob and key a
 * task on the same base, depth and provider sent before (repository_bundle_cache.ts), or a new
 * base as such a blob and a delta (repository_delta.ts), and the job's parts: the task as a text
 * input, and the preset, base, gate, key(s), budget and protected globs as params, all encrypted
 * to the one provider. `job submit agent-task` (cli/agent_task_command.ts) checks the
 * flags and calls {@linkcode sealAgentTask}.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { JobInput, JobParam } from "../../../protocol/nip90_job.ts";
import type { ProviderListing } from "../../requester/provider_directory.ts";
import { createRepositoryBundle, resolveBase } from "../repository_bundle.ts";
import type { BundleCache, CachedBundle } from "./repository_bundle_cache.ts";
import { createRepositoryDelta, deltaDistance } from "../repository_delta.ts";
import { sealFile } from "../sealed_file.ts";
import type { AgentTask } from "../agent_task.ts";
import type { AgentTaskLocal } from "../../../state/jobs/agent_task_record.ts";
import { TaskRepositoryError } from "./requester_agent_errors.ts";
import {
  AGENT_TASK_KIND,
  AGENT_TASK_PARAM as PARAM,
  SEALED_REPOSITORY_DELTA_NAME,
  SEALED_REPOSITORY_NAME,
} from "../agent_task_wire.ts";

/**
 * What an agent task's default timeout adds to the preset's announced wall time: the gate, the
 * result's blobs uploaded and its delivery paid (docs/AGENTS.md "A coding agent's task").
 */
export const AGENT_DELIVERY_MARGIN_MS = 120_000;

/** Options for {@linkcode sealAgentTask}. */
export interface SealAgentTaskOptions {
  /** The repository. */
  repo: string;
  /** The base commit; HEAD by default. */
  base?: string;
  /** Only the last `depth` commits of history. */
  depth?: number;
  task: AgentTask;
  /** The provider's preset. */
  agent: string;
  /** The gate: the acceptance command, run in the worktree after the agent. */
  accept: string;
  /** The most the model calls may cost, base units (digits). */
  budget?: string;
  /** Paths the agent may not change (checked globs). */
  protect: readonly string[];
  /** The one provider the job goes to. */
  provider: string;
  /** The providers' announcements, for the preset's timeout (awaited once the bundle is made). */
  directory: readonly ProviderListing[] | Promise<readonly ProviderListing[]>;
  /**
   * The profile's cache of sealed bundles (repository_bundle_cache.ts): a task on a base, depth
   * and provider it holds sends that blob again; none: bundled and sealed afresh each time.
   */
  cache?: BundleCache;
}

/** What `job submit` adds to its spec for an agent task. */
export interface AgentTaskParts {
  inputs: JobInput[];
  params: JobParam[];
  /** The sealed bundle, a temporary file: uploaded as the job's blob input. */
  sealedPath: string;
  /** The name the sealed bundle is uploaded as. */
  sealedName: string;
  /**
   * The base as a delta from the sealed bundle's base (repository_delta.ts): its sealed blob, a
   * temporary file uploaded as the job's second blob input, and its name.
   */
  delta?: { path: string; name: string };
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
 * Bundles and seals the repository and builds the job's inputs and params; throws
 * {@linkcode TaskRepositoryError} when the repository does not bundle.
 *
 * It bundles with git: no example that runs here:
 * tests/unit/roles/agent_work/requester/repository_bundle_cache_test.ts.
 */
export async function sealAgentTask(o: SealAgentTaskOptions): Promise<AgentTaskParts> {
  const base = await resolveBase(o.repo, o.base).catch((err: Error) => {
    throw new TaskRepositoryError(err.message, { cause: err });
  });
  const id = { base, depth: o.depth, provider: o.provider };
  const repo = await Deno.realPath(o.repo);
  let hit = await o.cache?.get(id);
  // A delta kept for a provider that no longer says it takes them: the base goes whole.
  if (hit?.delta !== undefined && !await takesDeltas(o)) hit = await removeHit(hit);
  const { sealedPath, key, delta } = hit ??
    (o.cache && await sealDelta(o, o.cache, base, repo)) ?? await bundleAndSeal(o, base, repo);
  try {
    return {
      inputs: [{ type: "text", data: JSON.stringify(beadShape(o.task)) }],
      params: [
        { name: PARAM.agent, values: [o.agent] },
        { name: PARAM.base, values: [base] },
        { name: PARAM.accept, values: [o.accept] },
        { name: PARAM.repoKey, values: [bytesToHex(key)] },
        ...(delta === undefined
          ? []
          : [{ name: PARAM.repoDelta, values: [bytesToHex(delta.key)] }]),
        ...(o.budget === undefined ? [] : [{ name: PARAM.budget, values: [o.budget] }]),
        ...(o.protect.length === 0 ? [] : [{ name: PARAM.protect, values: [...o.protect] }]),
      ],
      sealedPath,
      sealedName: SEALED_REPOSITORY_NAME,
      ...(delta === undefined
        ? {}
        : { delta: { path: delta.sealedPath, name: SEALED_REPOSITORY_DELTA_NAME } }),
      provider: o.provider,
      timeoutMs: announcedTimeoutMs(await o.directory, o.provider, o.agent),
      local: { repo, base, accept: o.accept },
    };
  } catch (err) {
    await Deno.remove(sealedPath).catch(() => {});
    if (delta !== undefined) await Deno.remove(delta.sealedPath).catch(() => {});
    throw err;
  }
}

/**
 * A new base as a delta from the nearest base the cache holds a whole bundle of for this
 * repository, depth and provider (repository_delta.ts): that bundle's blob again (the town holds
 * it) and the delta, sealed with a fresh key and kept as the new base's entry. Undefined when the
 * provider does not announce that it takes deltas, no kept base allows one, or the delta could not
 * be made: the caller bundles the base whole.
 */
async function sealDelta(
  o: SealAgentTaskOptions,
  cache: BundleCache,
  base: string,
  repo: string,
): Promise<CachedBundle | undefined> {
  let from: { base: string; distance: number } | undefined;
  for (const kept of await cache.bundledBases({ repo, depth: o.depth, provider: o.provider })) {
    const distance = await deltaDistance(o.repo, kept, base, o.depth);
    if (distance !== undefined && distance < (from?.distance ?? Infinity)) {
      from = { base: kept, distance };
    }
    if (from?.distance === 1) break;
  }
  if (from === undefined) return undefined;
  // Only now the directory (a first task is bundled while it is read: startAgentTaskParts).
  if (!await takesDeltas(o)) return undefined;
  const whole = await cache.get({ base: from.base, depth: o.depth, provider: o.provider });
  if (whole === undefined || whole.delta !== undefined) {
    await removeHit(whole);
    return undefined;
  }
  // In the cache's folder: a crash's leftovers there go with its next eviction.
  const name = `${cache.dir}/.tmp-delta-${crypto.randomUUID()}`;
  const plainPath = `${name}.bundle`;
  const sealedPath = `${name}.sealed`;
  try {
    const made = await createRepositoryDelta({
      repoDir: o.repo,
      from: from.base,
      base,
      depth: o.depth,
      outPath: plainPath,
      workDir: cache.dir,
    });
    if (made === undefined) throw new Error("no delta");
    const { key, sha256 } = await sealFile(plainPath, sealedPath);
    // A cache that cannot keep it costs the next task the delta again, not this one its job.
    await cache.put({ base, depth: o.depth, provider: o.provider }, {
      path: sealedPath,
      key,
      sha256,
    }, { from: from.base }).catch(() => {});
    return { ...whole, delta: { sealedPath, key, sealedSha256: sha256 } };
  } catch {
    // Whatever failed here, the base bundled whole still makes the task.
    await Deno.remove(sealedPath).catch(() => {});
    await removeHit(whole);
    return undefined;
  } finally {
    await Deno.remove(plainPath).catch(() => {});
  }
}

/** Removes a cache hit's copies (handed out to this caller); undefined. */
async function removeHit(hit: CachedBundle | undefined): Promise<undefined> {
  if (hit === undefined) return;
  await Deno.remove(hit.sealedPath).catch(() => {});
  if (hit.delta !== undefined) await Deno.remove(hit.delta.sealedPath).catch(() => {});
}

/** The provider's agent-task skill announces that it takes deltas (a directory unread: no). */
async function takesDeltas(o: SealAgentTaskOptions): Promise<boolean> {
  const directory = await Promise.resolve(o.directory).catch(() => []);
  return directory.find((p) => p.pubkey === o.provider)?.skills
    .some((s) => s.kinds.includes(AGENT_TASK_KIND) && s.repoDeltas === true) ?? false;
}

/** The full path: the repository bundled at `base`, sealed with a fresh key, kept in the cache. */
async function bundleAndSeal(
  o: SealAgentTaskOptions,
  base: string,
  repo: string,
): Promise<{ sealedPath: string; key: Uint8Array<ArrayBuffer>; delta?: undefined }> {
  const plainPath = await Deno.makeTempFile({ prefix: "turnpike-repo-", suffix: ".bundle" });
  const sealedPath = await Deno.makeTempFile({ prefix: "turnpike-repo-", suffix: ".sealed" });
  try {
    await createRepositoryBundle({
      repoDir: o.repo,
      outPath: plainPath,
      base,
      depth: o.depth,
      mirrorDir: o.cache?.mirrorOf(repo),
    }).catch((err: Error) => {
      throw new TaskRepositoryError(err.message, { cause: err });
    });
    const { key, sha256 } = await sealFile(plainPath, sealedPath);
    // A cache that cannot keep it costs the next task the full path, not this one its job.
    await o.cache?.put({ base, depth: o.depth, provider: o.provider }, {
      path: sealedPath,
      key,
      sha256,
    }, { repo }).catch(() => {});
    return { sealedPath, key };
  } catch (err) {
    await Deno.remove(sealedPath).catch(() => {});
    throw err;
  } finally {
    await Deno.remove(plainPath).catch(() => {});
  }
}

/**
 * The first provider online that serves agent-task, when none is given; undefined: none.
 *
 * @example
 * ```ts
 * import { agentTaskProvider } from "./agent_task_out.ts";
 *
 * const online = { pubkey: "ab".repeat(32), name: "b", online: true };
 * const skills = [{ name: "agent-task", kinds: [5603], price: "1" }];
 * if (agentTaskProvider([{ ...online, skills }]) !== online.pubkey) throw new Error();
 * if (agentTaskProvider([{ ...online, skills: [] }]) !== undefined) throw new Error();
 * ```
 */
export function agentTaskProvider(directory: readonly ProviderListing[]): string | undefined {
  return directory.find((p) => p.online && p.skills.some((s) => s.kinds.includes(AGENT_TASK_KIND)))
    ?.pubkey;
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

/** The task as bd's own issue shape (and turnpike's `context`), read with the same parser. */
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
    context: task.context,
  };
}
