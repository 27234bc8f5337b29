/**
 * Q3a (docs/RESEARCH.md "Q3a"): what merge conflicts do as the number of remote polecats grows,
 * under the refinery's queue and under Gas City's newest-first order. Locally built results on a
 * real repository, the real refinery (roles/agent_work/refinery/) and the real gate sandbox; the
 * town leg at 10 polecats is bench/q3a_town_bench_script.ts.
 *
 * `--polecats` polecats each take one bead at tick 0, all on the same tip; bead i's change is
 * bench/q3a_overlap.ts's (its own file, and for a `--share` of the beads line 2 of one of `--hot`
 * hot files), made by running that script in a worktree. Each is delivered at a tick spread over
 * `--spread` ticks. Once a tick the refinery patrols and tries at most `--limit` results (one
 * refinery's throughput, whatever the number of polecats); a result waiting `--max-wait-ticks`
 * goes first. A conflict is slung again: its polecat makes the same change on the new tip and
 * delivers it `--redo-ticks` later; a redo that conflicts again is rejected (its bead unmerged).
 *
 * Model spend: every delivered result costs one result's model spend (its agent ran), priced at
 * `--model-cost` base units (by default 6,000, the metered model cost of each result of the town
 * leg: 1,000 input and 200 output tokens at 3,000,000 and 15,000,000 base units a million). Wasted is the
 * spend of results whose work was thrown away: each one slung again (redone) and each rejected
 * for a second conflict.
 *
 * Run: deno run -A bench/q3a_conflicts_bench_script.ts [--polecats 10,30,100] [--hot 4]
 *   [--share 0.5] [--spread 5] [--limit 10] [--max-wait-ticks 3] [--redo-ticks 1]
 *   [--model-cost 6000]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { beadScript, type Overlap, sampleFiles } from "./q3a_overlap.ts";
import { runGit } from "../roles/agent_work/git_command.ts";
import {
  type PatrolEvent,
  type PatrolResult,
  refineryPatrol,
} from "../roles/agent_work/refinery/refinery_patrol.ts";

const USAGE = "deno run -A bench/q3a_conflicts_bench_script.ts [--polecats 10,30,100] [--hot 4] " +
  "[--share 0.5] [--spread 5] [--limit 10] [--max-wait-ticks 3] [--redo-ticks 1] " +
  "[--model-cost 6000]";
const { values } = parseBenchFlags(Deno.args, {
  values: [
    "polecats",
    "hot",
    "share",
    "spread",
    "limit",
    "max-wait-ticks",
    "redo-ticks",
    "model-cost",
  ],
  switches: [],
  usage: USAGE,
});
const POLECATS = (values.polecats ?? "10,30,100").split(",").map(Number);
const OVERLAP: Overlap = { hot: Number(values.hot ?? 4), share: Number(values.share ?? 0.5) };
const SPREAD = Number(values.spread ?? 5);
const LIMIT = Number(values.limit ?? 10);
const MAX_WAIT_TICKS = Number(values["max-wait-ticks"] ?? 3);
const REDO_TICKS = Number(values["redo-ticks"] ?? 1);
const MODEL_COST = Number(values["model-cost"] ?? 6000);
const TICK_MS = 60_000;
const ACCEPT = "test -d src";

const jobId = (n: number) => n.toString(16).padStart(8, "0").repeat(8);
/** A fixed spread of delivery ticks (Knuth's multiplicative hash of the bead's number). */
const deliveryTick = (i: number) => ((i * 2654435761) >>> 0) % SPREAD;

/** `script` run on `from` in a throwaway worktree, committed; the commit. */
async function commitOn(repo: string, from: string, script: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "q3a-bench-work-" });
  await runGit(["worktree", "add", "-q", "--detach", `${dir}/w`, from], { dir: repo });
  try {
    const out = await new Deno.Command("sh", { args: ["-c", script], cwd: `${dir}/w` }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return (await runGit(["rev-parse", "HEAD"], { dir: `${dir}/w` })).stdout.trim();
  } finally {
    await runGit(["worktree", "remove", "--force", `${dir}/w`], { dir: repo });
    await Deno.remove(dir, { recursive: true });
  }
}

interface Figures {
  polecats: number;
  order: string;
  delivered: number;
  conflicts: number;
  reslung: number;
  rejected: number;
  merged: number;
  ticks: number;
  maxWait: number;
  gates: number;
  msPerMerged: number;
  wasted: number;
}

async function simulate(n: number, newestFirst: boolean): Promise<Figures> {
  const root = await Deno.makeTempDir({ prefix: "q3a-bench-" });
  try {
    const repo = `${root}/repo`;
    await runGit(["init", "-q", "--initial-branch=main", repo]);
    for (const [k, v] of [["user.name", "bench"], ["user.email", "bench@example.invalid"]]) {
      await runGit(["config", k!, v!], { dir: repo });
    }
    await Deno.mkdir(`${repo}/src`);
    for (const [path, text] of Object.entries(sampleFiles(OVERLAP.hot))) {
      await Deno.writeTextFile(`${repo}/${path}`, text);
    }
    await runGit(["add", "-A"], { dir: repo });
    await runGit(["commit", "-q", "-m", "the sample"], { dir: repo });
    const base = (await runGit(["rev-parse", "HEAD"], { dir: repo })).stdout.trim();

    const due = new Map<number, PatrolResult[]>();
    const deliver = (tick: number, r: PatrolResult) => due.set(tick, [...due.get(tick) ?? [], r]);
    const beadOf = new Map<string, number>();
    const firstAt = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const tick = deliveryTick(i);
      const job = jobId(i);
      beadOf.set(job, i);
      firstAt.set(i, tick);
      deliver(tick, {
        job,
        key: `bead:q3a-${i}`,
        tip: await commitOn(repo, base, beadScript(i, OVERLAP)),
        accept: ACCEPT,
        deliveredAtMs: tick * TICK_MS,
        verdict: "pass",
        lines: 2,
      });
    }
    const delivered: PatrolResult[] = [];
    const decided = new Set<number>();
    const waits: number[] = [];
    let conflicts = 0, reslung = 0, rejected = 0, merged = 0, gates = 0, ms = 0, redos = 0;
    let tick = 0, lastTick = 0;
    while (decided.size < n) {
      delivered.push(...due.get(tick) ?? []);
      const resends: { r: PatrolResult; tip: string; job: string }[] = [];
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
        resend: (r, tip) => {
          const job = jobId(0x10000 + redos++);
          beadOf.set(job, beadOf.get(r.job)!);
          resends.push({ r, tip, job });
          return Promise.resolve(job);
        },
        onEvent: (e: PatrolEvent) => {
          if (e.type !== "outcome" || e.outcome === "waiting") return;
          const bead = beadOf.get(e.job)!;
          if (e.outcome === "conflict") conflicts++;
          if (e.outcome === "rejected" && e.reason.includes("re-sling")) conflicts++;
          if (e.outcome === "merged" || e.outcome === "rejected") {
            decided.add(bead);
            lastTick = tick;
          }
          if (e.outcome === "merged") waits.push(tick - firstAt.get(bead)!);
        },
      });
      ms += performance.now() - t0;
      merged += summary.merged;
      reslung += summary.reslung;
      rejected += summary.rejected;
      gates += summary.gates;
      for (const { r, tip, job } of resends) {
        const i = beadOf.get(job)!;
        const again = await commitOn(repo, tip, beadScript(i, OVERLAP));
        // The redo keeps its sling's first delivery: its age runs on (refinery_order.ts).
        deliver(tick + REDO_TICKS, { ...r, job, tip: again });
      }
      tick++;
    }
    const first = Math.min(...firstAt.values());
    return {
      polecats: n,
      order: newestFirst ? "newest first" : "queue",
      delivered: n + redos,
      conflicts,
      reslung,
      rejected,
      merged,
      ticks: lastTick - first,
      maxWait: Math.max(...waits),
      gates,
      msPerMerged: Math.round(ms / Math.max(1, merged)),
      wasted: reslung + rejected,
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

console.log(
  `${OVERLAP.hot} hot files, ${OVERLAP.share * 100}% of beads rewrite one; delivered over ` +
    `${SPREAD} ticks; ${LIMIT} tried a tick; max wait ${MAX_WAIT_TICKS} ticks; a redo ` +
    `${REDO_TICKS} tick(s) later; one result's model spend ${MODEL_COST}`,
);
console.log(
  "| polecats | order | results delivered | conflicts (rate) | re-slung | rejected (2nd conflict) " +
    "| merged | ticks, first delivery to all decided | longest wait (ticks) | gate runs " +
    "| refinery ms per merged | model spend wasted (results, share) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const n of POLECATS) {
  for (const newestFirst of [false, true]) {
    const f = await simulate(n, newestFirst);
    const rate = Math.round(100 * f.conflicts / f.delivered);
    const share = Math.round(100 * f.wasted / f.delivered);
    const spend = f.wasted * MODEL_COST;
    console.log(
      `| ${f.polecats} | ${f.order} | ${f.delivered} | ${f.conflicts} (${rate}%) | ${f.reslung} ` +
        `| ${f.rejected} | ${f.merged} | ${f.ticks} | ${f.maxWait} | ${f.gates} ` +
        `| ${f.msPerMerged} | ${spend} (${f.wasted}, ${share}%) |`,
    );
  }
}
