/**
 * Figures of a network of towns (docs/OPERATIONS.md, "Several towns"), on loopback: towns in
 * their own processes, children of the Interledger reference connector (`ilp-connector`, Node),
 * the real provider node (sandboxed `skills/echo`) on town B, requesters in this process.
 *
 * 1. submit -> done latency of paid echo jobs, p50 / p99: a requester on B (same town as the
 *    provider) vs a requester on A (cross-town: the request and the provider's writes on A, the
 *    payment A -> connector -> B), alternating, `--jobs` each.
 * 2. what a job costs: the requester's outlay (its write + the provider's invoice) and the
 *    provider's writes, same-town vs cross-town, and posted on two towns (A and B).
 * 3. carrying on after a town dies: a requester on X (a fresh town per round) and B posts a job
 *    on both, X is SIGKILLed once the request is written; the time from the kill to the job done
 *    (and that it was done and paid once), `--rounds` rounds.
 *
 * Run: deno run -A bench/town_network_bench_script.ts [--jobs 30] [--rounds 5]
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { startReferenceConnector } from "../harness/reference_connector.ts";
import { type SharedTownProcess, startSharedTownProcess } from "../harness/shared_town_process.ts";
import { echoSpec, writeRecordingSkill } from "../harness/requester_network.ts";
import { startProviderNode } from "../roles/provider/provider_node.ts";
import { type Requester, startRequester } from "../roles/requester/requester_node.ts";
import type { TownEndpoint } from "../config/town_list.ts";
import { readPaymentLogText } from "../state/payments/payment_log_files.ts";
import { readProviderIncome } from "../state/jobs/provider_job_index.ts";

const arg = (name: string, fallback: number) =>
  Deno.args.includes(name) ? Number(Deno.args[Deno.args.indexOf(name) + 1]) : fallback;
const JOBS = arg("--jobs", 30);
const ROUNDS = arg("--rounds", 5);
const ONLY_FAILOVER = Deno.args.includes("--only-failover");
/** Provider log lines and requester progress lines, for a round that went wrong. */
const trace: string[] = [];
const stamp = (line: string) => trace.push(`${performance.now().toFixed(0)} ${line}`);

const relayOf = (t: SharedTownProcess) => `ws://127.0.0.1:${t.httpPort}`;
const btpOf = (t: SharedTownProcess, user: string) => `btp+ws://${user}:t@127.0.0.1:${t.btpPort}`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

interface LogEntry {
  event: string;
  jobId: string;
  amount: string;
  peer: string;
  category: string;
  direction: string;
}
async function paymentLog(stateDir: string): Promise<LogEntry[]> {
  const text = await readPaymentLogText(stateDir);
  const lines = text.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  // A provider's income: rows of its job index (state/jobs/provider_job_store.ts).
  return [...lines, ...readProviderIncome(stateDir, "2000-01-01").entries as LogEntry[]];
}

const root = await Deno.makeTempDir({ prefix: "turnpike-net-bench-" });
const xNames = Array.from({ length: ROUNDS }, (_, i) => `x${i}`);
const connector = await startReferenceConnector({
  ilpAddress: "test.conn",
  accounts: Object.fromEntries(["a", "b", ...xNames].map((n) => [n, {}])),
});
const stops: (() => Promise<unknown>)[] = [() => connector.stop()];
const town = async (name: string) => {
  const t = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    parent: { url: connector.accounts[name].url, token: connector.accounts[name].secret },
  });
  stops.unshift(() => t.stop());
  return t;
};
let n = 0;
const requester = async (home: SharedTownProcess, more: SharedTownProcess[] = []) => {
  const dir = `${root}/req-${++n}`;
  await Deno.mkdir(dir, { recursive: true });
  const user = `r${n}`;
  const r = await startRequester({
    stateDir: dir,
    secretKey: generateSecretKey(),
    relayUrl: relayOf(home),
    btpUrl: btpOf(home, user),
    btpToken: "t",
    moreTowns: more.map((t): TownEndpoint => ({
      relayUrl: relayOf(t),
      btpUrl: btpOf(t, user),
      btpToken: "t",
    })),
    skillsDir: await writeRecordingSkill(dir),
    auditWindowMs: 200,
    onProgress: (p) =>
      stamp(`requester ${n}: ${p.jobId.slice(0, 12)} ${p.status} ${p.detail ?? ""}`),
    warn: (line) => stamp(`requester ${n}: ${line}`),
  });
  stops.unshift(() => r.close());
  return { r, dir };
};
const runJob = async (r: Requester, text: string) => {
  const t0 = performance.now();
  const job = await r.submit(echoSpec(text, { skill: "none", timeoutMs: 60_000 }));
  const done = await r.waitFor(job.id);
  if (done.status !== "done") throw new Error(`job ${job.id}: ${done.status} ${done.error}`);
  return { ms: performance.now() - t0, id: job.id };
};

try {
  const a = await town("a");
  const b = await town("b");
  const res = await fetch(`http://127.0.0.1:${b.httpPort}/`, {
    headers: { accept: "application/nostr+json" },
  });
  const providerDir = `${root}/provider`;
  const provider = await startProviderNode({
    stateDir: providerDir,
    secretKey: generateSecretKey(),
    btpUrl: btpOf(b, "provider"),
    btpToken: "t",
    relayUrl: relayOf(b),
    townPubkey: (await res.json()).self,
    moreTowns: [{ relayUrl: relayOf(a) }],
    skillsDir: new URL("../skills", import.meta.url).pathname,
    heartbeatMs: 3_600_000,
    log: (line) => stamp(`provider: ${line}`),
  });
  stops.unshift(() => provider.stop());

  // ---- 1 and 2: latency and cost, same town vs cross-town (and posted on two towns).
  if (!ONLY_FAILOVER) {
    const same = await requester(b);
    const cross = await requester(a);
    const both = await requester(a, [b]);
    const kinds = { same, cross, both } as const;
    const times: Record<keyof typeof kinds, number[]> = { same: [], cross: [], both: [] };
    const ids: Record<keyof typeof kinds, string[]> = { same: [], cross: [], both: [] };
    for (const [k, v] of Object.entries(kinds)) await runJob(v.r, `warm-up ${k}`); // warm-up
    for (let i = 0; i < JOBS; i++) {
      for (const [k, v] of Object.entries(kinds) as [keyof typeof kinds, typeof same][]) {
        const { ms, id } = await runJob(v.r, `job ${i} ${k}`);
        times[k].push(ms);
        ids[k].push(id);
      }
    }
    console.log(`1. submit -> done, paid echo jobs, ${JOBS} each (ms):`);
    const labels = {
      same: "same town (requester and provider on B)",
      cross: "cross-town (requester on A, provider on B)",
      both: "posted on A and B (requester on A + B)",
    };
    for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) {
      console.log(
        `   ${labels[k].padEnd(44)} p50 ${pct(times[k], 50).toFixed(0).padStart(5)}  p99 ${
          pct(times[k], 99).toFixed(0).padStart(5)
        }`,
      );
    }
    const provLog = await paymentLog(providerDir);
    console.log("2. cost of one job (base units, mean over the jobs):");
    for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) {
      const log = await paymentLog(kinds[k].dir);
      const set = new Set(ids[k]);
      const sum = (entries: LogEntry[], f: (e: LogEntry) => boolean) =>
        entries.filter((e) => set.has(e.jobId) && e.event === "fulfilled" && f(e))
          .reduce((s, e) => s + Number(e.amount), 0) / ids[k].length;
      const writes = sum(log, (e) => e.category === "town-write");
      const invoice = sum(log, (e) => e.category === "job");
      const provWrites = sum(provLog, (e) => e.category === "town-write");
      const towns = [
        ...new Set(
          provLog.filter((e) => set.has(e.jobId) && e.category === "town-write").map((e) => e.peer),
        ),
      ];
      console.log(
        `   ${labels[k].padEnd(44)} requester ${(writes + invoice).toFixed(0)} (its writes ${
          writes.toFixed(0)
        } + invoice ${invoice.toFixed(0)}); provider's writes ${provWrites.toFixed(0)} on ${
          towns.join(", ")
        }`,
      );
    }
  }
  // ---- 3: a town dies with a job in flight.
  const carryOn: number[] = [];
  let once = 0;
  for (const name of xNames) {
    const x = await town(name);
    const { r, dir } = await requester(x, [b]);
    const job = await r.submit(echoSpec("survive", { skill: "none", timeoutMs: 60_000 }));
    const killed = performance.now();
    trace.length = 0;
    stamp(`kill ${name}`);
    await x.kill();
    const done = await r.waitFor(job.id);
    carryOn.push(performance.now() - killed);
    const log = await paymentLog(dir);
    const paid = log.filter((e) =>
      e.jobId === job.id && e.category === "job" && e.event === "fulfilled"
    );
    const earned = (await paymentLog(providerDir)).filter((e) =>
      e.jobId === job.id && e.direction === "in" && e.event === "fulfilled"
    );
    if (done.status === "done" && paid.length === 1 && earned.length === 1) once++;
    else {
      console.log(
        `   round ${name}: ${done.status} ${
          done.error ?? ""
        }; paid ${paid.length}, earned ${earned.length}`,
      );
      for (const line of trace) {
        if (line.includes(job.id.slice(0, 12)) || line.includes("kill")) {
          console.log(`     ${line}`);
        }
      }
    }
    await r.close();
  }
  console.log(
    `3. town killed after the request was written (${ROUNDS} rounds): kill -> job done p50 ${
      pct(carryOn, 50).toFixed(0)
    } ms, max ${Math.max(...carryOn).toFixed(0)} ms; done and paid once: ${once}/${ROUNDS}`,
  );
} finally {
  for (const stop of stops) await stop().catch(() => {});
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
