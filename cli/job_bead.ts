/**
 * The bead an agent-task works, as its job's record keeps it (`state/jobs/job_record.ts`
 * `JobBead`): read from the task the job sends (the bead `--bead` gave, as bd's own issue shape)
 * and from the polecat's environment, which Gas Town sets for the agent it runs (`GT_RIG`,
 * `GT_POLECAT`; docs/OPERATIONS.md "Gas Town presets"); and as `job list` and `job status` print
 * it, so that a Mayor sees which polecat each job is.
 *
 * @module
 */
import type { JobInput } from "../protocol/nip90_job.ts";
import type { JobBead } from "../state/jobs/job_record.ts";

/** Reads one environment variable (default `Deno.env.get`). */
export type EnvLookup = (name: string) => string | undefined;

/**
 * The bead of an agent-task's inputs (its first text input, the task as bd's issue shape), with
 * the rig and polecat from the environment; undefined for a task with no bead id (`--title`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobBeadOf } from "./job_bead.ts";
 *
 * const inputs = [{ type: "text" as const, data: '{"id":"gt-1","title":"Fix add"}' }];
 * const env = (name: string) => ({ GT_RIG: "myrig", GT_POLECAT: "p1" })[name];
 * assert.deepEqual(jobBeadOf(inputs, env), {
 *   id: "gt-1",
 *   title: "Fix add",
 *   rig: "myrig",
 *   polecat: "p1",
 * });
 * assert.equal(jobBeadOf([{ type: "text", data: '{"title":"no id"}' }], env), undefined);
 * ```
 */
export function jobBeadOf(
  inputs: readonly JobInput[],
  env: EnvLookup = (name) => Deno.env.get(name),
): JobBead | undefined {
  const text = inputs.find((i) => i.type === "text")?.data;
  let task: unknown;
  try {
    task = JSON.parse(text ?? "null");
  } catch {
    return undefined;
  }
  if (typeof task !== "object" || task === null) return undefined;
  const { id, title } = task as { id?: unknown; title?: unknown };
  if (typeof id !== "string" || id === "") return undefined;
  const bead: JobBead = { id };
  if (typeof title === "string") bead.title = title;
  const rig = env("GT_RIG");
  const polecat = env("GT_POLECAT");
  if (rig) bead.rig = rig;
  if (polecat) bead.polecat = polecat;
  return bead;
}

/**
 * A bead on one line: its id, its rig/polecat, its title quoted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beadText } from "./job_bead.ts";
 *
 * assert.equal(
 *   beadText({ id: "gt-1", title: "Fix add", rig: "myrig", polecat: "p1" }),
 *   'gt-1 myrig/p1 "Fix add"',
 * );
 * assert.equal(beadText({ id: "gt-2" }), "gt-2");
 * ```
 */
export function beadText(bead: JobBead): string {
  const where = bead.rig !== undefined || bead.polecat !== undefined
    ? ` ${bead.rig ?? "?"}/${bead.polecat ?? "?"}`
    : "";
  return `${bead.id}${where}${bead.title !== undefined ? ` ${JSON.stringify(bead.title)}` : ""}`;
}
