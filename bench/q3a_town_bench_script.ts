/**
 * Q3a's town leg (docs/RESEARCH.md "Q3a"): `--polecats` real agent tasks (10 by default) through
 * a real town to the real provider node, its sandbox and model gateway, on one sample repository
 * whose files overlap as bench/q3a_overlap.ts says; a requester profile driven through its CLI
 * patrols with `turnpike refinery` every `--patrol` seconds while the results come in, once with
 * the queue and once with `--newest-first` (each on a repository of its own, one after the other).
 * A conflict goes back to the provider as a real agent task on the new tip (the refinery's own
 * re-sling), whose agent makes the same change there.
 *
 * Each bead's agent is a script (bench/q3a_overlap.ts's change) that first makes one model call
 * to a stand-in model API (a mock: no model runs here) answering 1,000 input and 200 output
 * tokens, metered by the provider's gateway at the preset's rates (`--input-rate`,
 * `--output-rate`, base units per million tokens): each result's model cost is the one its report
 * states. Wasted is that cost summed over the results thrown away (slung again, or rejected).
 *
 * Prints, per order: results delivered, conflicts, re-slings, rejections, merged, seconds from
 * the first delivery to the last bead decided, the refinery's wall ms per merged result (its CLI
 * runs, start included), the requester's bill for the tasks and the model cost, all and wasted.
 *
 * Run: deno run -A bench/q3a_town_bench_script.ts [--polecats 10] [--hot 4] [--share 0.5]
 *   [--patrol 3] [--input-rate 3000000] [--output-rate 15000000]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { beadScript, type Overlap, sampleFiles } from "./q3a_overlap.ts";
import { startRequesterNetwork } from "../harness/requester_network.ts";
import { agentSkillsDir, requesterProfile, scriptedPreset } from "../harness/agent_task_kit.ts";
import { startStandInModelApi } from "../harness/stand_in_model_api.ts";
import { tempGitRepo } from "../harness/temp_git_repo.ts";

const USAGE = "deno run -A bench/q3a_town_bench_script.ts [--polecats 10] [--hot 4] " +
  "[--share 0.5] [--patrol 3] [--input-rate 3000000] [--output-rate 15000000]";
const { values } = parseBenchFlags(Deno.args, {
  values: ["polecats", "hot", "share", "patrol", "input-rate", "output-rate"],
  switches: [],
  usage: USAGE,
});
const N = Number(values.polecats ?? 10);
const OVERLAP: Overlap = { hot: Number(values.hot ?? 4), share: Number(values.share ?? 0.5) };
const PATROL_MS = 1000 * Number(values.patrol ?? 3);
const ACCEPT = "test -d src";
const CALL = `curl -sS -o /dev/null -X POST "$ANTHROPIC_BASE_URL/v1/messages" ` +
  `-H 'content-type: application/json' -d '{"model":"m","max_tokens":8,"messages":[]}'`;

const apiKey = "sk-bench";
await using api = await startStandInModelApi({ apiKey });
const scripts: Record<string, string> = {};
for (let i = 0; i < N; i++) scripts[`b${i}.sh`] = `${CALL}\n${beadScript(i, OVERLAP)}`;
const skills = await agentSkillsDir(scripts);
const agents: Record<string, ReturnType<typeof scriptedPreset>> = {};
for (let i = 0; i < N; i++) {
  agents[`b${i}`] = scriptedPreset(skills, `b${i}`, {
    budget: 10_000_000n,
    upstream: api.url,
    apiKey,
    inputPerMillion: BigInt(values["input-rate"] ?? 3_000_000),
    outputPerMillion: BigInt(values["output-rate"] ?? 15_000_000),
  });
}
const net = await startRequesterNetwork({
  providerSkillsDir: skills,
  providerOptions: { agents },
});

interface Figures {
  order: string;
  delivered: number;
  conflicts: number;
  reslung: number;
  rejected: number;
  merged: number;
  firstToAllS: number;
  refineryMsPerMerged: number;
  billAll: bigint;
  billWasted: bigint;
  modelAll: bigint;
  modelWasted: bigint;
}

try {
  const alice = await requesterProfile(net);
  const secret = ["--passphrase-file", `${net.root}/agent-home/pw`, "--non-interactive"];
  await alice("node", "status");

  const run = async (newestFirst: boolean): Promise<Figures> => {
    const order = newestFirst ? "newest first" : "queue";
    const repo = await tempGitRepo(`${net.root}/repo-${newestFirst ? "newest" : "queue"}`);
    await repo.commit("the sample", sampleFiles(OVERLAP.hot));
    const beadOf = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const out = await alice(
        ..."job submit agent-task --repo".split(" "),
        repo.dir,
        ...["--title", `q3a bead ${i}`, "--accept", ACCEPT, "--agent", `b${i}`],
        ...["--bid", "100000000", "--provider", net.providerPubkey!, "--timeout", "600"],
      );
      if (out.code !== 0) throw new Error(`submit ${i}: ${out.stderr}`);
      beadOf.set(String(out.lines.find((l) => l.type === "job")!.id), i);
    }
    const decided = new Set<number>();
    const wasted = new Set<string>();
    let conflicts = 0, reslung = 0, rejected = 0, merged = 0, refineryMs = 0, lastMs = 0;
    while (decided.size < N) {
      await new Promise((ok) => setTimeout(ok, PATROL_MS));
      const t0 = performance.now();
      const out = await alice(
        "refinery",
        ...["--repo", repo.dir, ...(newestFirst ? ["--newest-first"] : []), ...secret],
      );
      refineryMs += performance.now() - t0;
      if (out.code !== 0) throw new Error(`refinery: ${out.stderr}${out.stdout}`);
      for (const l of out.lines) {
        const job = String(l.job);
        if (l.type === "reslung") {
          beadOf.set(String(l.to), beadOf.get(job)!);
          reslung++;
          wasted.add(job);
        }
        if (l.type !== "outcome") continue;
        if (l.outcome === "conflict") conflicts++;
        if (l.outcome === "rejected") {
          rejected++;
          wasted.add(job);
          if (String(l.reason).includes("re-sling")) conflicts++;
        }
        if (l.outcome === "merged") merged++;
        if (l.outcome === "merged" || l.outcome === "rejected") {
          decided.add(beadOf.get(job)!);
          lastMs = Date.now();
        }
      }
    }
    let firstMs = Infinity, billAll = 0n, billWasted = 0n, modelAll = 0n, modelWasted = 0n;
    const listed = (await alice("job", "list")).lines.filter((l) => beadOf.has(String(l.id)));
    for (const l of listed) {
      firstMs = Math.min(firstMs, Number(l.updatedAtMs));
      const shown = (await alice("job", "results", String(l.id))).lines[0];
      // What the job took from the wallet: the provider's invoices and the town's writes.
      const paid = (shown.costs as { total: string }[]).reduce((a, c) => a + BigInt(c.total), 0n);
      const model = BigInt((shown.report as { model: { cost: string } }).model.cost);
      billAll += paid;
      modelAll += model;
      if (wasted.has(String(l.id))) {
        billWasted += paid;
        modelWasted += model;
      }
    }
    return {
      order,
      delivered: listed.length,
      conflicts,
      reslung,
      rejected,
      merged,
      firstToAllS: Math.round((lastMs - firstMs) / 100) / 10,
      refineryMsPerMerged: Math.round(refineryMs / Math.max(1, merged)),
      billAll,
      billWasted,
      modelAll,
      modelWasted,
    };
  };

  console.log(
    `${N} polecats, real agent tasks through a town; ${OVERLAP.hot} hot files, ` +
      `${OVERLAP.share * 100}% of beads rewrite one; a patrol every ${PATROL_MS / 1000} s`,
  );
  console.log(
    "| order | results delivered | conflicts | re-slung | rejected | merged | s, first delivery " +
      "to all decided | refinery ms per merged | bill (wasted) | model cost (wasted) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const newestFirst of [false, true]) {
    const f = await run(newestFirst);
    console.log(
      `| ${f.order} | ${f.delivered} | ${f.conflicts} | ${f.reslung} | ${f.rejected} ` +
        `| ${f.merged} | ${f.firstToAllS} | ${f.refineryMsPerMerged} ` +
        `| ${f.billAll} (${f.billWasted}) | ${f.modelAll} (${f.modelWasted}) |`,
    );
  }
} finally {
  await net.stop();
  await Deno.remove(skills, { recursive: true }).catch(() => {});
}
