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
import { protectedPathInputs } from "../protected_paths.ts";
import { parseAgentTask, renderTaskPrompt } from "../agent_task.ts";
import type { SkillJob } from "../../provider/sandbox/skill_sandbox.ts";
import type { CheckoutCache } from "./checkout_cache.ts";

/** What of an agent-task request its inputs are made from. */
export interface AgentTaskInputsRequest {
  /** The name of the sealed repository bundle among the job's fetched files. */
  repoBlob: string;
  /** The bundle's key, hex. */
  repoKey: string;
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
  const blob = (job.files ?? []).find((f) => f.name === r.repoBlob);
  if (blob === undefined) throw new Error(`the repository blob ${r.repoBlob} was not fetched`);
  const sealed = await Deno.readFile(blob.path);
  const plain = await openBlob(sealed, hexToBytes(r.repoKey) as Uint8Array<ArrayBuffer>);
  const task = parseAgentTask(r.task);
  // The job may get the files as a tar and unpack it in its work dir: both fit in its limit,
  // or the checkout is refused before it writes them on the host (docs/SKILLS.md "agent-task").
  const maxCheckoutBytes = Math.floor(job.manifest.diskBytes / 2);
  const key = { bundle: plain, base: r.base };
  const cached = await cache?.take(key, hostDir, maxCheckoutBytes) ?? false;
  let keep = () => Promise.resolve<string | undefined>(undefined);
  if (!cached) {
    await Deno.writeFile(`${hostDir}/repo.bundle`, plain, { mode: 0o600 });
    const made = await worktreeFromBundle({
      bundlePath: `${hostDir}/repo.bundle`,
      base: r.base,
      dir: `${hostDir}/pristine`,
      maxCheckoutBytes,
      // A base new here starts from a cached checkout of one it descends from: fewer writes.
      seeds: await cache?.seeds(),
    });
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
