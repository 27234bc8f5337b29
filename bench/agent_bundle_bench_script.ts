/**
 * What carrying a task's repository costs, step by step, on a real repository (this one by
 * default): the bundle of its HEAD to a depth (roles/agent_work/repository_bundle.ts), sealed
 * (roles/agent_work/sealed_blob.ts; its key travels in the job's encrypted params), opened, and
 * the provider's worktree checked out from it (roles/agent_work/bundle_worktree.ts); then one
 * commit in that worktree bundled back as the sandbox's driver does it (skills/agent-task/run:
 * `git bundle create` of the work branch over the base) and checked against the repository
 * (result_apply.ts, which writes nothing). Prints the sizes and the milliseconds of each step,
 * best of the rounds.
 *
 * Run: deno run -A bench/agent_bundle_bench_script.ts [--repo DIR] [--depth 50] [--rounds 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createRepositoryBundle } from "../roles/agent_work/repository_bundle.ts";
import { openBlob, sealBlob } from "../roles/agent_work/sealed_blob.ts";
import { worktreeFromBundle } from "../roles/agent_work/bundle_worktree.ts";
import { checkResultBundle } from "../roles/agent_work/result_apply.ts";
import { runGit } from "../roles/agent_work/git_command.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    repo: { type: "string", default: "." },
    depth: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
  },
});
const repoDir = values.repo;
const depth = Number(values.depth);
const rounds = Number(values.rounds);

const best = new Map<string, number>();
const sizes: Record<string, number> = {};

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  best.set(name, Math.min(best.get(name) ?? Infinity, ms));
  return out;
}

for (let round = 0; round < rounds; round++) {
  const tmp = await Deno.makeTempDir({ prefix: "agent-bundle-bench-" });
  try {
    const bundle = await step(
      "bundle (shallow fetch + git bundle create)",
      () => createRepositoryBundle({ repoDir, outPath: `${tmp}/task.bundle`, depth }),
    );
    sizes["bundle bytes"] = bundle.bytes;
    sizes["bundle commits"] = bundle.commits;
    const plain = await Deno.readFile(bundle.path);
    const { sealed, key } = await step("seal (AES-256-GCM)", () => sealBlob(plain));
    sizes["sealed bytes"] = sealed.length;
    const opened = await step("open", () => openBlob(sealed, key));
    await Deno.writeFile(`${tmp}/received.bundle`, opened);
    const tree = await step(
      "worktree from bundle (verify, unbundle, shallow, checkout)",
      () =>
        worktreeFromBundle({
          bundlePath: `${tmp}/received.bundle`,
          base: bundle.base,
          dir: `${tmp}/work`,
        }),
    );
    sizes["worktree commits"] = tree.commits;
    await Deno.writeTextFile(`${tree.dir}/AGENT_BENCH.md`, "one line\n");
    await runGit(["add", "AGENT_BENCH.md"], { dir: tree.dir });
    await runGit(["commit", "-q", "-m", "bench"], { dir: tree.dir });
    const resultPath = `${tmp}/result.bundle`;
    await step(
      "result bundle (base..branch, as skills/agent-task/run)",
      () =>
        runGit([
          "bundle",
          "create",
          "-q",
          resultPath,
          `refs/heads/${tree.branch}`,
          `^${bundle.base}`,
        ], {
          dir: tree.dir,
        }),
    );
    sizes["result bytes"] = (await Deno.stat(resultPath)).size;
    await step(
      "result check (quarantine fetch, ancestry)",
      () => checkResultBundle({ repoDir, bundlePath: resultPath, base: bundle.base }),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const { stdout: head } = await runGit(["rev-parse", "--short", "HEAD"], { dir: repoDir });
console.log(`repository ${repoDir} at ${head.trim()}, --depth ${depth}, best of ${rounds}`);
for (const [name, value] of Object.entries(sizes)) console.log(`  ${name.padEnd(58)} ${value}`);
for (const [name, ms] of best) console.log(`  ${name.padEnd(58)} ${ms.toFixed(1)} ms`);
