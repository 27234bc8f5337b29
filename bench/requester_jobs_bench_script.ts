/**
 * Requester figures on loopback (town, provider and requester in this one process):
 *
 * 1. submit -> result latency, 200 sequential paid echo jobs (real sandboxed `skills/echo`), and
 *    the same with a `sh` no-op skill (the sandbox's Deno start-up removed): p50 / p99;
 *    compared with one bare paid write to the town (the floor of any job: 2 writes + 1 payment).
 * 2. 1,000 jobs in flight at once (sh no-op skill): completion rate, wall time, RSS.
 * 3. restart with 10k in-flight jobs on record: `startRequester` (parallel batched load)
 *    vs the obvious alternative (sequential `repo.read` of each in-flight job).
 * 4. `--only feeds` (not in the default run): the receiving pipelines (`roles/event_feed.ts`) in
 *    their workers vs inline in the node's thread, same run, alternating: submit -> result of
 *    sh no-op jobs, and `startRequester` (the feed's workers start with it).
 * 4b. `--only signers` (not in the default run): the provider's and the requester's keys in signer
 *    workers with no permissions (`identity/worker_node_signer.ts`, what the CLI runs) vs on the
 *    node's thread (`localNodeSigner`), same run, alternating: submit -> result of sh no-op jobs.
 *
 * 5. `--only trace` (not in the default run): where one job's wall time goes (sh no-op skill, 30 jobs): the median time
 *    from submit of each step seen on both sides (requester progress, provider log lines, sandbox
 *    start/end), and the start-up of the skills alone (direct spawn, no sandbox): the floor a
 *    sandboxed run cannot go below.
 *
 * Latency and in-flight runs also print the directory fsyncs per job the state writes asked for
 * and the ones made (writers of one directory share one, `state/dir_sync_group.ts`). Latency runs
 * also print the CPU time per job of this process (town + provider + requester) and of its reaped
 * children (sandboxes, git), from /proc/self/stat: on a shared 2-core machine the wall-clock
 * figures swing with the others' load, the CPU figures much less.
 *
 * Run: deno run -A bench/requester_jobs_bench_script.ts
 *   [--only latency|inflight|restart|trace|feeds|signers]
 *   [--audit-window-ms 1000] (the requester's and, in latency runs, the provider's audit window;
 *   default: the product's; the test network's own is 50)
 *   [--sandbox root|rootless] (the provider's sandbox mode in latency runs; default: root as uid 0)
 *   [--sh-only] (latency runs: the sh no-op skill only, not the Deno echo skill first)
 *   [--history N] (latency runs: aged profiles, N ended jobs each side: bench/aged_profile.ts)
 *   [--no-pool] (latency and trace runs: no sandbox prepared ahead, sandbox_pool.ts)
 *
 * @module
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { echoSpec, startRequesterNetwork } from "../harness/requester_network.ts";
import { connectPayingClient } from "../harness/town_test_node.ts";
import { openJobRepository } from "../state/jobs/job_repository.ts";
import { formatJobSidecar } from "../roles/requester/job_sidecar.ts";
import { type Requester, startRequester } from "../roles/requester/requester_node.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { openWorkerNodeSigner } from "../identity/worker_node_signer.ts";
import { createSkillSandbox, type SkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import { dirSyncs } from "../state/atomic_file.ts";
import { seedProviderHistory, seedRequesterHistory } from "./aged_profile.ts";
import { processCpuMs } from "./process_cpu.ts";

const only = Deno.args[Deno.args.indexOf("--only") + 1];
// The requester's and the provider's audit group-commit window: the product default
// (`state/audit/audit_log.ts`) unless given; the test network's own 50 ms (fast tests) would commit
// for about every step of a job.
const auditWindowMs = Deno.args.includes("--audit-window-ms")
  ? Number(Deno.args[Deno.args.indexOf("--audit-window-ms") + 1])
  : undefined;
const sandboxMode = Deno.args.includes("--sandbox")
  ? Deno.args[Deno.args.indexOf("--sandbox") + 1] as "root" | "rootless"
  : undefined;
/** Ended jobs in each profile before a latency run (`--history N`; default none). */
const history = Number(Deno.args[Deno.args.indexOf("--history") + 1] ?? 0) || 0;
/** Sandboxes prepared ahead (one per skill, the provider's default) unless `--no-pool`. */
const prepared = Deno.args.includes("--no-pool") ? undefined : {};
const want = (name: string) => !Deno.args.includes("--only") || only === name;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function shSkillsDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tp-bench-skills-" });
  await Deno.mkdir(`${dir}/echo`);
  const manifest = await Deno.readTextFile(new URL("../skills/echo/SKILL.md", import.meta.url));
  await Deno.writeTextFile(`${dir}/echo/SKILL.md`, manifest);
  await Deno.writeTextFile(`${dir}/echo/run`, "#!/bin/sh\ncat > /dev/null\necho ok\n", {
    mode: 0o755,
  });
  return dir;
}

/** The audit commits in a state dir's history (`git rev-list --count HEAD`). */
async function auditCommits(stateDir: string): Promise<number> {
  const out = await new Deno.Command("git", {
    args: ["-C", stateDir, "rev-list", "--count", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** The directory fsyncs asked for and made so far in this process (`state/atomic_file.ts`). */
function dirFsyncs(): { calls: number; fsyncs: number } {
  return { calls: dirSyncs.calls, fsyncs: dirSyncs.fsyncs };
}

function dirFsyncLine(
  a: { calls: number; fsyncs: number },
  b: { calls: number; fsyncs: number },
  n: number,
): string {
  return `directory fsyncs per job: ${((b.fsyncs - a.fsyncs) / n).toFixed(2)} made for ${
    ((b.calls - a.calls) / n).toFixed(2)
  } asked`;
}

async function latency(label: string, skillsDir: string | undefined, n: number) {
  // An aged provider's profile first: its node starts with the network.
  const agedProvider = history > 0 ? await Deno.makeTempDir({ prefix: "tp-bench-aged-" }) : "";
  const customer = "cd".repeat(32);
  if (agedProvider) await seedProviderHistory({ stateDir: agedProvider, jobs: history, customer });
  const net = await startRequesterNetwork({
    providerSkillsDir: skillsDir,
    providerOptions: {
      auditWindowMs,
      preparedSandboxes: prepared ?? false,
      ...(sandboxMode === undefined ? {} : { sandboxMode }),
      ...agedProvider && { stateDir: agedProvider },
    },
  });
  const aged = history > 0 ? `${net.root}/requester-aged` : undefined;
  const provider = net.providerPubkey!;
  if (aged) await seedRequesterHistory({ stateDir: aged, jobs: history, provider });
  const req = await net.startRequester({
    durable: true,
    auditWindowMs,
    ...aged && { stateDir: aged },
  });
  const stateDirs = [req.stateDir, agedProvider || `${net.root}/provider`];
  try {
    // An aged profile's first commit of the history it was handed is no job's cost.
    if (aged) await req.waitFor((await req.submit(echoSpec("warm-up", { skill: "none" }))).id);
    const commits0 = await Promise.all(stateDirs.map(auditCommits));
    const syncs0 = dirFsyncs();
    const cpu0 = await processCpuMs();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const job = await req.submit(echoSpec(`bench ${i}`, { skill: "none" }));
      const done = await req.waitFor(job.id);
      if (done.status !== "done") throw new Error(`job ${i} ${done.status}: ${done.error}`);
      times.push(performance.now() - t0);
    }
    const cpu1 = await processCpuMs();
    const syncs1 = dirFsyncs();
    const commits1 = await Promise.all(stateDirs.map(auditCommits));
    times.sort((a, b) => a - b);
    console.log(
      `${label} (${net.provider?.sandbox.mode} sandbox${
        prepared === undefined ? "" : ", prepared ahead"
      }, audit window ${auditWindowMs ?? "default"} ms): n=${n} p50 ${fmt(pct(times, 0.5))} p99 ${
        fmt(pct(times, 0.99))
      } max ${fmt(times[n - 1])}; CPU per job: this process ${
        fmt((cpu1.self - cpu0.self) / n)
      } (of it kernel ${fmt((cpu1.sys - cpu0.sys) / n)}), children ${
        fmt((cpu1.children - cpu0.children) / n)
      }; audit commits per job: requester ${
        ((commits1[0] - commits0[0]) / n).toFixed(2)
      }, provider ${((commits1[1] - commits0[1]) / n).toFixed(2)}; ${
        dirFsyncLine(syncs0, syncs1, n)
      }`,
    );
    const writer = await connectPayingClient({
      url: net.btpUrl.replace("btp+ws://", "btp+ws://bare:b@"),
      token: "b",
      townAddress: net.town.ilpAddress,
      townPubkey: net.town.pubkey,
    });
    const bare: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await writer.write(writer.sign());
      bare.push(performance.now() - t0);
    }
    bare.sort((a, b) => a - b);
    console.log(
      `  bare paid write to the town: p50 ${fmt(pct(bare, 0.5))} p99 ${fmt(pct(bare, 0.99))}`,
    );
    await writer.close();
  } finally {
    await req.close();
    await net.stop();
    if (agedProvider) await Deno.remove(agedProvider, { recursive: true });
  }
}

async function inFlight(n: number) {
  const skills = await shSkillsDir();
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      maxInFlight: n,
      maxInFlightPerRequester: n,
      maxUnpaid: n,
      maxUnpaidPerRequester: n,
      maxConcurrentRuns: 2,
    },
  });
  const req = await net.startRequester({ durable: false });
  try {
    const rss0 = Deno.memoryUsage().rss;
    const syncs0 = dirFsyncs();
    const t0 = performance.now();
    const jobs = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => req.submit(echoSpec(`many ${i}`, { skill: "none", timeoutMs: 300_000 })),
      ),
    );
    const tSubmitted = performance.now() - t0;
    let peak = Deno.memoryUsage().rss;
    const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 100);
    const finals = await Promise.all(jobs.map((j) => req.waitFor(j.id)));
    clearInterval(sampler);
    const wall = performance.now() - t0;
    const done = finals.filter((f) => f.status === "done").length;
    // The jobs that did not end done, by status and their first reason.
    const others = new Map<string, { n: number; reason: string }>();
    for (const f of finals.filter((f) => f.status !== "done")) {
      const o = others.get(f.status) ?? { n: 0, reason: f.error ?? "" };
      others.set(f.status, { ...o, n: o.n + 1 });
    }
    console.log(
      `${n} in flight: ${done}/${n} done (${(100 * done / n).toFixed(1)}%), submitted in ${
        fmt(tSubmitted)
      }, ` +
        `all ended in ${(wall / 1000).toFixed(1)} s; RSS ${(rss0 / 2 ** 20).toFixed(0)} -> peak ` +
        `${(peak / 2 ** 20).toFixed(0)} MiB (town + provider + requester in one process); ${
          dirFsyncLine(syncs0, dirFsyncs(), n)
        }`,
    );
    for (const [status, o] of others) console.log(`  ${o.n} ${status}, e.g.: ${o.reason}`);
  } finally {
    await req.close();
    await net.stop();
    await Deno.remove(skills, { recursive: true });
  }
}

async function restart(n: number) {
  const net = await startRequesterNetwork({ provider: false });
  const opts = await net.requesterOptions({ durable: false });
  try {
    const repo = await openJobRepository({ stateDir: opts.stateDir, durable: false });
    const now = Date.now();
    const toon = "id: x"; // never decoded: these jobs are `sent`, not `pending-send`
    for (let i = 0; i < n; i++) {
      const id = Array.from(
        crypto.getRandomValues(new Uint8Array(32)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      await repo.create({
        id,
        kind: 5601,
        skill: "none",
        status: "sent",
        createdAtMs: now,
        updatedAtMs: now,
        payments: [],
      }, {
        sidecar: formatJobSidecar({
          requestToon: toon,
          spec: echoSpec("x", { skill: "none" }),
          deadlineMs: now + 3_600_000,
        }),
      });
    }
    repo.close();
    for (let round = 1; round <= 2; round++) {
      let t0 = performance.now();
      const seq = await openJobRepository({ stateDir: opts.stateDir });
      for (const s of seq.listInFlight()) await seq.read(s.id);
      const tSeq = performance.now() - t0;
      seq.close();
      t0 = performance.now();
      const req = await startRequester({ ...opts, secretKey: generateSecretKey() });
      const tStart = performance.now() - t0;
      const following = req.activeJobs;
      await req.close();
      console.log(
        `restart with ${n} in flight (round ${round}): startRequester ${
          fmt(tStart)
        } (following ${following}); ` +
          `sequential read of the records alone ${fmt(tSeq)}`,
      );
    }
  } finally {
    await net.stop();
  }
}

/** Median time from submit of each step of a job, both sides; then the skills' bare start-up. */
async function trace(n: number) {
  const skills = await shSkillsDir();
  let t0 = 0;
  const steps = new Map<string, number[]>();
  const mark = (step: string) => {
    const list = steps.get(step) ?? [];
    list.push(performance.now() - t0);
    steps.set(step, list);
  };
  const root = await Deno.makeTempDir({ prefix: "tp-bench-trace-" });
  const inner = await createSkillSandbox({
    jobsRoot: `${root}/work`,
    hiddenPaths: [root],
    prepared,
  });
  const childMs: number[] = [];
  let preparedRuns = 0;
  const sandbox: SkillSandbox = {
    mode: inner.mode,
    modeReason: inner.modeReason,
    setup: inner.setup,
    limits: inner.limits,
    memoryLimits: inner.memoryLimits,
    run: async (job) => {
      mark("P sandbox start");
      const out = await inner.run(job);
      mark("P sandbox end");
      childMs.push(out.durationMs);
      if (out.prepared === true) preparedRuns++;
      return out;
    },
  };
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { sandbox, log: (line) => mark(`P ${line.split(" ", 1)[0]}`) },
  });
  const req = await net.startRequester({
    durable: true,
    auditWindowMs,
    onProgress: (p) =>
      mark(`R ${p.status}${p.status === "feedback" ? ` ${p.detail?.split(":")[0]}` : ""}`),
  });
  try {
    for (let i = 0; i < n; i++) {
      t0 = performance.now();
      const job = await req.submit(echoSpec(`trace ${i}`, { skill: "none" }));
      mark("R submit returned");
      await req.waitFor(job.id);
      mark("R waitFor resolved");
    }
  } finally {
    await req.close();
    await net.stop();
    await inner.close?.();
    await Deno.remove(root, { recursive: true });
  }
  console.log(
    `one job, step by step (median ms from submit over ${n} sh no-op jobs, ${preparedRuns} ` +
      "of them in a sandbox prepared ahead):",
  );
  const rows = [...steps].map(([step, t]) => [step, pct(t.sort((a, b) => a - b), 0.5)] as const);
  for (const [step, t] of rows.sort((a, b) => a[1] - b[1])) {
    console.log(`  ${t.toFixed(1).padStart(7)}  ${step}`);
  }
  console.log(
    `  sandbox child, spawn -> exit (in "sandbox start -> end"): p50 ${
      fmt(pct(childMs.sort((a, b) => a - b), 0.5))
    }`,
  );
  const input = await Deno.readTextFile(
    new URL("../fixtures/events/valid/job-5000-0.toon", import.meta.url),
  );
  const spawnP50 = async (cmd: string, args: string[]) => {
    const t: number[] = [];
    for (let i = 0; i < 20; i++) {
      const a = performance.now();
      // The echo skill's `#!/usr/bin/env deno` finds this Deno first on PATH, as in a sandbox.
      const path = `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`;
      const child = new Deno.Command(cmd, {
        args,
        env: { PATH: path },
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(input));
      await w.close();
      await child.output();
      t.push(performance.now() - a);
    }
    return fmt(pct(t.sort((x, y) => x - y), 0.5));
  };
  console.log(
    `skill start-up alone, direct spawn p50 of 20: sh no-op ${await spawnP50(
      `${skills}/echo/run`,
      [],
    )}; ` +
      `echo (Deno) ${await spawnP50(
        new URL("../skills/echo/run", import.meta.url).pathname,
        [],
      )}; bare \`deno eval 0\` ${await spawnP50(Deno.execPath(), ["eval", "0"])}`,
  );
  await Deno.remove(skills, { recursive: true });
}

/** Submit -> result of `n` sh no-op jobs, one after the other, ms each. */
async function noOpJobs(req: Requester, n: number, label: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const job = await req.submit(echoSpec(`${label} ${i}`, { skill: "none" }));
    const done = await req.waitFor(job.id);
    if (done.status !== "done") throw new Error(`job ${i} ${done.status}: ${done.error}`);
    times.push(performance.now() - t);
  }
  return times;
}

/** Job latency and requester start-up with both nodes' feeds in workers vs inline. */
async function feeds(n: number, rounds: number) {
  const skills = await shSkillsDir();
  const figures = new Map<string, { jobs: number[]; starts: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const feedMode of ["inline", "workers"] as const) {
      const net = await startRequesterNetwork({
        providerSkillsDir: skills,
        providerOptions: { feedMode },
      });
      const f = figures.get(feedMode) ?? { jobs: [], starts: [] };
      figures.set(feedMode, f);
      const t0 = performance.now();
      const req = await net.startRequester({ durable: true, auditWindowMs, feedMode });
      f.starts.push(performance.now() - t0);
      try {
        f.jobs.push(...await noOpJobs(req, n, "feed"));
      } finally {
        await req.close();
        await net.stop();
      }
    }
  }
  for (const [mode, f] of figures) {
    const jobs = f.jobs.sort((a, b) => a - b);
    const starts = f.starts.sort((a, b) => a - b);
    console.log(
      `feeds ${mode.padEnd(7)}: ${jobs.length} sh no-op jobs p50 ${fmt(pct(jobs, 0.5))} p99 ${
        fmt(pct(jobs, 0.99))
      }; startRequester p50 ${fmt(pct(starts, 0.5))} (${starts.length} starts)`,
    );
  }
  await Deno.remove(skills, { recursive: true });
}

/** Job latency with both nodes' keys in signer workers vs on their own thread. */
async function signers(n: number, rounds: number) {
  const skills = await shSkillsDir();
  const figures = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of ["local", "worker"] as const) {
      const open = async () =>
        mode === "worker"
          ? await openWorkerNodeSigner({ generate: true })
          : localNodeSigner(generateSecretKey());
      using providerSigner = await open();
      using requesterSigner = await open();
      const net = await startRequesterNetwork({
        providerSkillsDir: skills,
        providerOptions: { signer: providerSigner },
      });
      const jobs = figures.get(mode) ?? [];
      figures.set(mode, jobs);
      const req = await net.startRequester({
        durable: true,
        auditWindowMs,
        signer: requesterSigner,
      });
      try {
        jobs.push(...await noOpJobs(req, n, "signer"));
      } finally {
        await req.close();
        await net.stop();
      }
    }
  }
  for (const [mode, jobs] of figures) {
    jobs.sort((a, b) => a - b);
    console.log(
      `signers ${mode.padEnd(6)}: ${jobs.length} sh no-op jobs p50 ${fmt(pct(jobs, 0.5))} p99 ${
        fmt(pct(jobs, 0.99))
      }`,
    );
  }
  await Deno.remove(skills, { recursive: true });
}

void getPublicKey;
if (only === "trace") await trace(30);
if (only === "signers") await signers(100, 5);
if (only === "feeds") await feeds(100, 5);
if (want("latency")) {
  if (!Deno.args.includes("--sh-only")) await latency("echo, sandboxed skill", undefined, 200);
  const skills = await shSkillsDir();
  await latency("echo, sh no-op skill", skills, 200);
  await Deno.remove(skills, { recursive: true });
}
if (want("inflight")) await inFlight(1000);
if (want("restart")) await restart(10_000);
