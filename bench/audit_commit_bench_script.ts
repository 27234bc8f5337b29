/**
 * What one audit commit costs, in process (`state/audit/git_commit_writer.ts`) against `git add` +
 * `git commit`: CPU ms (this process's own, and its children's) per commit of a one-job change
 * (a job file rewritten and a new one created, about 700 bytes each, their bytes handed to the
 * log as the job repository does) in a state dir of `--files` job files.
 *
 *     deno run -A bench/audit_commit_bench_script.ts [--files 500] [--commits 200] [--max-packs 50,200]
 *
 * `--max-packs`: the log's `maxPacks` (the packs its objects directory holds before a roll-up, a `git
 * repack` each, counted in the children's CPU); several, comma-separated: in-process rounds only,
 * one per value, alternating twice.
 *
 * @module
 */
import { openAuditLog } from "../state/audit/audit_log.ts";
import { parseBenchFlags } from "./bench_flags.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["files", "commits", "max-packs"],
  switches: [],
  usage:
    "Usage: deno run -A bench/audit_commit_bench_script.ts [--files 500] [--commits 200] [--max-packs 50,200]",
});
const num = (name: "files" | "commits", fallback: number) =>
  values[name] === undefined ? fallback : Number(values[name]);
const files = num("files", 500);
const commits = num("commits", 200);
const RECORD = `id = "${"ab".repeat(32)}"\nstatus = "sent"\nkind = 5100\n`.repeat(6);

/** utime + stime of this process and of its reaped children, in ms (Linux `/proc`). */
async function cpu(): Promise<{ own: number; sys: number; children: number }> {
  const f = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1].split(" ").map(Number);
  return { own: (f[11] + f[12]) * 10, sys: f[12] * 10, children: (f[13] + f[14]) * 10 };
}

const maxPacks = values["max-packs"]?.split(",").map(Number);
if (maxPacks?.some((n) => !(n >= 1))) {
  console.error("Error: --max-packs takes pack counts of 1 and up, comma-separated");
  Deno.exit(2);
}
const rounds: { inProcess: boolean; maxPacks?: number }[] = maxPacks === undefined
  ? [false, true, false, true].map((inProcess) => ({ inProcess }))
  : [...maxPacks, ...maxPacks].map((n) => ({ inProcess: true, maxPacks: n }));

for (const { inProcess, maxPacks } of rounds) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/jobs`);
    for (let i = 0; i < files; i++) await Deno.writeTextFile(`${dir}/jobs/${i}.toml`, `n = ${i}\n`);
    const audit = await openAuditLog({ dir, windowMs: 1, inProcess, maxPacks });
    const c0 = await cpu();
    const t0 = performance.now();
    for (let i = 0; i < commits; i++) {
      // Job records of a realistic size (about 700 bytes), handed to the log as the job
      // repository does (a tree whose log does not take `contents` reads the files).
      const again = new TextEncoder().encode(`n = ${i}, again\n${RECORD}`);
      const created = new TextEncoder().encode(`new = ${i}\n${RECORD}`);
      await Deno.writeFile(`${dir}/jobs/${i % files}.toml`, again);
      await Deno.writeFile(`${dir}/jobs/new-${i}.toml`, created);
      audit.record({
        action: "update",
        resource: "job",
        id: `j${i}`,
        paths: [`jobs/${i % files}.toml`, `jobs/new-${i}.toml`],
        fields: { Status: "sent" },
        contents: { [`jobs/${i % files}.toml`]: again, [`jobs/new-${i}.toml`]: created },
      });
      // Committed by its window (1 ms), not by flush (which also puts the index back).
      const before = audit.commits;
      while (audit.commits === before) await new Promise((r) => setTimeout(r, 1));
    }
    const c1 = await cpu();
    const ms = performance.now() - t0;
    await audit.close();
    console.log(
      `${inProcess ? "in process" : "git add + git commit"}${
        maxPacks === undefined ? "" : `, a roll-up at ${maxPacks} packs`
      }: ${files} files, ${commits} commits: ` +
        `own ${((c1.own - c0.own) / commits).toFixed(2)} ms (system ${
          ((c1.sys - c0.sys) / commits).toFixed(2)
        }), children ${((c1.children - c0.children) / commits).toFixed(2)} ms CPU per commit; ${
          (ms / commits).toFixed(2)
        } ms wall`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
