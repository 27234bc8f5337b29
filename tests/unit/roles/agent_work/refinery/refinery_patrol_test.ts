/**
 * The refinery's patrol (roles/agent_work/refinery/refinery_patrol.ts) over a real repository:
 * 20 delivered results built as branches of it (as `job results --apply` leaves them), merged
 * with git's own merge-tree and gated by the real local sandbox. The re-sling is the test's own
 * `resend`, which redoes the bead's work on the new tip as a branch (the CLI's posts a new agent
 * task through the profile's node instead).
 */
import { assert, assertEquals } from "../../../../../harness/assert.ts";
import { type TempGitRepo, tempGitRepo } from "../../../../../harness/temp_git_repo.ts";
import {
  type PatrolEvent,
  type PatrolResult,
  refineryPatrol,
} from "../../../../../roles/agent_work/refinery/refinery_patrol.ts";
import { readRefineryBook } from "../../../../../roles/agent_work/refinery/refinery_book.ts";
import { runLocalGate } from "../../../../../roles/agent_work/local_gate.ts";

const AREAS = 14;
const ACCEPT = "! grep -rq BROKEN src";
const NOW = 1_800_000_000_000;

const jobId = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

/** A commit on `from` made in a throwaway worktree, the repository's own untouched. */
async function commitOn(
  repo: TempGitRepo,
  from: string,
  edit: (dir: string) => Promise<void>,
  message: string,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refinery-work-" });
  await repo.git("worktree", "add", "-q", "--detach", `${dir}/w`, from);
  try {
    await edit(`${dir}/w`);
    const run = (...args: string[]) =>
      new Deno.Command("git", { args: ["-C", `${dir}/w`, ...args] }).output();
    await run("add", "-A");
    await run("commit", "-q", "-m", message);
    return (new TextDecoder().decode((await run("rev-parse", "HEAD")).stdout)).trim();
  } finally {
    await repo.git("worktree", "remove", "--force", `${dir}/w`);
    await Deno.remove(dir, { recursive: true });
  }
}

const setLine2 = (path: string, text: string) => async (dir: string) => {
  const lines = (await Deno.readTextFile(`${dir}/${path}`)).split("\n");
  lines[1] = text;
  await Deno.writeTextFile(`${dir}/${path}`, lines.join("\n"));
};

const appendLine = (path: string, text: string) => async (dir: string) => {
  await Deno.writeTextFile(`${dir}/${path}`, `${text}\n`, { append: true });
};

Deno.test("the refinery merges 20 results with conflicts among them into a green tip, slings each conflict again once, and starves none", async () => {
  const root = await Deno.makeTempDir({ prefix: "refinery-" });
  try {
    const repo = await tempGitRepo(`${root}/repo`);
    const files: Record<string, string> = {};
    for (let a = 0; a < AREAS; a++) files[`src/a${a}.txt`] = `area ${a}\nline 2\nline 3\n`;
    const base = await repo.commit("the areas", files);
    // Result i changes line 2 of area i % 14: i and i + 14 (i < 6) conflict. Result 7 also adds
    // what the gate refuses. Result 19 is low priority and large, but waited past the bound.
    const results: PatrolResult[] = [];
    for (let i = 0; i < 20; i++) {
      const tip = await commitOn(repo, base, async (dir) => {
        await setLine2(`src/a${i % AREAS}.txt`, `result ${i}`)(dir);
        if (i === 7) await Deno.writeTextFile(`${dir}/src/bad.txt`, "BROKEN\n");
      }, `result ${i}`);
      results.push({
        job: jobId(i),
        key: `bead:gt-${i}`,
        tip,
        accept: ACCEPT,
        priority: i === 19 ? 4 : i % 2 === 0 ? 1 : 2,
        deliveredAtMs: i === 19 ? NOW - 31 * 60_000 : NOW - (20 - i) * 1000,
        trust: 30 + i * 3,
        verdict: "pass",
        lines: i === 19 ? 2000 : 2,
      });
    }
    const resent: { job: string; tip: string; conflicts: string[] }[] = [];
    const redone: PatrolResult[] = [];
    const resend = async (r: PatrolResult, tip: string, conflicts: string[]) => {
      resent.push({ job: r.job, tip, conflicts });
      const i = parseInt(r.job.slice(0, 2), 16);
      const again = await commitOn(
        repo,
        tip,
        appendLine(`src/a${i % AREAS}.txt`, `redo ${i}`),
        `redo ${i}`,
      );
      const job = jobId(0x80 + i);
      redone.push({ ...r, job, tip: again, lines: 1 });
      return job;
    };
    const events: PatrolEvent[] = [];
    const first = await refineryPatrol({
      stateDir: root,
      repoDir: repo.dir,
      branch: "main",
      results,
      nowMs: NOW,
      resend,
      onEvent: (e) => events.push(e),
    });

    // Batched (fewer gate runs than merges), and the batch with the bad result bisected.
    const gates = events.flatMap((e) => e.type === "gate" ? [e] : []);
    assert(first.gates < first.merged, `${first.gates} gates`);
    assert(gates.some((g) => g.verdict === "fail" && g.jobs.length > 1));
    assertEquals(gates.filter((g) => g.verdict === "fail" && g.jobs.length === 1).length, 1);
    // Every result decided in the first patrol: none waits.
    assertEquals(
      [first.merged, first.reslung, first.rejected, first.waiting],
      [13, 6, 1, 0],
      JSON.stringify(first),
    );
    const outcome = (job: string) => events.find((e) => e.type === "outcome" && e.job === job);
    for (const r of results) assert(outcome(r.job), `no outcome for ${r.job.slice(0, 4)}`);
    // One of each conflicting pair was sent back, on the tip the run left, its path named.
    for (let i = 0; i < 6; i++) {
      const sent = resent.filter((s) => s.job === jobId(i) || s.job === jobId(i + 14));
      assertEquals(sent.length, 1, `pair ${i}`);
      assertEquals(sent[0]!.tip, first.tip);
      assertEquals(sent[0]!.conflicts, [`src/a${i}.txt`]);
    }
    // The overdue result went first: merged, and its newer rival (result 5) was sent back.
    assertEquals(events.find((e) => e.type === "queued")?.job, jobId(19));
    assertEquals(outcome(jobId(19))?.type === "outcome" && outcome(jobId(19)), {
      type: "outcome",
      job: jobId(19),
      outcome: "merged",
      tip: (outcome(jobId(19)) as { tip: string }).tip,
    });
    assert(resent.some((s) => s.job === jobId(5)));
    const rejected = outcome(jobId(7));
    assert(rejected?.type === "outcome" && rejected.outcome === "rejected");
    assert(rejected.reason.includes(ACCEPT), rejected.reason);
    assertEquals(await repo.git("rev-parse", "main"), first.tip);

    // Meanwhile a fix lands on main where one redo also appends: that redo conflicts again.
    const hotfix = redone.find((r) => r.job === jobId(0x80 + 0) || r.job === jobId(0x80 + 14))!;
    const area = parseInt(hotfix.job.slice(0, 2), 16) - 0x80;
    await Deno.writeTextFile(`${repo.dir}/src/a${area % AREAS}.txt`, "hotfix\n", { append: true });
    await repo.git("commit", "-q", "-am", "hotfix");

    const second = await refineryPatrol({
      stateDir: root,
      repoDir: repo.dir,
      branch: "main",
      results: [...results, ...redone],
      nowMs: NOW + 60_000,
      resend,
    });
    // The 20 were decided before and are not tried again; no conflict is slung a second time.
    assertEquals(
      [second.decided, second.merged, second.rejected, second.reslung, resent.length],
      [20, 5, 1, 0, 6],
      JSON.stringify(second),
    );
    const book = await readRefineryBook(root);
    assert(book.jobs[hotfix.job]?.reason?.includes("again after its one re-sling"));
    assertEquals(Object.keys(book.slings).length, 6);
    // A third patrol changes nothing.
    const third = await refineryPatrol({
      stateDir: root,
      repoDir: repo.dir,
      branch: "main",
      results: [...results, ...redone],
      nowMs: NOW + 120_000,
      resend,
    });
    assertEquals([third.decided, third.tip, resent.length], [26, second.tip, 6]);

    // The tip is green, and holds every merged result.
    const green = await runLocalGate({
      repoDir: repo.dir,
      commit: second.tip,
      accept: ACCEPT,
      hiddenPaths: [],
    });
    assertEquals(green.verdict, "pass");
    for (const [job, booked] of Object.entries(book.jobs)) {
      if (booked.outcome !== "merged") continue;
      const tip = [...results, ...redone].find((r) => r.job === job)!.tip;
      await repo.git("merge-base", "--is-ancestor", tip, second.tip);
    }
    assertEquals(Object.values(book.jobs).filter((j) => j.outcome === "merged").length, 18);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a re-sling a stopped refinery left under way is adopted from the jobs posted since, not posted again", async () => {
  const root = await Deno.makeTempDir({ prefix: "refinery-" });
  try {
    const repo = await tempGitRepo(`${root}/repo`);
    const base = await repo.commit("the areas", { "src/a.txt": "area\nline 2\n" });
    const tip = (n: number) => commitOn(repo, base, setLine2("src/a.txt", `result ${n}`), `r${n}`);
    const results: PatrolResult[] = [1, 2].map((n) => ({
      job: jobId(n),
      key: `bead:gt-${n}`,
      tip: "",
      accept: ACCEPT,
      deliveredAtMs: NOW - n * 1000,
      verdict: "pass",
      lines: 2,
    }));
    results[0]!.tip = await tip(1);
    results[1]!.tip = await tip(2);
    // The first patrol stops in its post: the book keeps the re-sling under way.
    const stopped = refineryPatrol({
      stateDir: root,
      repoDir: repo.dir,
      branch: "main",
      results,
      nowMs: NOW,
      resend: () => Promise.reject(new Error("stopped mid-post")),
    });
    await stopped.then(() => assert(false, "the post should have failed"), () => {});
    const pending = Object.entries((await readRefineryBook(root)).slings);
    assertEquals(pending.length, 1);
    const [key, sling] = pending[0]!;
    assert(sling.pendingAtMs !== undefined && sling.to === undefined);

    let posts = 0;
    const asked: string[] = [];
    const events: PatrolEvent[] = [];
    const next = await refineryPatrol({
      stateDir: root,
      repoDir: repo.dir,
      branch: "main",
      results,
      nowMs: NOW,
      resend: () => Promise.resolve(`posted-${++posts}`),
      postedSince: (k) => {
        asked.push(k);
        return Promise.resolve("ee".repeat(32));
      },
      onEvent: (e) => events.push(e),
    });
    assertEquals([posts, asked, next.decided], [0, [key], 2]);
    assertEquals(events.find((e) => e.type === "reslung"), {
      type: "reslung",
      job: sling.from,
      key,
      to: "ee".repeat(32),
      adopted: true,
    });
    const book = await readRefineryBook(root);
    assertEquals([book.jobs[sling.from]?.outcome, book.slings[key]?.to], [
      "reslung",
      "ee".repeat(32),
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a re-sling's result that conflicts again is booked rejected: the next patrol does not decide it again", async () => {
  const root = await Deno.makeTempDir({ prefix: "refinery-" });
  try {
    const repo = await tempGitRepo(`${root}/repo`);
    const base = await repo.commit("the area", { "src/a.txt": "area\nline 2\nline 3\n" });
    const result = async (n: number, from: string): Promise<PatrolResult> => ({
      job: jobId(n),
      key: `bead:gt-${n % 0x80}`,
      tip: await commitOn(repo, from, setLine2("src/a.txt", `result ${n}`), `result ${n}`),
      accept: ACCEPT,
      deliveredAtMs: NOW - 60_000 + n,
      verdict: "pass",
      lines: 2,
    });
    const a = await result(1, base);
    const b = await result(2, base);
    // The redo is made on the stale base, as a polecat whose tip another merge overtook.
    const redo = await result(0x82, base);
    const patrol = (results: PatrolResult[]) =>
      refineryPatrol({
        stateDir: root,
        repoDir: repo.dir,
        branch: "main",
        results,
        nowMs: NOW,
        resend: () => Promise.resolve(redo.job),
      });
    const first = await patrol([a, b]);
    assertEquals([first.merged, first.reslung], [1, 1], JSON.stringify(first));

    const second = await patrol([a, b, redo]);
    assertEquals([second.rejected, second.decided], [1, 2], JSON.stringify(second));
    assertEquals((await readRefineryBook(root)).jobs[redo.job]?.outcome, "rejected");

    const third = await patrol([a, b, redo]);
    assertEquals([third.rejected, third.decided], [0, 3], JSON.stringify(third));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
