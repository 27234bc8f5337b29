/**
 * A new base sent as a delta (docs/PROTOCOL.md "A new base as a delta"), both sides, on a real
 * repository (this one by default): the requester's `createRepositoryDelta` from `--from` (HEAD~3
 * by default) to HEAD, and the provider's `applyRepositoryDelta` onto a checkout of `--from` (a
 * hard-linked copy of one made once, as the checkout cache gives it; the copy not timed). Medians
 * of `--rounds` rounds; each git process is a few ms on the machines measured, so the figures
 * follow the processes each side starts (docs/SCALE.md "A new base's delta in fewer processes").
 *
 * Run: deno run -A bench/repository_delta_bench_script.ts [--repo DIR] [--from HEAD~3] [--rounds 9]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { createRepositoryBundle, resolveBase } from "../roles/agent_work/repository_bundle.ts";
import { createRepositoryDelta } from "../roles/agent_work/repository_delta.ts";
import { applyRepositoryDelta } from "../roles/agent_work/delta_worktree.ts";
import { worktreeFromBundle } from "../roles/agent_work/bundle_worktree.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["repo", "from", "rounds"],
  switches: [],
  usage:
    "Usage: deno run -A bench/repository_delta_bench_script.ts [--repo DIR] [--from HEAD~3] [--rounds 9]",
});
const repoDir = await Deno.realPath(values.repo ?? ".");
const rounds = Number(values.rounds ?? 9);
const from = await resolveBase(repoDir, values.from ?? "HEAD~3");
const base = await resolveBase(repoDir, "HEAD");
const tmp = await Deno.makeTempDir({ prefix: "turnpike-delta-bench-" });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await createRepositoryBundle({ repoDir, base: from, depth: 50, outPath: `${tmp}/from.bundle` });
  await worktreeFromBundle({ bundlePath: `${tmp}/from.bundle`, base: from, dir: `${tmp}/from` });
  const made: number[] = [];
  const applied: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    const delta = await createRepositoryDelta({
      repoDir,
      from,
      base,
      depth: 50,
      outPath: `${tmp}/delta-${i}.bundle`,
    });
    made.push(performance.now() - t);
    if (delta === undefined) throw new Error(`no delta from ${from} to ${base}`);
    const copy = await new Deno.Command("cp", { args: ["-al", `${tmp}/from`, `${tmp}/c${i}`] })
      .output();
    if (!copy.success) throw new Error("cp -al failed");
    t = performance.now();
    await applyRepositoryDelta({ bundlePath: delta.path, base, dir: `${tmp}/c${i}` });
    applied.push(performance.now() - t);
  }
  console.log(
    `delta ${from.slice(0, 12)}..${base.slice(0, 12)} (${rounds} rounds): made (requester) ` +
      `best ${Math.min(...made).toFixed(1)} ms, median ${median(made).toFixed(1)}; applied ` +
      `(provider) best ${Math.min(...applied).toFixed(1)} ms, median ${median(applied).toFixed(1)}`,
  );
} finally {
  await Deno.remove(tmp, { recursive: true });
}
