/**
 * The refinery's merge queue against Gas City's newest-first baseline (docs/RESEARCH.md "Q3b"),
 * on a real repository with the real gate sandbox: `--results` agent results, result i changing
 * line 2 of area `i % --areas` (so results sharing an area conflict), delivered in waves of
 * `--wave` a tick, the refinery running once a tick and trying at most `--limit` results (a
 * refinery slower than its polecats). A conflict is slung again: its redo is built at once on the
 * new tip (the agent's own minutes are not counted) and delivered the next tick; a redo that
 * conflicts again is rejected. Every `--bad`-th result also adds what the gate refuses.
 *
 * Prints, per order: ticks until every result is decided, conflicts, re-slings, rejections, gate
 * runs, the longest and mean wait (ticks from a sling's first delivery to its merge), and the
 * refinery's own milliseconds per merged result (its patrols' wall time over the merges).
 *
 * Run: deno run -A bench/refinery_bench_script.ts [--results 20] [--areas 12] [--wave 5]
 *   [--limit 4] [--max-wait-ticks 3] [--bad 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runGit } from "../roles/agent_work/git_command.ts";
import {
  type PatrolEvent,
  type PatrolResult,
  refineryPatrol,
} from "../roles/agent_work/refinery/refinery_patrol.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    results: { type: "string", default: "20" },
    areas: { type: "string", default: "12" },
    wave: { type: "string", default: "5" },
    limit: { type: "string", default: "4" },
    "max-wait-ticks": { type: "string", default: "3" },
    bad: { type: "string", default: "10" },
  },
});
const N = Number(values.results);
const AREAS = Number(values.areas);
const WAVE = Number(values.wave);
const LIMIT = Number(values.limit);
const MAX_WAIT_TICKS = Number(values["max-wait-ticks"]);
const BAD = Number(values.bad);
const TICK_MS = 60_000;
const ACCEPT = "! grep -rq BROKEN src";

const jobId = (n: number) => n.toString(16).padStart(8, "0").repeat(8);

/** A commit on `from`, made in a throwaway worktree. */
async function commitOn(
  repo: string,
  from: string,
  edit: (dir: string) => Promise<void>,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refinery-bench-work-" });
  await runGit(["worktree", "add", "-q", "--detach", `${dir}/w`, from], { dir: repo });
  try {
    await edit(`${dir}/w`);
    await runGit(["add", "-A"], { dir: `${dir}/w` });
    await runGit(["commit", "-q", "-m", "work"], { dir: `${dir}/w` });
    return (await runGit(["rev-parse", "HEAD"], { dir: `${dir}/w` })).stdout.trim();
  } finally {
    await runGit(["worktree", "remove", "--force", `${dir}/w`], { dir: repo });
    await Deno.remove(dir, { recursive: true });
  }
}

interface Figures {
  order: string;
  ticks: number;
  conflicts: number;
  reslung: number;
  rejected: number;
  merged: number;
  gates: number;
  maxWait: number;
  meanWait: number;
  msPerMerged: number;
}

async function simulate(newestFirst: boolean): Promise<Figures> {
  const root = await Deno.makeTempDir({ prefix: "refinery-bench-" });
  try {
    const repo = `${root}/repo`;
    await runGit(["init", "-q", "--initial-branch=main", repo]);
    for (const [k, v] of [["user.name", "bench"], ["user.email", "bench@example.invalid"]]) {
      await runGit(["config", k!, v!], { dir: repo });
    }
    await Deno.mkdir(`${repo}/src`);
    for (let a = 0; a < AREAS; a++) {
      await Deno.writeTextFile(`${repo}/src/a${a}.txt`, `area ${a}\nline 2\nline 3\n`);
    }
    await runGit(["add", "-A"], { dir: repo });
    await runGit(["commit", "-q", "-m", "areas"], { dir: repo });
    const base = (await runGit(["rev-parse", "HEAD"], { dir: repo })).stdout.trim();

    // Every result is slung at tick 0 on the base; wave w is delivered at tick w.
    const due = new Map<number, PatrolResult[]>();
    const firstAt = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const tip = await commitOn(repo, base, async (dir) => {
        const path = `${dir}/src/a${i % AREAS}.txt`;
        const lines = (await Deno.readTextFile(path)).split("\n");
        lines[1] = `result ${i}`;
        await Deno.writeTextFile(path, lines.join("\n"));
        if (BAD > 0 && i % BAD === BAD - 1) {
          await Deno.writeTextFile(`${dir}/src/bad${i}.txt`, "BROKEN\n");
        }
      });
      const tick = Math.floor(i / WAVE);
      const key = `bead:gt-${i}`;
      firstAt.set(key, tick);
      const r: PatrolResult = {
        job: jobId(i),
        key,
        tip,
        accept: ACCEPT,
        deliveredAtMs: tick * TICK_MS,
        verdict: "pass",
        lines: 2,
      };
      due.set(tick, [...due.get(tick) ?? [], r]);
    }
    const delivered: PatrolResult[] = [];
    const waits: number[] = [];
    let conflicts = 0, reslung = 0, rejected = 0, merged = 0, gates = 0, ms = 0;
    let redo = 0;
    let tick = 0;
    const decided = new Set<string>();
    while (decided.size < delivered.length || [...due.keys()].some((t) => t >= tick)) {
      delivered.push(...due.get(tick) ?? []);
      const byJob = new Map(delivered.map((r) => [r.job, r]));
      const resends: { r: PatrolResult; tip: string }[] = [];
      const t0 = performance.now();
      const summary = await refineryPatrol({
        stateDir: root,
        repoDir: repo,
        branch: "main",
        results: delivered,
        nowMs: tick * TICK_MS,
        maxWaitMs: MAX_WAIT_TICKS * TICK_MS,
        newestFirst,
        limit: LIMIT,
        // The redo is built after the patrol; its job id is known now.
        resend: (r, tip) => {
          resends.push({ r, tip });
          return Promise.resolve(jobId(0x10000 + redo++));
        },
        onEvent: (e: PatrolEvent) => {
          if (e.type !== "outcome" || e.outcome === "waiting") return;
          decided.add(e.job);
          if (e.outcome === "conflict") conflicts++;
          if (e.outcome === "rejected" && e.reason.includes("re-sling")) conflicts++;
          if (e.outcome === "merged") {
            waits.push(tick - firstAt.get(byJob.get(e.job)!.key)!);
          }
        },
      });
      ms += performance.now() - t0;
      merged += summary.merged;
      reslung += summary.reslung;
      rejected += summary.rejected;
      gates += summary.gates;
      for (const [n, { r, tip }] of resends.entries()) {
        const i = parseInt(r.job.slice(0, 8), 16) % 0x10000;
        const again = await commitOn(repo, tip, async (dir) => {
          await Deno.writeTextFile(`${dir}/src/a${i % AREAS}.txt`, `redo ${i}\n`, {
            append: true,
          });
        });
        const job = jobId(0x10000 + redo - resends.length + n);
        const next: PatrolResult = { ...r, job, tip: again, lines: 1 };
        due.set(tick + 1, [...due.get(tick + 1) ?? [], next]);
      }
      tick++;
    }
    return {
      order: newestFirst ? "newest first" : "queue",
      ticks: tick,
      conflicts,
      reslung,
      rejected,
      merged,
      gates,
      maxWait: Math.max(...waits),
      meanWait: Math.round(10 * waits.reduce((a, b) => a + b, 0) / waits.length) / 10,
      msPerMerged: Math.round(ms / Math.max(1, merged)),
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

console.log(
  `${N} results, ${AREAS} areas, ${WAVE} delivered a tick, ${LIMIT} tried a tick, ` +
    `max wait ${MAX_WAIT_TICKS} ticks, every ${BAD}th fails its gate`,
);
console.log(
  "| order | ticks to all decided | conflicts | re-slung | rejected | merged | gate runs | " +
    "longest wait (ticks) | mean wait | refinery ms per merged |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const newestFirst of [false, true]) {
  const f = await simulate(newestFirst);
  console.log(
    `| ${f.order} | ${f.ticks} | ${f.conflicts} | ${f.reslung} | ${f.rejected} | ${f.merged} | ` +
      `${f.gates} | ${f.maxWait} | ${f.meanWait} | ${f.msPerMerged} |`,
  );
}
