/**
 * An agent task's inputs on the host: the sealed repository opened and checked out (within half
 * the job's disk, docs/SKILLS.md "agent-task"), the protected paths' base copies, and the task's
 * files the job gets in its `inputs/`. With a checkout cache, a bundle checked out before is taken
 * from it, and a new one kept in it once the job is over (checkout_cache.ts). The worktree's tar
 * is made only for a job that unpacks it ({@linkcode worktreeTarInput}): a job on an overlay of
 * the checkout, or a host preset's (which tars its own work), has no use for it.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import type { AgentPreset } from "../../../config/agent_presets.ts";
import { openBlob } from "../sealed_blob.ts";
import { worktreeFromBundle } from "../bundle_worktree.ts";
import { applyRepositoryDelta } from "../delta_worktree.ts";
import { MAX_BUNDLE_HEADER, parseBundleHeader } from "../bundle_header.ts";
import { BundleRefsError } from "../agent_work_errors.ts";
import { blobInputsOf } from "../../../protocol/job_blobs.ts";
import { AGENT_TASK_PARAM } from "../agent_task_wire.ts";
import { protectedPathInputs } from "../protected_paths.ts";
import { parseAgentTask, renderTaskPrompt } from "../agent_task.ts";
import type { SkillJob } from "../../provider/sandbox/skill_sandbox.ts";
import type { CheckoutCache, CheckoutKey, SealedInput } from "./checkout_cache.ts";

/** What of an agent-task request its inputs are made from. */
export interface AgentTaskInputsRequest {
  /** The name of the sealed repository bundle among the job's fetched files. */
  repoBlob: string;
  /** The bundle's key, hex. */
  repoKey: string;
  /**
   * The delta from the bundle's base to `base` (docs/PROTOCOL.md "A new base as a delta"): its
   * name among the job's fetched files and its key, hex; absent: the bundle is of `base` itself.
   */
  delta?: { blob: string; key: string };
  /** The task, as the request carries it. */
  task: string;
  /** The base commit. */
  base: string;
  /** The requester's protected globs (docs/PROTOCOL.md "Protected paths"). */
  protect: string[];
  /** The requester's acceptance command. */
  accept: string;
  preset: Pick<AgentPreset, "command">;
}

/** What {@linkcode prepareAgentTaskInputs} made. */
export interface AgentTaskInputs {
  /** The files the job gets in its `inputs/` (no worktree tar: {@linkcode worktreeTarInput}). */
  files: { path: string; name: string }[];
  /**
   * Keeps the checkout in the cache once the job is over (it moves `pristine/` out of the host
   * dir); the entry's `pristine/`, or undefined (none kept: taken from the cache, or no cache).
   */
  keep: () => Promise<string | undefined>;
}

/**
 * The repository opened and checked out, and the files the job gets in its `inputs/`.
 *
 * It opens a sealed repository with git: no example that runs here:
 * tests/unit/roles/agent_work/provider/checkout_cache_test.ts.
 */
export async function prepareAgentTaskInputs(
  job: SkillJob,
  r: AgentTaskInputsRequest,
  hostDir: string,
  cache?: CheckoutCache,
): Promise<AgentTaskInputs> {
  const task = parseAgentTask(r.task);
  // The job may get the files as a tar and unpack it in its work dir: both fit in its limit,
  // or the checkout is refused before it writes them on the host (docs/SKILLS.md "agent-task").
  const maxCheckoutBytes = Math.floor(job.manifest.diskBytes / 2);
  const bundle = { blob: r.repoBlob, key: r.repoKey };
  const key: CheckoutKey = { bundle, delta: r.delta, base: r.base };
  // A cached checkout is found by the sealed blobs: the blobs are opened only without one.
  const cached = await cache?.take(key, hostDir, maxCheckoutBytes) ?? false;
  let keep = () => Promise.resolve<string | undefined>(undefined);
  if (!cached) {
    const plain = await openFile(job, r.repoBlob, r.repoKey);
    const delta = r.delta && await openFile(job, r.delta.blob, r.delta.key);
    const made = delta === undefined
      ? await checkOut(plain, r.base, hostDir, maxCheckoutBytes, cache)
      : await checkOutDelta(plain, bundle, delta, r.base, hostDir, maxCheckoutBytes, cache);
    if (cache !== undefined) {
      keep = () => cache.keep(key, hostDir, made.bytes).catch(() => undefined);
    }
  }
  const protectedFiles = r.protect.length === 0 ? [] : await protectedPathInputs({
    pristine: `${hostDir}/pristine`,
    base: r.base,
    globs: r.protect,
    dir: hostDir,
  });
  const write = async (name: string, text: string) => {
    await Deno.writeTextFile(`${hostDir}/${name}`, text, { mode: 0o600 });
    return { path: `${hostDir}/${name}`, name };
  };
  const files = [
    await write("task.md", renderTaskPrompt(task)),
    await write("task.json", JSON.stringify(task)),
    await write("agent-command", r.preset.command),
    await write("accept-command", r.accept),
    await write("base", r.base),
    ...protectedFiles,
  ];
  return { files, keep };
}

/**
 * The request's repository blob (its first blob input) and, when its base goes as a delta, the
 * delta's (its second) with the `repo-delta` param's key; a string saying what is wrong otherwise.
 *
 * @example
 * ```ts
 * import { repositoryBlobsOf } from "./agent_task_inputs.ts";
 *
 * const [a, b, key] = ["a", "b", "c"].map((c) => c.repeat(64));
 * const tags = [["i", `http://t/${a}`, "url"], ["x", a], ["i", `http://t/${b}`, "url"], ["x", b]];
 * const got = repositoryBlobsOf([...tags, ["param", "repo-delta", key]]);
 * if (typeof got === "string" || got.repoBlob !== a || got.delta?.blob !== b) throw new Error();
 * if (typeof repositoryBlobsOf(tags.slice(0, 2).concat([["param", "repo-delta", key]])) !== "string") {
 *   throw new Error("a delta's key and no second blob: refused");
 * }
 * ```
 */
export function repositoryBlobsOf(
  tags: readonly string[][],
): Pick<AgentTaskInputsRequest, "repoBlob" | "delta"> | string {
  const [repoBlob, deltaBlob] = blobInputsOf(tags).map((b) => b.sha256);
  if (repoBlob === undefined) return "no repository: a blob input with the sealed bundle";
  const key = tags.find((t) => t[0] === "param" && t[1] === AGENT_TASK_PARAM.repoDelta);
  if (key === undefined) return { repoBlob };
  if (key.length !== 3 || !/^[0-9a-f]{64}$/.test(key[2]) || deltaBlob === undefined) {
    return "param repo-delta: the second blob input's key, 64 hex digits";
  }
  return { repoBlob, delta: { blob: deltaBlob, key: key[2] } };
}

/** A sealed blob among the job's fetched files, opened with its key. */
async function openFile(
  job: SkillJob,
  name: string,
  keyHex: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const blob = (job.files ?? []).find((f) => f.name === name);
  if (blob === undefined) throw new Error(`the repository blob ${name} was not fetched`);
  return await openBlob(
    await Deno.readFile(blob.path),
    hexToBytes(keyHex) as Uint8Array<ArrayBuffer>,
  );
}

/** The bundle checked and checked out at `base` in `hostDir/pristine`. */
async function checkOut(
  bundle: Uint8Array,
  base: string,
  hostDir: string,
  maxCheckoutBytes: number,
  cache: CheckoutCache | undefined,
): Promise<{ bytes: number }> {
  await Deno.writeFile(`${hostDir}/repo.bundle`, bundle, { mode: 0o600 });
  return await worktreeFromBundle({
    bundlePath: `${hostDir}/repo.bundle`,
    base,
    dir: `${hostDir}/pristine`,
    maxCheckoutBytes,
    // A base new here starts from a cached checkout of one it descends from: fewer writes.
    seeds: await cache?.seeds(),
  });
}

/**
 * The bundle's own base checked out (from the cache when this provider kept it, else from the
 * bundle), then moved on to `base` by the delta (delta_worktree.ts).
 */
async function checkOutDelta(
  bundle: Uint8Array,
  sealed: SealedInput,
  delta: Uint8Array,
  base: string,
  hostDir: string,
  maxCheckoutBytes: number,
  cache: CheckoutCache | undefined,
): Promise<{ bytes: number }> {
  const from = parseBundleHeader(bundle.subarray(0, MAX_BUNDLE_HEADER + 4)).refs[0]?.oid;
  if (from === undefined) throw new BundleRefsError("the repository bundle carries no ref");
  const taken = await cache?.take({ bundle: sealed, base: from }, hostDir, maxCheckoutBytes) ??
    false;
  if (!taken) await checkOut(bundle, from, hostDir, maxCheckoutBytes, cache);
  await Deno.writeFile(`${hostDir}/repo-delta.bundle`, delta, { mode: 0o600 });
  return await applyRepositoryDelta({
    bundlePath: `${hostDir}/repo-delta.bundle`,
    base,
    dir: `${hostDir}/pristine`,
    maxCheckoutBytes,
  });
}

/**
 * The checkout's files as `worktree.tar`, for a job that unpacks them in its work dir (the
 * checkout's path cannot be an overlay's: skills/agent-task/run): the input to add to its files.
 * Their size was checked against the job's limit with the checkout.
 *
 * It runs tar on a checkout: no example that runs here:
 * tests/unit/roles/agent_work/provider/checkout_cache_test.ts.
 */
export async function worktreeTarInput(hostDir: string): Promise<{ path: string; name: string }> {
  const path = `${hostDir}/worktree.tar`;
  const tar = await new Deno.Command("tar", {
    args: ["-C", `${hostDir}/pristine`, "-cf", path, "."],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!tar.success) throw new Error(`tar: ${new TextDecoder().decode(tar.stderr).trim()}`);
  return { path, name: "worktree.tar" };
}
