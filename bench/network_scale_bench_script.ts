/**
 * The scale harness (docs/SCALE.md): N agents on K towns at a set job rate for a set time,
 * optionally under chaos, with a JSON report and a Markdown table.
 *
 * - Agents are requester + provider pairs (ratio 1:1; an odd N leaves one provider alone),
 *   each with its own key, state dir, BTP account and feeds (inline, in this process); each
 *   provider serves a `sh` no-op skill through the real sandbox; each requester sends its jobs
 *   to its own provider (`p` tag), so every other agent on the town takes no part in the job.
 * - Towns are town processes (`harness/shared_town_process.ts`, SQLite in a state dir
 *   that survives a restart), independent of each other: pairs are spread over them.
 * - `--chaos`: every `--chaos-every` seconds (default 10) one town process is SIGKILLed and
 *   started again on the same ports and store after 1 s; one provider in each town is
 *   stopped without a goodbye (its sockets closed, nothing flushed past what it wrote) and
 *   started again on its state dir. Requesters' jobs must still end, none twice.
 * - Jobs: `--rate R` jobs/s in total (default 1 per 10 pairs, at least 1), a random pair each.
 *   After `--seconds S` no new job is offered; the run waits for the offered ones (up to their
 *   timeout, `--job-timeout`, default 60 s) and counts them.
 *
 * The report (JSON, `--report FILE`; a Markdown table next to it, `FILE.md`):
 * - `--requester-hosts N`: the requesters in N child processes (bench/scale_requester_host.ts)
 *   instead of this one; chaos then also SIGKILLs one such host a round and starts it again:
 *   its requesters resume their jobs from their state dirs. Each job is then counted from its
 *   requester's record as read from its file at the end, and its payment log.
 *
 * `jobs.offered/done/failed/lost/paidTwice/ranTwice`, `jobs.refunded` (failed jobs whose deposit
 * came back: an incoming FULFILL, never counted as a payment), `jobs.failedPaid` and
 * `jobs.timedOutPaid` (failed, and of them timed-out, jobs that paid their provider and got no
 * deposit back; `jobs.failedPaidJobs` names the first 100, run with `SCALE_KEEP_ROOT=1` to keep
 * their state dirs), `jobs.failedReasons`, `jobs.failedDuring`
 * (each failure charged to the chaos outage it lived through), `jobs.failedUnexplained` (the
 * first 100 failures that lived through none, each with its times, towns, hosts and reason),
 * `latencyMs.p50/p99`, per town: paid writes/s, events sent/s, CPU seconds and RSS of its
 * process; the agents' process: CPU and RSS per agent; the chaos events with their times.
 *
 * Run: deno run -A bench/network_scale_bench_script.ts --agents 30 --towns 3 --seconds 60
 *   [--rate 3] [--chaos] [--chaos-every 10] [--job-timeout 60] [--audit-window-ms 200]
 *   [--idle-seconds 5] [--start-batch 8] [--open-requests] [--connector] [--cross 0.2]
 *   [--max-in-flight 40|auto]
 *   [--postgres] [--pg-processes 2] [--provider-hosts 50] [--requester-hosts 4]
 *   [--requester-cpu-prof DIR] [--provider-cpu-prof DIR] [--town-cpu-prof DIR] [--channels]
 *   [--deposit M2M]
 *   [--payout-threshold M2M] [--payout-deposit M2M] [--payout-settle-after 0] [--report scale.json]
 *
 * `--postgres`: town 0 two town processes on one PostgreSQL store and the same ports
 * (bench/scale_pg_town.ts; `--pg-processes 1` for one), PostgreSQL restarted in the chaos schedule.
 *
 * `--channels`: payment channels on a local anvil (bench/scale_channels.ts): each requester
 * opens one to its town at start-up (deposit `--deposit`, default sized to its share of the
 * run), pays with claims, tops up when low; at the end every channel is closed cooperatively and
 * the chain compared with both sides' books (`chainEqualsBooks`, claims/s per town, on-chain
 * transactions per agent-hour: opens, top-ups, closes). The towns pay their providers over
 * payout channels (`[town.payouts]`, threshold `--payout-threshold` M2M, deposit
 * `--payout-deposit` M2M); at the end they pay the rest, the providers close and settle, and
 * each provider's payout is compared with the towns' books and its payment log
 * (`payoutChainEqualsBooks`, bench/scale_payouts.ts).
 *
 * @module
 */
import { freePort } from "../harness/free_port.ts";
import { DatabaseSync } from "node:sqlite";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { type SharedTownProcess, startSharedTownProcess } from "../harness/shared_town_process.ts";
import { type ProviderNode, startProviderNode } from "../roles/provider/provider_node.ts";
import {
  type ReferenceConnector,
  startReferenceConnector,
} from "../harness/reference_connector.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { type PostgresServer, startPostgresServer } from "../state/postgres/postgres_server.ts";
import { readPaymentLogText } from "../state/payments/payment_log_files.ts";
import { type Requester, startRequester } from "../roles/requester/requester_node.ts";
import { type JobBound, jobSlotsFor } from "../roles/requester/job_slots.ts";
import { createSkillSandbox, type SkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";
import {
  type JobStatus,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../state/jobs/job_record.ts";
import { renderScalePlot, type ScaleSample as Sample } from "./scale_plot.ts";
import type { ProviderHostPlan } from "./scale_provider_host.ts";
import {
  type ReportedJob,
  RequesterHost,
  type RequesterHostEvents,
  type RequesterHostPlan,
  scaleJobSpec,
} from "./scale_requester_host.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { probeTownServes, townProcessStateDir } from "./scale_pg_town.ts";
import {
  claimsSigned,
  countTransactions,
  type ScaleChain,
  scaleChannelPolicy,
  settleScaleChannels,
  startScaleChain,
} from "./scale_channels.ts";
import { payeeAddress, settleScalePayouts } from "./scale_payouts.ts";
import { parseBenchFlags } from "./bench_flags.ts";
import { OUTAGE_KINDS, type OutageKind, outageOfJob, outagesOf } from "./scale_outages.ts";
import { offerWindowThroughput } from "./scale_throughput.ts";
import { HostBoundRecorder, hostBoundsCell } from "./scale_host_bounds.ts";

const USAGE =
  `Usage: deno run -A bench/network_scale_bench_script.ts --agents 30 --towns 3 --seconds 60
  [--rate 3] [--chaos] [--chaos-every 10] [--job-timeout 60] [--audit-window-ms 200]
  [--idle-seconds 5] [--start-batch 8] [--open-requests] [--connector] [--cross 0.2] [--max-in-flight 40|auto]
  [--job-target-ms 2000]
  [--postgres] [--pg-processes 2] [--provider-hosts 50] [--requester-hosts 4]
  [--requester-cpu-prof DIR] [--provider-cpu-prof DIR] [--town-cpu-prof DIR] [--channels]
  [--deposit M2M]
  [--payout-threshold M2M] [--payout-deposit M2M] [--payout-settle-after 0] [--report scale.json]
What each flag does, and the report: docs/SCALE.md "The harness".`;
// Anything but these flags is a typo, refused before a long run (bench/bench_flags.ts).
const flags = parseBenchFlags(Deno.args, {
  values: [
    "agents",
    "audit-window-ms",
    "chaos-every",
    "cross",
    "deposit",
    "idle-seconds",
    "job-target-ms",
    "job-timeout",
    "max-in-flight",
    "payout-deposit",
    "payout-settle-after",
    "payout-threshold",
    "pg-processes",
    "provider-hosts",
    "rate",
    "requester-hosts",
    "seconds",
    "start-batch",
    "towns",
    "report",
    "requester-cpu-prof",
    "provider-cpu-prof",
    "town-cpu-prof",
  ],
  switches: ["channels", "chaos", "connector", "open-requests", "postgres"],
  usage: USAGE,
});
type NumberFlag = Exclude<
  keyof typeof flags.values,
  "report" | "requester-cpu-prof" | "provider-cpu-prof" | "town-cpu-prof"
>;
function arg(name: NumberFlag, fallback: number): number {
  const given = flags.values[name];
  if (given === undefined) return fallback;
  const v = Number(given);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number, got ${given}`);
  return v;
}
const agents = arg("agents", 30);
const towns = Math.max(1, arg("towns", 1));
const seconds = arg("seconds", 30);
const pairsN = Math.floor(agents / 2);
const rate = arg("rate", Math.max(1, pairsN / 10));
const chaos = flags.switches.chaos === true;
const chaosEvery = arg("chaos-every", 10);
const jobTimeoutMs = arg("job-timeout", 60) * 1000;
const auditWindowMs = arg("audit-window-ms", 200);
// Graceful overload (docs/SCALE.md): the jobs the requesters follow at once, shared by all the
// requesters of a process (split evenly over `--requester-hosts`); an offer past it is refused at
// once (`submit: busy: ...`, a failed offer with its reason). 0: no bound. `auto`: a bound that
// finds itself from the done jobs' latency (roles/requester/adaptive_job_limit.ts), one per
// process (each requester host its own).
const maxInFlight: JobBound | 0 = flags.values["max-in-flight"] === "auto"
  ? "auto"
  : arg("max-in-flight", 0);
// With `auto`: the latency the bound aims the done jobs' median at (AdaptiveJobLimit's target).
const jobTargetMs = flags.values["job-target-ms"] === undefined
  ? undefined
  : arg("job-target-ms", 2000);
const inProcessSlots = jobSlotsFor(maxInFlight || undefined, { targetMs: jobTargetMs });
// Providers take addressed requests only (`#p` subscription, docs/SCALE.md): the default here,
// since every job of the harness names its provider; `--open-requests` for the kind-wide one.
const addressedOnly = !flags.switches["open-requests"];
// Towns joined by the reference connector (children of it), and a share of the pairs whose
// provider lives on the next town (it reads and writes the requester's town too: moreTowns).
const cross = arg("cross", 0);
const useConnector = flags.switches.connector === true || cross > 0;
// Town 0 on PostgreSQL (restarted in the chaos schedule) instead of a SQLite file.
const usePostgres = flags.switches.postgres === true;
// Processes of that town, sharing the store and its ports (bench/scale_pg_town.ts).
const pgProcesses = Math.max(1, arg("pg-processes", 2));
// Providers in child processes, this many per process (0: in this process): a provider crash
// in the chaos schedule is then a SIGKILL of one such host (bench/scale_provider_host.ts).
const perHost = arg("provider-hosts", 0);
// Requesters in this many child processes (0: in this process); see the module doc.
const requesterHostsN = Math.min(arg("requester-hosts", 0), pairsN);
// A V8 CPU profile of each requester host, written into this directory when it stops.
const requesterCpuProf = flags.values["requester-cpu-prof"];
// A V8 CPU profile of each provider host, written into this directory when it stops.
const providerCpuProf = flags.values["provider-cpu-prof"];
// A V8 CPU profile of each town process, written when it stops (a SIGKILLed one writes none).
const townCpuProf = flags.values["town-cpu-prof"];
// Payment channels on a local anvil (bench/scale_channels.ts).
const useChannels = flags.switches.channels === true;
const reportPath = flags.values.report;
if (pairsN < 1) throw new Error("--agents must be at least 2 (one requester, one provider)");

const t0 = performance.now();
const since = () => Math.round(performance.now() - t0);
const log = (line: string) => console.error(`[${(since() / 1000).toFixed(1)}s] ${line}`);

/** Terminal colour codes, as Deno writes them on a child's stderr. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/**
 * CPU ms (utime + stime), CPU ms of its reaped children (git, sandboxes) and RSS bytes of a
 * process, from /proc (Linux, 100 Hz ticks).
 */
async function procStat(
  pid: number | "self",
): Promise<{ cpuMs: number; childCpuMs: number; rss: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const rssKb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  return { cpuMs: (f[11] + f[12]) * 10, childCpuMs: (f[13] + f[14]) * 10, rss: rssKb * 1024 };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function metrics(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    const m = line.match(/^(turnpike_town_[a-z_]+) ([0-9.e+]+)$/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// ---- towns

interface Town {
  index: number;
  key: Uint8Array;
  pubkey: string;
  httpPort: number;
  btpPort: number;
  databasePath: string;
  /** PostgreSQL store (town 0 with --postgres). */
  storeUrl?: string;
  /** Its account on the connector. */
  parent?: { url: string; token: string };
  proc: SharedTownProcess;
  /** Slot of `proc` (its state dir); the town on PostgreSQL has a second process, `twin`. */
  slot: number;
  twin?: SharedTownProcess;
  /** CPU ms of the town's earlier (killed) processes. */
  cpuBeforeMs: number;
  maxRss: number;
  metricsStart: Record<string, number>;
  /** Counters of the earlier processes (a restart zeroes them). */
  metricsBefore: Record<string, number>;
}

const root = await Deno.makeTempDir({ prefix: "tp-scale-" });
// Keys made up front: with --channels their wallets are funded before anything starts.
const townKeys = Array.from({ length: towns }, () => generateSecretKey());
const requesterKeys = Array.from({ length: pairsN }, () => generateSecretKey());
// The providers' keys too: with --channels their towns pay them at their wallets' addresses.
const providerKeys = Array.from({ length: pairsN }, () => generateSecretKey());
/** Whether pair `i`'s provider lives on the next town (`--cross`). */
const isCrossPair = (i: number) => towns > 1 && Math.floor((i + 1) * cross) > Math.floor(i * cross);
/** The town pair `i`'s provider is connected to, and paid by. */
const providerTownOf = (i: number) => (i + (isCrossPair(i) ? 1 : 0)) % towns;
// A requester's deposit (base units): its share of the run's jobs at what a job took from a
// channel in a measured run (0.03 M2M: the provider's price and the writes, docs/SCALE.md),
// with half again as margin, at least 0.1 M2M; a requester drawing more jobs than that tops up.
const channelDeposit = BigInt(
  Math.round(arg("deposit", Math.max(0.1, rate * seconds / pairsN * 0.03 * 1.5)) * 1e4) * 100,
);
// The towns' payouts to their providers (`[town.payouts]`, bench/scale_payouts.ts): a payout
// channel of 4 requester deposits per provider (no top-up: a provider earning more than it is
// refused T04 past `max_owed`), a claim once `--payout-threshold` M2M is owed beyond the last
// (default 0.04: two jobs at 0.025 M2M, so payouts happen during the run) or every minute.
const payoutDeposit = BigInt(Math.round(arg("payout-deposit", 0) * 1e6)) || channelDeposit * 4n;
const payoutThresholdArg = BigInt(Math.round(arg("payout-threshold", 0.04) * 1e6));
const payoutThreshold = payoutThresholdArg < payoutDeposit ? payoutThresholdArg : payoutDeposit;
const townList: Town[] = [];

let scaleChain: ScaleChain | undefined;
async function startTown(t: Omit<Town, "proc"> & { proc?: SharedTownProcess }) {
  // With channels the town keeps its channel files in a state dir that outlives a SIGKILL.
  const channelSide = scaleChain && {
    stateDir: townProcessStateDir(root, t.index, t.slot),
    channels: { chainsTable: scaleChain.chain.chainsTable },
    payouts: {
      addresses: Object.fromEntries(
        providerKeys.flatMap((k, i) =>
          providerTownOf(i) === t.index ? [[`prov${i}`, payeeAddress(k)]] : []
        ),
      ),
      threshold: String(payoutThreshold),
      intervalMs: 60_000,
      maxOwed: String(payoutDeposit),
      deposit: String(payoutDeposit),
    },
  };
  if (channelSide) await Deno.mkdir(channelSide.stateDir, { recursive: true });
  return await startSharedTownProcess({
    ...channelSide,
    secretKey: t.key,
    httpPort: t.httpPort,
    btpPort: t.btpPort,
    ...(t.storeUrl ? { storeUrl: t.storeUrl } : { databasePath: t.databasePath }),
    parent: t.parent,
    cpuProfDir: townCpuProf,
    // Every agent connects from 127.0.0.1: four sockets a pair (relay and BTP, both sides).
    limits: {
      maxConnectionsPerAddress: 8 * pairsN + 64,
      maxConnectionsPerPrefix: 8 * pairsN + 64,
      maxConnections: 16 * pairsN + 128,
      // Each requester's channel is new to its town at its first payment: the town learns a
      // town's share of them at once (a burst that size, then 10 a second), as an operator
      // expecting that many new payers would set it (docs/OPERATIONS.md "A town's limits").
      channelLearnBurst: Math.max(10, Math.ceil(pairsN / towns)),
      channelLearnPerSecond: 10,
    },
  });
}

// ---- agents

const skillsDir = `${root}/skills`;
await Deno.mkdir(`${skillsDir}/echo`, { recursive: true });
// Not idempotent here (the echo skill says it is): a provider killed mid-run then fails that job
// with its reason instead of running it again, so `ranTwice` checks exactly once.
const echoManifest = await Deno.readTextFile(new URL("../skills/echo/SKILL.md", import.meta.url));
if (!/^\s*idempotent: true$/m.test(echoManifest)) throw new Error("skills/echo manifest changed");
await Deno.writeTextFile(
  `${skillsDir}/echo/SKILL.md`,
  echoManifest.replace(/^(\s*)idempotent: true$/m, "$1idempotent: false"),
);
await Deno.writeTextFile(`${skillsDir}/echo/run`, "#!/bin/sh\ncat > /dev/null\necho ok\n", {
  mode: 0o755,
});

/**
 * A provider host's own copy of the skills dir, as it would have on a machine of its own. One dir
 * shared by every host woke each host's watch of it at every job anyone ran (the kernel wakes a
 * `Deno.watchFs` for each file opened under it, though Deno reports none of those):
 * docs/SCALE.md "A skills dir a provider host".
 */
async function hostSkillsDir(host: number): Promise<string> {
  const dir = `${root}/skills-host${host}`;
  await Deno.mkdir(`${dir}/echo`, { recursive: true });
  for (const file of ["SKILL.md", "run"]) {
    await Deno.copyFile(`${skillsDir}/echo/${file}`, `${dir}/echo/${file}`);
  }
  return dir;
}

/** Completed runs of the skill per job id, whatever provider ran it (ranTwice). */
const runs = new Map<string, number>();
const innerSandbox = await createSkillSandbox({ jobsRoot: `${root}/work`, hiddenPaths: [root] });
const sandbox: SkillSandbox = {
  mode: innerSandbox.mode,
  modeReason: innerSandbox.modeReason,
  setup: innerSandbox.setup,
  limits: innerSandbox.limits,
  memoryLimits: innerSandbox.memoryLimits,
  run: async (job) => {
    const out = await innerSandbox.run(job);
    if (out.status === "ok") runs.set(job.jobId, (runs.get(job.jobId) ?? 0) + 1);
    return out;
  },
};

interface Pair {
  index: number;
  /** The requester's town. */
  town: Town;
  /** The provider's town: the next one for a cross-town pair (`--cross`). */
  providerTown: Town;
  cross: boolean;
  providerKey: Uint8Array;
  providerPubkey: string;
  provider?: ProviderNode;
  requester: Requester;
}

function urls(town: Town) {
  return {
    relayUrl: `ws://127.0.0.1:${town.httpPort}`,
    btp: `btp+ws://127.0.0.1:${town.btpPort}`,
  };
}

async function startProvider(p: Pair): Promise<ProviderNode> {
  const { relayUrl, btp } = urls(p.providerTown);
  return await startProviderNode({
    stateDir: `${root}/p${p.index}`,
    secretKey: p.providerKey,
    btpUrl: btp.replace("btp+ws://", `btp+ws://prov${p.index}:p@`),
    btpToken: "p",
    relayUrl,
    townPubkey: p.providerTown.pubkey,
    // With the connector the address comes from the town's parent (IL-DCP).
    townAddress: useConnector ? undefined : "test.town",
    // A cross-town provider reads and writes its requester's town too, paying it through the
    // connector (docs/SCALE.md, "Who pays whom across machines").
    moreTowns: p.cross ? [{ relayUrl: urls(p.town).relayUrl }] : undefined,
    skillsDir,
    sandbox,
    feedMode: "inline",
    heartbeatMs: 3_600_000,
    auditWindowMs,
    addressedOnly,
    // Keeps its town's payout claims (roles/channels/payout_receiver.ts); it opens no channel.
    chains: scaleChain?.chain.chainsTable,
  });
}

/**
 * A start refused by a busy town (an SPSP handshake not answered in time on a loaded machine)
 * is tried again, as a supervisor would: 5 tries, 2 s apart.
 */
async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 5) throw err;
      log(`${what}: start failed (${(err as Error).message}); again in 2 s`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** A provider host process (--provider-hosts). */
interface Host {
  index: number;
  planPath: string;
  pairs: Pair[];
  child?: Deno.ChildProcess;
  /** CPU ms (own, children's) of its earlier, killed processes. */
  cpuBeforeMs: number;
  childCpuBeforeMs: number;
}
const hosts: Host[] = [];

/** One offered job, as the harness follows it. */
interface JobOutcome {
  id?: string;
  pair: number;
  offeredMs: number;
  endedMs?: number;
  status?: string;
  reason?: string;
  record?: RequesterJobRecord;
  /** With --requester-hosts: its host, what the host reported, and the wait's resolver. */
  host?: number;
  reported?: ReportedJob;
  settle?: () => void;
}
const jobs: JobOutcome[] = [];
const waits: Promise<void>[] = [];
const jobById = new Map<string, JobOutcome>();

/** A job ends once, at the first word of it (the host's `ended`, or the harness's reason). */
function endJob(j: JobOutcome, status: string, reason?: string, reported?: ReportedJob): void {
  if (j.status !== undefined) return;
  j.status = status;
  j.reason = reason;
  j.reported = reported;
  j.endedMs = since();
  j.settle?.();
}

/** What requester host `k` tells the harness about its jobs. */
function hostEvents(k: number): RequesterHostEvents {
  return {
    onCreated: (offer, id) => {
      jobs[offer].id = id;
      jobById.set(id, jobs[offer]);
    },
    onEnded: (m) => {
      const j = m.offer !== undefined ? jobs[m.offer] : jobById.get(m.job?.id ?? "");
      if (j === undefined) return;
      if (m.job === undefined) return endJob(j, "error", m.reason);
      const why = m.job.status === "done" ? undefined : `${m.job.status}: ${m.job.error ?? ""}`;
      endJob(j, m.job.status, why, m.job);
    },
    onGone: () => {
      // Offers the killed host never made a job of (no id came back): ended with that reason.
      for (const j of jobs) {
        if (j.host === k && j.id === undefined) {
          endJob(j, "error", "not created: requester host killed");
        }
      }
    },
  };
}
const runsFile = `${root}/runs.log`;
/** Requester host processes (--requester-hosts) and which host holds each pair's requester. */
const requesterHosts: RequesterHost[] = [];
const requesterHostOf = new Map<number, RequesterHost>();

/** CPU (own, children's) of the requester hosts alone (their requesters' cost per job). */
async function requesterHostsCpuMs(): Promise<number> {
  let ms = 0;
  for (const h of requesterHosts) {
    ms += h.cpuBeforeMs;
    if (h.child === undefined) continue;
    const s = await procStat(h.child.pid).catch(() => undefined);
    if (s) ms += s.cpuMs;
  }
  return ms;
}

/** SIGKILLs a requester host, its CPU kept for the report. */
async function killRequesterHost(h: RequesterHost): Promise<void> {
  h.up = false;
  const s = h.child ? await procStat(h.child.pid).catch(() => undefined) : undefined;
  await h.kill();
  if (s) {
    h.cpuBeforeMs += s.cpuMs;
    h.childCpuBeforeMs += s.childCpuMs;
    reapedElsewhereMs += s.cpuMs + s.childCpuMs;
  }
}

/** Starts a host's process and waits (bounded) for its `ready`. */
async function startHost(h: Host): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(providerCpuProf ? ["--cpu-prof", `--cpu-prof-dir=${providerCpuProf}`] : []),
      new URL("./scale_provider_host.ts", import.meta.url).pathname,
      h.planPath,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  h.child = child;
  // Its stderr: the last lines are shown when it fails to start.
  let errText = "";
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errText = (errText + chunk).slice(-2000)) }),
  ).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const ready = (async () => {
    while (!seen.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`provider host ${h.index} exited before it was ready: ${errText}`);
      }
      seen += value;
    }
    reader.releaseLock();
    void child.stdout.cancel().catch(() => {});
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) =>
        timer = setTimeout(
          () => reject(new Error(`provider host ${h.index} not ready after 900 s`)),
          900_000,
        )
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs a host's process, its CPU kept for the report. */
async function killHost(h: Host): Promise<void> {
  const child = h.child;
  if (child === undefined) return;
  h.child = undefined;
  const s = await procStat(child.pid).catch(() => undefined);
  try {
    child.kill("SIGKILL");
  } catch { /* gone already */ }
  await child.status;
  if (s) {
    h.cpuBeforeMs += s.cpuMs;
    h.childCpuBeforeMs += s.childCpuMs;
    reapedElsewhereMs += s.cpuMs + s.childCpuMs;
  }
}

/**
 * CPU (own and children's) of the processes this harness reaped whose CPU is counted elsewhere
 * (hosts, towns) or is no agent's (PostgreSQL): the kernel adds a reaped child's CPU to its
 * parent's children's CPU, so {@linkcode agentsStat} takes it out of this process's.
 */
let reapedElsewhereMs = 0;
/** Town processes the chaos SIGKILLed, and those seen ended on their own (pids). */
const chaosKilled = new Set<number>();
const endedTowns = new Set<number>();
/** PostgreSQL's CPU (server and backends) before each chaos stop, ms. */
let pgCpuBeforeMs = 0;

/** The PostgreSQL server's CPU (its own and its backends'), from its `postmaster.pid`. */
async function pgStat(server: PostgresServer): Promise<number> {
  const pid = (await Deno.readTextFile(`${server.dataDir}/postmaster.pid`).catch(() => ""))
    .split("\n")[0].trim();
  if (!/^\d+$/.test(pid)) return 0;
  const s = await procStat(Number(pid)).catch(() => undefined);
  if (s === undefined) return 0;
  // Its live backends (a process each) count too: their CPU reaches it when they exit.
  let backends = 0;
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f[1] === pid) backends += (Number(f[11]) + Number(f[12])) * 10;
  }
  return s.cpuMs + s.childCpuMs + backends;
}

/** The whole machine's busy CPU so far, ms (`/proc/stat`: all but idle and iowait). */
async function machineBusyMs(): Promise<number> {
  const f = (await Deno.readTextFile("/proc/stat")).split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal ?? 0)) * 10;
}

/** CPU (own, children's) and RSS of the agents: this process plus the provider hosts. */
async function agentsStat(): Promise<{ cpuMs: number; childCpuMs: number; rss: number }> {
  const self = await procStat("self");
  // This process's children's CPU holds every process it reaped: hosts and towns it killed
  // (counted on their own) and PostgreSQL stopped by the chaos (the store's): not the agents'.
  self.childCpuMs -= reapedElsewhereMs;
  for (const h of [...hosts, ...requesterHosts]) {
    self.cpuMs += h.cpuBeforeMs;
    self.childCpuMs += h.childCpuBeforeMs;
    if (h.child === undefined) continue;
    const s = await procStat(h.child.pid).catch(() => undefined);
    if (s === undefined) continue;
    self.cpuMs += s.cpuMs;
    self.childCpuMs += s.childCpuMs;
    self.rss += s.rss;
  }
  return self;
}

/** CPU and RSS of a town's processes (the town on PostgreSQL has two). */
async function townStat(t: Town): Promise<{ cpuMs: number; childCpuMs: number; rss: number }> {
  // A town process that ended on its own (logged by the town watch) counts nothing.
  const s = await procStat(t.proc.pid).catch(() => ({ cpuMs: 0, childCpuMs: 0, rss: 0 }));
  const twin = t.twin && await procStat(t.twin.pid).catch(() => undefined);
  if (twin === undefined) return s;
  return {
    cpuMs: s.cpuMs + twin.cpuMs,
    childCpuMs: s.childCpuMs + twin.childCpuMs,
    rss: s.rss + twin.rss,
  };
}

const pairs: Pair[] = [];
const stopAll: (() => Promise<void>)[] = [];
const report: Record<string, unknown> = {};
const chaosEvents: { atMs: number; what: string }[] = [];

let connector: ReferenceConnector | undefined;
let pg: PostgresServer | undefined;
try {
  if (useConnector) {
    // Each town a child of the connector; the per-account packet limit raised for the run.
    const big = { refillPeriod: 1000, refillCount: 100_000, capacity: 100_000 };
    connector = await startReferenceConnector({
      ilpAddress: "test.conn",
      accounts: Object.fromEntries(
        Array.from({ length: towns }, (_, i) => [`t${i}`, { rateLimit: big }]),
      ),
    });
    const c = connector;
    stopAll.push(() => c.stop());
    log("reference connector up");
  }
  if (usePostgres) {
    // Its own temp dir (as root the server runs as nobody, who cannot enter the run's dir).
    pg = await startPostgresServer();
    const server = pg;
    stopAll.push(() => server.close());
    log("PostgreSQL up");
  }
  if (useChannels) {
    const started = performance.now();
    scaleChain = await startScaleChain({
      payerKeys: requesterKeys,
      townKeys,
      tokens: channelDeposit * 4n,
      // A payout channel's deposit for every provider it could pay, and one spare.
      townTokens: payoutDeposit * BigInt(pairsN + 1),
      gasOnlyKeys: providerKeys,
    });
    const c = scaleChain;
    stopAll.push(() => c.stop());
    log(
      `anvil up, ${pairsN} requester wallets funded in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s; deposit ${Number(channelDeposit) / 1e6} M2M each`,
    );
  }
  for (let i = 0; i < towns; i++) {
    const key = townKeys[i];
    const t = {
      index: i,
      key,
      pubkey: getPublicKey(key),
      httpPort: freePort(),
      btpPort: freePort(),
      databasePath: `${root}/town${i}.sqlite`,
      storeUrl: i === 0 && pg ? await freshDatabase(pg.url) : undefined,
      parent: connector
        ? { url: connector.accounts[`t${i}`].url, token: connector.accounts[`t${i}`].secret }
        : undefined,
      slot: 0,
      cpuBeforeMs: 0,
      maxRss: 0,
      metricsStart: {},
      metricsBefore: {},
    };
    const proc = await startTown(t);
    const town: Town = { ...t, proc };
    townList.push(town);
    stopAll.push(() => town.proc.stop());
    if (t.storeUrl !== undefined && pgProcesses > 1) {
      // The town on PostgreSQL: a second process, same key, store and ports (bench/scale_pg_town.ts).
      town.twin = await startTown({ ...t, slot: 1 });
      stopAll.push(() => town.twin!.stop());
    }
  }
  log(`${towns} town processes up`);
  // A town process that ends on its own (not SIGKILLed by the chaos) is said at once, with the
  // end of its stderr: a town down for the rest of a run fails every job that needs it.
  const townWatch = setInterval(() => {
    for (const t of townList) {
      for (const p of [t.proc, t.twin]) {
        if (p === undefined || chaosKilled.has(p.pid) || endedTowns.has(p.pid)) continue;
        try {
          Deno.kill(p.pid, "SIGCONT");
        } catch {
          endedTowns.add(p.pid);
          log(`town ${t.index} process ${p.pid} ended on its own; its stderr ends:\n${p.stderr()}`);
          // In the report too (the chaos events), with the line that names why.
          const why = p.stderr().replaceAll(ANSI, "").split("\n")
            .find((l) => l.startsWith("error:")) ?? "";
          chaosEvents.push({
            atMs: since(),
            what: `town ${t.index} process ended on its own: ${why}`,
          });
        }
      }
    }
  }, 5000);
  stopAll.push(() => Promise.resolve(clearInterval(townWatch)));
  // Each requester opens its channel to its town at start-up and keeps it funded (as the CLI
  // with `[channels] auto = true`).
  const requesterChannels = scaleChain
    ? {
      channelPolicy: scaleChannelPolicy(String(Number(channelDeposit) / 1e6)),
      chains: scaleChain.chain.chainsTable,
    }
    : {};

  const startedAgents = performance.now();
  const cpuAgents0 = await agentsStat();
  stopAll.push(async () => {
    for (const p of pairs) {
      await p.requester?.close().catch(() => {});
      await p.provider?.stop().catch(() => {});
    }
  });
  const startPair = (i: number) => withRetry(`pair ${i}`, () => startPairOnce(i));
  const startPairOnce = async (i: number) => {
    // A retry after a failed start: the pair is made again (same keys).
    const at = pairs.findIndex((p) => p.index === i);
    if (at >= 0) pairs.splice(at, 1);
    const town = townList[i % towns];
    const providerKey = providerKeys[i];
    const isCross = isCrossPair(i);
    const pair: Pair = {
      index: i,
      town,
      providerTown: isCross ? townList[(i + 1) % towns] : town,
      cross: isCross,
      providerKey,
      providerPubkey: getPublicKey(providerKey),
      requester: undefined as unknown as Requester,
    };
    pairs.push(pair);
    if (perHost === 0) pair.provider = await startProvider(pair);
    try {
      const { relayUrl, btp } = urls(town);
      const stateDir = `${root}/r${i}`;
      await Deno.mkdir(stateDir, { recursive: true });
      pair.requester = await startRequester({
        stateDir,
        secretKey: requesterKeys[i],
        ...requesterChannels,
        relayUrl,
        btpUrl: btp.replace("btp+ws://", `btp+ws://req${i}:r@`),
        btpToken: "r",
        townPubkey: town.pubkey,
        townAddress: useConnector ? undefined : "test.town",
        feedMode: "inline",
        auditWindowMs,
        jobSlots: inProcessSlots,
      });
    } catch (err) {
      await pair.provider?.stop().catch(() => {});
      throw err;
    }
  };
  // A few pairs start at once: their start is mostly waiting (git init, connects, auth).
  const startBatch = Math.max(1, arg("start-batch", 8));
  let hostsUp: Promise<unknown> = Promise.resolve();
  if (perHost > 0 || requesterHostsN > 0) {
    // The pairs are made first (no provider started here), then each town's providers are
    // handed to hosts of `perHost`, which start while this process starts the requesters.
    for (let i = 0; i < pairsN; i++) {
      const providerKey = providerKeys[i];
      const town = townList[i % towns];
      const isCross = isCrossPair(i);
      pairs.push({
        index: i,
        town,
        providerTown: isCross ? townList[(i + 1) % towns] : town,
        cross: isCross,
        providerKey,
        providerPubkey: getPublicKey(providerKey),
        requester: undefined as unknown as Requester,
      });
    }
  }
  if (perHost > 0) {
    for (const t of townList) {
      const mine = pairs.filter((p) => p.providerTown === t);
      for (let k = 0; k < mine.length; k += perHost) {
        const h: Host = {
          index: hosts.length,
          planPath: `${root}/host${hosts.length}.json`,
          pairs: mine.slice(k, k + perHost),
          cpuBeforeMs: 0,
          childCpuBeforeMs: 0,
        };
        const plan: ProviderHostPlan = {
          root,
          skillsDir: await hostSkillsDir(h.index),
          runsFile,
          auditWindowMs,
          addressedOnly,
          chains: scaleChain?.chain.chainsTable,
          providers: h.pairs.map((p) => {
            const { relayUrl, btp } = urls(p.providerTown);
            return {
              index: p.index,
              secretKeyHex: bytesToHex(p.providerKey),
              relayUrl,
              btpUrl: btp.replace("btp+ws://", `btp+ws://prov${p.index}:p@`),
              townPubkey: p.providerTown.pubkey,
              townAddress: useConnector ? undefined : "test.town",
              moreTowns: p.cross ? [{ relayUrl: urls(p.town).relayUrl }] : undefined,
            };
          }),
        };
        await Deno.writeTextFile(h.planPath, JSON.stringify(plan));
        hosts.push(h);
      }
    }
    stopAll.push(async () => {
      for (const h of hosts) {
        try {
          h.child?.kill("SIGTERM");
        } catch { /* gone */ }
      }
      await Promise.allSettled(hosts.map((h) => h.child?.status));
    });
    hostsUp = Promise.all(hosts.map((h) => startHost(h)));
    hostsUp.catch(() => {});
  }
  const startRequesterOf = async (pair: Pair) => {
    const { relayUrl, btp } = urls(pair.town);
    const stateDir = `${root}/r${pair.index}`;
    await Deno.mkdir(stateDir, { recursive: true });
    pair.requester = await startRequester({
      stateDir,
      secretKey: requesterKeys[pair.index],
      ...requesterChannels,
      relayUrl,
      btpUrl: btp.replace("btp+ws://", `btp+ws://req${pair.index}:r@`),
      btpToken: "r",
      townPubkey: pair.town.pubkey,
      townAddress: useConnector ? undefined : "test.town",
      feedMode: "inline",
      auditWindowMs,
      jobSlots: inProcessSlots,
    });
  };
  if (requesterHostsN > 0) {
    // The requesters handed to N host processes (round robin), started while the providers start.
    // The requesters' keys were made up front (requesterKeys).
    for (let k = 0; k < requesterHostsN; k++) {
      const mine = pairs.filter((p) => p.index % requesterHostsN === k);
      const plan: RequesterHostPlan = {
        root,
        auditWindowMs,
        jobTimeoutMs,
        maxInFlight: maxInFlight === "auto"
          ? "auto"
          : maxInFlight > 0
          ? Math.ceil(maxInFlight / requesterHostsN)
          : undefined,
        ...jobTargetMs !== undefined && { jobTargetMs },
        ...requesterChannels,
        requesters: mine.map((p) => {
          const { relayUrl, btp } = urls(p.town);
          return {
            index: p.index,
            secretKeyHex: bytesToHex(requesterKeys[p.index]),
            relayUrl,
            btpUrl: btp.replace("btp+ws://", `btp+ws://req${p.index}:r@`),
            townPubkey: p.town.pubkey,
            townAddress: useConnector ? undefined : "test.town",
            providerPubkey: p.providerPubkey,
          };
        }),
      };
      const planPath = `${root}/requester-host${k}.json`;
      await Deno.writeTextFile(planPath, JSON.stringify(plan));
      const h = new RequesterHost(k, planPath, hostEvents(k), requesterCpuProf);
      requesterHosts.push(h);
      for (const p of mine) requesterHostOf.set(p.index, h);
    }
    stopAll.push(async () => {
      await Promise.allSettled(requesterHosts.map((h) => h.stop()));
    });
    const providersHere = perHost > 0 ? Promise.resolve() : (async () => {
      for (let i = 0; i < pairsN; i += startBatch) {
        await Promise.all(
          pairs.slice(i, i + startBatch).map(async (p) =>
            p.provider = await withRetry(`provider ${p.index}`, () => startProvider(p))
          ),
        );
      }
    })();
    await Promise.all([...requesterHosts.map((h) => h.start()), providersHere, hostsUp]);
    log(`${requesterHosts.length} requester hosts up`);
  }
  for (let i = 0; perHost > 0 && requesterHostsN === 0 && i < pairsN; i += startBatch) {
    await Promise.all(
      pairs.slice(i, i + startBatch).map((p) =>
        withRetry(`requester ${p.index}`, () => startRequesterOf(p))
      ),
    );
  }
  if (perHost > 0 && requesterHostsN === 0) {
    log(`requesters up; waiting for ${hosts.length} provider hosts`);
    await hostsUp;
  }
  for (let i = 0; perHost === 0 && requesterHostsN === 0 && i < pairsN; i += startBatch) {
    await Promise.all(
      Array.from({ length: Math.min(startBatch, pairsN - i) }, (_, k) => startPair(i + k)),
    );
    if (Math.floor((i + startBatch) / 50) > Math.floor(i / 50)) {
      log(`${Math.min(i + startBatch, pairsN)}/${pairsN} pairs up`);
    }
  }
  const idle = await agentsStat();
  const agentsStartS = (performance.now() - startedAgents) / 1000;
  // The channels' opening transactions: everything mined since the wallets were funded.
  const opened = scaleChain &&
    await countTransactions(scaleChain.chain.anvil.rpcUrl, scaleChain.fundedBlock);
  if (opened) log(`channels opened: ${JSON.stringify(opened.counts)}`);
  log(
    `${pairsN} pairs up in ${((performance.now() - startedAgents) / 1000).toFixed(1)} s, ` +
      `RSS ${(idle.rss / 2 ** 20).toFixed(0)} MiB`,
  );
  // What the agents cost doing nothing (timers, status files): measured alone, so the cost
  // per job can be told apart from it.
  const idleSeconds = arg("idle-seconds", 5);
  await new Promise((r) => setTimeout(r, 1000));
  const idle0 = await agentsStat();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const idle1 = await agentsStat();
  const idleCpuMsPerS = (idle1.cpuMs + idle1.childCpuMs - idle0.cpuMs - idle0.childCpuMs) /
    idleSeconds;
  log(`idle: ${idleCpuMsPerS.toFixed(0)} ms CPU per second for ${agents} agents`);
  for (const t of townList) t.metricsStart = await metrics(t.httpPort);
  const claimsOf = () => Promise.all(pairs.map((p) => claimsSigned(`${root}/r${p.index}`)));
  const claims0 = scaleChain ? await claimsOf() : [];

  // ---- the run
  const spec = (p: Pair): JobSpec => scaleJobSpec(p.providerPubkey, jobTimeoutMs);
  const offer = (p: Pair) => {
    const job: JobOutcome = { pair: p.index, offeredMs: since() };
    jobs.push(job);
    const h = requesterHostOf.get(p.index);
    if (h !== undefined) {
      // To its requester's host; it tells the id, then how the job ended.
      job.host = h.index;
      const ended = Promise.withResolvers<void>();
      job.settle = ended.resolve;
      waits.push(ended.promise);
      h.offer(jobs.length - 1, p.index).catch((err) =>
        endJob(job, "error", `not created: ${(err as Error).message}`)
      );
      return;
    }
    waits.push((async () => {
      try {
        const submitted = await p.requester.submit(spec(p));
        job.id = submitted.id;
        const done = await p.requester.waitFor(submitted.id);
        job.record = done;
        job.status = done.status;
        if (done.status !== "done") job.reason = `${done.status}: ${done.error ?? ""}`;
      } catch (err) {
        job.status = "error";
        job.reason = `submit: ${(err as Error).message}`;
      }
      job.endedMs = since();
    })());
  };

  let chaosRound = 0;
  const twinProbes: { tries: number; answered: number }[] = [];
  const doChaos = async () => {
    const town = townList[chaosRound % towns];
    chaosRound++;
    if (pg && chaosRound % 3 === 2) {
      // PostgreSQL crashes (immediate shutdown: clients see it go) and comes back on its data.
      const pgCpu = await pgStat(pg);
      pgCpuBeforeMs += pgCpu;
      reapedElsewhereMs += pgCpu;
      await pg.stop("immediate");
      chaosEvents.push({ atMs: since(), what: "PostgreSQL stopped (immediate)" });
      log("chaos: PostgreSQL stopped");
      await new Promise((r) => setTimeout(r, 1000));
      await pg.start();
      chaosEvents.push({ atMs: since(), what: "PostgreSQL restarted" });
      log("chaos: PostgreSQL restarted");
      return;
    }
    if (town.twin && chaosRound % 2 === 0) {
      // The other of the two processes this time.
      [town.proc, town.twin] = [town.twin, town.proc];
      town.slot = 1 - town.slot;
    }
    const before = await procStat(town.proc.pid).catch(() => undefined);
    const m = await metrics(town.httpPort).catch(() => undefined);
    if (m) {
      for (const [k, v] of Object.entries(m)) {
        town.metricsBefore[k] = (town.metricsBefore[k] ?? 0) + v - (town.metricsStart[k] ?? 0);
      }
    }
    town.metricsStart = {};
    if (before) {
      reapedElsewhereMs += before.cpuMs + before.childCpuMs;
      town.cpuBeforeMs += before.cpuMs;
      town.maxRss = Math.max(town.maxRss, before.rss);
    }
    chaosKilled.add(town.proc.pid);
    await town.proc.kill();
    const one = town.twin ? ` process ${town.slot}` : "";
    chaosEvents.push({ atMs: since(), what: `town ${town.index}${one} SIGKILL` });
    log(`chaos: town ${town.index}${one} SIGKILLed`);
    if (town.twin) {
      // The other process keeps serving the town's public ports.
      const seen = await probeTownServes(town.httpPort);
      twinProbes.push(seen);
      log(
        `chaos: town ${town.index} answered ${seen.answered}/${seen.tries} with one process down`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    town.proc = await startTown(town);
    chaosEvents.push({ atMs: since(), what: `town ${town.index} restarted` });
    log(`chaos: town ${town.index} restarted`);
    if (requesterHosts.length > 0) {
      // One requester host is SIGKILLed (every requester in it) and started again: its
      // requesters resume their jobs from their state dirs.
      const up = requesterHosts.filter((h) => h.up);
      const h = up[Math.floor(Math.random() * up.length)];
      if (h !== undefined) {
        await killRequesterHost(h);
        chaosEvents.push({ atMs: since(), what: `requester host ${h.index} SIGKILL` });
        log(`chaos: requester host ${h.index} SIGKILLed`);
        await new Promise((r) => setTimeout(r, 500));
        // Started again until it comes up, as a supervisor would (3 tries): a host whose
        // requesters' town does not answer in time exits, and is started once more.
        for (let attempt = 1;; attempt++) {
          try {
            await h.start();
            break;
          } catch (err) {
            log(`chaos: requester host ${h.index} start failed: ${(err as Error).message}`);
            if (attempt >= 3) {
              chaosEvents.push({ atMs: since(), what: `requester host ${h.index} not restarted` });
              return;
            }
          }
        }
        chaosEvents.push({ atMs: since(), what: `requester host ${h.index} restarted` });
        log(`chaos: requester host ${h.index} restarted`);
        // Jobs that ended just before the kill, their `ended` line never sent: their records.
        // (Every other job of the host is resumed by its requester, which says when it ends.)
        const open = jobs.filter((j) => j.host === h.index && j.id !== undefined && !j.status)
          .map((j) => ({ pair: j.pair, id: j.id! }));
        for (const [id, r] of await h.report(open)) {
          // No record: the old process died between the id and the record; nobody resumes it.
          if (r.status === "absent") {
            endJob(
              jobById.get(id)!,
              "error",
              "not created: requester host killed before its record",
            );
          } else if (TERMINAL_JOB_STATUSES.includes(r.status as JobStatus)) {
            const job = r as ReportedJob;
            const why = job.status === "done" ? undefined : `${job.status}: ${job.error ?? ""}`;
            endJob(jobById.get(id)!, job.status, why, job);
          }
        }
      }
    }
    if (perHost > 0) {
      // One provider host of another town is SIGKILLed (every provider in it) and started again.
      const victims = hosts.filter((h) => h.pairs[0].providerTown.index !== town.index && h.child);
      if (victims.length === 0) return;
      const h = victims[Math.floor(Math.random() * victims.length)];
      await killHost(h);
      chaosEvents.push({ atMs: since(), what: `provider host ${h.index} SIGKILL` });
      log(`chaos: provider host ${h.index} (${h.pairs.length} providers) SIGKILLed`);
      await new Promise((r) => setTimeout(r, 500));
      await startHost(h);
      chaosEvents.push({ atMs: since(), what: `provider host ${h.index} restarted` });
      log(`chaos: provider host ${h.index} restarted`);
      return;
    }
    // One provider of another town crashes: stopped without flushing more than it wrote.
    const victims = pairs.filter((p) => p.providerTown.index !== town.index && p.provider);
    if (victims.length > 0) {
      const v = victims[Math.floor(Math.random() * victims.length)];
      const prov = v.provider!;
      v.provider = undefined;
      await prov.stop().catch(() => {});
      chaosEvents.push({ atMs: since(), what: `provider ${v.index} stopped` });
      await new Promise((r) => setTimeout(r, 500));
      v.provider = await startProvider(v);
      chaosEvents.push({ atMs: since(), what: `provider ${v.index} restarted` });
      log(`chaos: provider ${v.index} stopped and restarted`);
    }
  };

  // Bytes the town's store uses (pages in use, WAL included: a read connection sees it), not
  // the file sizes (the WAL and free pages would count).
  const dbBytes = (t: Town): Promise<number> => {
    try {
      const db = new DatabaseSync(t.databasePath, { readOnly: true });
      try {
        const one = (q: string) => Number(Object.values(db.prepare(q).get() ?? {})[0] ?? 0);
        return Promise.resolve(
          (one("PRAGMA page_count") - one("PRAGMA freelist_count")) * one("PRAGMA page_size"),
        );
      } finally {
        db.close();
      }
    } catch {
      return Promise.resolve(0);
    }
  };
  const store0 = await Promise.all(townList.map(async (t) => ({
    bytes: await dbBytes(t),
    events: t.metricsStart["turnpike_town_events_stored"] ?? 0,
  })));
  const cpuRun0 = await agentsStat();
  const requesterCpu0 = await requesterHostsCpuMs();
  const townCpu0 = await Promise.all(townList.map((t) => townStat(t)));
  const pgCpu0 = pg ? pgCpuBeforeMs + await pgStat(pg) : 0;
  const machine0 = await machineBusyMs();
  const runStart = performance.now();
  const runStartAt = since();
  const intervalMs = 1000 / rate;
  let next = runStart;
  let nextChaos = runStart + chaosEvery * 1000;
  let chaosTask: Promise<void> | undefined;
  const samples: Sample[] = [];
  // The in-process bound each second (it moves when `--max-in-flight auto`).
  const boundPerS: number[] = [];
  // Each requester host's bound each second, as the host says it (bench/scale_host_bounds.ts).
  const hostBounds = new HostBoundRecorder(requesterHosts.length);
  let lastSampleAtMs = since();
  const sample = async () => {
    const s = await agentsStat();
    const towns = await Promise.all(
      townList.map((t) => townStat(t).catch(() => undefined)),
    );
    // Latency of the jobs that ended since the last sample (median), for the plot.
    const at = since();
    const done = jobs.filter((j) => j.endedMs !== undefined && j.status === "done");
    const recent = done.filter((j) => j.endedMs! > lastSampleAtMs)
      .map((j) => j.endedMs! - j.offeredMs).sort((a, b) => a - b);
    lastSampleAtMs = at;
    if (inProcessSlots) boundPerS.push(inProcessSlots.max);
    if (maxInFlight) hostBounds.sample(requesterHosts.map((h) => h.up ? h.bound : undefined));
    samples.push({
      atMs: at,
      done: done.length,
      rss: s.rss,
      townRss: towns.reduce((a, t) => a + (t?.rss ?? 0), 0),
      latencyMs: recent.length > 0 ? pct(recent, 0.5) : undefined,
    });
  };
  let lastSample = runStart;
  while (performance.now() - runStart < seconds * 1000) {
    const now = performance.now();
    while (next <= now) {
      // A requester whose host is down (killed, restarting) takes no offers meanwhile.
      const open = requesterHosts.length > 0
        ? pairs.filter((p) => requesterHostOf.get(p.index)!.up)
        : pairs;
      if (open.length > 0) offer(open[Math.floor(Math.random() * open.length)]);
      next += intervalMs;
    }
    if (chaos && chaosTask === undefined && now >= nextChaos) {
      // A chaos round that fails (a process that would not come back) is logged and recorded;
      // the run goes on and the report says what that cost.
      chaosTask = doChaos().catch((err) => {
        chaosEvents.push({ atMs: since(), what: `chaos round failed: ${(err as Error).message}` });
        log(`chaos round failed: ${(err as Error).message}`);
      }).finally(() => {
        chaosTask = undefined;
        nextChaos = performance.now() + chaosEvery * 1000;
      });
    }
    if (now - lastSample >= 1000) {
      lastSample = now;
      await sample();
    }
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(50, next - performance.now()))));
  }
  await chaosTask;
  log(`offered ${jobs.length} jobs; waiting for them to end`);
  const drainDeadline = jobTimeoutMs + 30_000;
  const drainSampler = setInterval(() => void sample(), 1000);
  const drained = await Promise.race([
    Promise.all(waits).then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), drainDeadline)),
  ]);
  clearInterval(drainSampler);
  log(drained ? "every offered job ended" : "gave up waiting for the offered jobs");
  const runMs = performance.now() - runStart;
  const claims1 = scaleChain ? await claimsOf() : [];
  const cpuRun1 = await agentsStat();
  const pgRunMs = pg ? pgCpuBeforeMs + await pgStat(pg) - pgCpu0 : 0;
  const machineRunMs = await machineBusyMs() - machine0;
  const requesterCpuMs = (await requesterHostsCpuMs()) - requesterCpu0;
  const townStats = await Promise.all(townList.map(async (t, i) => {
    const s = await townStat(t);
    // A town whose processes all ended on their own (logged above) answers no metrics: zeros.
    const m = await metrics(t.httpPort).catch(() => ({} as Record<string, number>));
    const total = (k: string) => (t.metricsBefore[k] ?? 0) + (m[k] ?? 0) - (t.metricsStart[k] ?? 0);
    const bytes = await dbBytes(t);
    const events = m["turnpike_town_events_stored"] ?? 0;
    return {
      town: i,
      pid: t.proc.pid,
      cpuSeconds: (t.cpuBeforeMs + s.cpuMs - townCpu0[i].cpuMs) / 1000,
      rssMiB: Math.round(Math.max(t.maxRss, s.rss) / 2 ** 20),
      paidWritesPerS: total("turnpike_town_events_published_total") / (runMs / 1000),
      eventsSentPerS: total("turnpike_town_events_sent_total") / (runMs / 1000),
      messagesReceivedPerS: total("turnpike_town_messages_received_total") / (runMs / 1000),
      // Paid writes are one ILP packet each; each job's payment crosses the town as one more.
      eventsStored: events,
      storeBytes: bytes,
      storeBytesPerEvent: events > store0[i].events
        ? Math.round((bytes - store0[i].bytes) / (events - store0[i].events))
        : undefined,
      storeBytesPerDay: Math.round((bytes - store0[i].bytes) / (runMs / 1000) * 86_400),
    };
  }));

  // ---- counting, by both sides' records
  if (perHost > 0) {
    for (const id of (await Deno.readTextFile(runsFile).catch(() => "")).split("\n")) {
      if (id !== "") runs.set(id, (runs.get(id) ?? 0) + 1);
    }
  }
  // With requester hosts, each job as its requester's record (read from its file) says, and
  // payments to providers as each requester's payment log says (a second FULFILL: paid twice).
  const logPaid = new Map<string, number>();
  const refunded = new Set<string>();
  if (requesterHosts.length > 0) {
    for (const h of requesterHosts) {
      if (!h.up) continue;
      const mine = jobs.filter((j) => j.host === h.index && j.id !== undefined)
        .map((j) => ({ pair: j.pair, id: j.id! }));
      for (const [id, r] of await h.report(mine)) {
        const j = jobById.get(id)!;
        j.reported = r.status === "absent" ? undefined : r as ReportedJob;
        if (r.status === "absent") {
          j.status = "error";
          j.reason = "not created: requester host killed before its record";
        } else if (!TERMINAL_JOB_STATUSES.includes(r.status as JobStatus)) {
          j.status = undefined; // still in flight on its requester's record: lost
        } else if (r.status !== j.status) {
          j.status = r.status;
          j.reason = r.status === "done" ? undefined : `${r.status}: ${(r as ReportedJob).error}`;
        }
      }
    }
    for (const p of pairs) {
      const text = await readPaymentLogText(`${root}/r${p.index}`);
      for (const line of text.split("\n")) {
        if (!line.includes('"fulfilled"')) continue;
        const e = JSON.parse(line) as {
          category?: string;
          event?: string;
          jobId?: string;
          direction?: string;
        };
        if (e.category !== "job" || e.event !== "fulfilled" || !e.jobId) continue;
        // A refund of a job's deposit arrives (`in`): money back, not a second payment.
        if (e.direction === "in") refunded.add(e.jobId);
        else logPaid.set(e.jobId, (logPaid.get(e.jobId) ?? 0) + 1);
      }
    }
  }
  const failedReasons: Record<string, number> = {};
  // Each failure charged to the chaos outage it lived through (bench/scale_outages.ts).
  const outages = outagesOf(chaosEvents, since());
  const failedDuring = Object.fromEntries(OUTAGE_KINDS.map((k) => [k, 0])) as Record<
    OutageKind,
    number
  >;
  const providerHostOf = new Map(hosts.flatMap((h) => h.pairs.map((p) => [p.index, h.index])));
  // The failures that lived through no outage, one by one (the first 100): to be read beside
  // the chaos log.
  const failedUnexplained: Record<string, string | number | undefined>[] = [];
  let done = 0, failed = 0, lost = 0, paidTwice = 0, ranTwice = 0;
  // Failed jobs that paid their provider and got no deposit back; of them, the timed-out ones.
  let failedPaid = 0, timedOutPaid = 0;
  // The first 100 of them, each with its pair, times, towns, hosts and outage: to trace them.
  const failedPaidJobs: Record<string, string | number | undefined>[] = [];
  let paidAmount = 0n;
  const latencies: number[] = [];
  const latencyIn: number[] = [];
  const latencyCross: number[] = [];
  for (const j of jobs) {
    if (j.id !== undefined && (runs.get(j.id) ?? 0) > 1) ranTwice++;
    const paidOnes = j.record?.payments.filter((p) => p.status === "paid").map((p) => p.amount) ??
      j.reported?.paid.map(BigInt) ?? [];
    const paid = Math.max(paidOnes.length, logPaid.get(j.id ?? "") ?? 0);
    for (const p of paidOnes) paidAmount += p;
    if (paid > 1) paidTwice++;
    if (j.status === undefined) lost++;
    else if (j.status === "done") {
      done++;
      latencies.push(j.endedMs! - j.offeredMs);
      (pairs[j.pair].cross ? latencyCross : latencyIn).push(j.endedMs! - j.offeredMs);
    } else {
      failed++;
      const paidUnrefunded = paid > 0 && !refunded.has(j.id ?? "");
      if (paidUnrefunded) {
        failedPaid++;
        if (j.status === "timed-out") timedOutPaid++;
      }
      // Ids, ports and times vary per job: folded so the reasons group.
      const reason = (j.reason ?? j.status).replace(/[0-9a-f]{16,}/g, "<id>")
        .replace(/\d{4,}/g, "<n>").replace(/expired at \S+/, "expired").slice(0, 120);
      failedReasons[reason] = (failedReasons[reason] ?? 0) + 1;
      const pair = pairs[j.pair];
      const kind = outageOfJob(
        outages,
        {
          providerHost: providerHostOf.get(j.pair),
          requesterHost: requesterHostOf.get(j.pair)?.index,
          towns: [pair.town.index, pair.providerTown.index],
          postgres: pair.town.storeUrl !== undefined || pair.providerTown.storeUrl !== undefined,
        },
        j.offeredMs,
        j.endedMs ?? since(),
      );
      failedDuring[kind]++;
      // Where and when the job failed: its times, towns, hosts and reason.
      const place = {
        offeredMs: Math.round(j.offeredMs),
        endedMs: j.endedMs === undefined ? undefined : Math.round(j.endedMs),
        town: pair.town.index,
        providerTown: pair.providerTown.index,
        requesterHost: requesterHostOf.get(j.pair)?.index,
        providerHost: providerHostOf.get(j.pair),
        reason: (j.reason ?? j.status).slice(0, 200),
      };
      if (paidUnrefunded && failedPaidJobs.length < 100) {
        failedPaidJobs.push({ id: j.id, pair: j.pair, outage: kind, ...place });
      }
      if (kind === "no outage" && failedUnexplained.length < 100) failedUnexplained.push(place);
    }
  }
  for (const l of [latencies, latencyIn, latencyCross]) l.sort((a, b) => a - b);
  const agentCpuS = (cpuRun1.cpuMs - cpuRun0.cpuMs) / 1000;
  const agentChildS = (cpuRun1.childCpuMs - cpuRun0.childCpuMs) / 1000;
  let channels: Record<string, unknown> | undefined;
  let payouts: Record<string, unknown> | undefined;
  if (scaleChain && opened) {
    // Top-ups: what was mined during the run; then every channel closed and compared.
    const rpc = scaleChain.chain.anvil.rpcUrl;
    // The towns' transactions during the run are their payout channels' opens.
    const townAddresses = new Set(townKeys.map((k) => payeeAddress(k).toLowerCase()));
    const during = await countTransactions(rpc, opened.toBlock, undefined, townAddresses);
    log("closing every channel");
    for (const p of pairs) await p.requester?.close().catch(() => {});
    // Requesters in host processes: stopped (their channel files final) before their closes.
    await Promise.race([
      Promise.allSettled(requesterHosts.map((h) => h.stop())),
      new Promise((r) => setTimeout(r, 60_000)),
    ]);
    const settled = await settleScaleChannels(
      scaleChain,
      pairs.map((p) => ({
        stateDir: `${root}/r${p.index}`,
        secretKey: requesterKeys[p.index],
        btpUrl: urls(p.town).btp.replace("btp+ws://", `btp+ws://req${p.index}:r@`),
        btpToken: "r",
        town: p.town.index,
        townStateDir: `${root}/town${p.town.index}-state`,
        townStoreUrl: p.town.storeUrl,
        townKey: p.town.key,
      })),
      8,
      log,
    );
    const closed = await countTransactions(rpc, during.toBlock);
    log(
      `channels: ${settled.settled}/${settled.channels} settled, chain = books ` +
        `${settled.chainEqualsBooks} in ${settled.closeSeconds.toFixed(1)} s`,
    );
    // The towns pay their providers what is left, the providers close and settle their payout
    // channels (bench/scale_payouts.ts); the providers are still up (their BTP links).
    log("paying out and closing every payout channel");
    const paidOut = await settleScalePayouts(
      scaleChain,
      pairs.map((p) => ({
        account: `prov${p.index}`,
        stateDir: `${root}/p${p.index}`,
        secretKey: providerKeys[p.index],
        town: p.providerTown.index,
      })),
      townList.map((t) => ({
        town: t.index,
        stateDirs: Array.from(
          { length: t.twin ? 2 : 1 },
          (_, slot) => townProcessStateDir(root, t.index, slot),
        ),
        // One process after the other: the town's processes share its key (its nonces).
        // Each process asked even when one before it cannot answer (ended on its own).
        payAll: async () => {
          const out = [];
          for (const [slot, p] of [t.proc, ...(t.twin ? [t.twin] : [])].entries()) {
            out.push(
              await p.payAll().catch((err) => ({
                paid: 0,
                errors: [`process ${slot}: ${(err as Error).message}`],
              })),
            );
          }
          return out;
        },
      })),
      { concurrency: 8, progress: log, settleAfterMs: arg("payout-settle-after", 0) * 1000 },
    );
    const payoutEnd = await countTransactions(rpc, closed.toBlock);
    log(
      `payouts: ${paidOut.channelsOpened} channels, ${paidOut.claimsSent} claims, ` +
        `${paidOut.settled} settled (by the harness ${paidOut.settles.byHarness}, the ` +
        `provider's node ${paidOut.settles.byProvider}, the town ${paidOut.settles.byTown}, ` +
        `another ${paidOut.settles.byOther}; the harness's own refused ` +
        `${paidOut.settles.harnessRefused}), ${paidOut.settles.unexplained.length} unexplained, ` +
        `${paidOut.leftOnChain.length} left on chain, ${paidOut.failures.length} close ` +
        `failures, chain = books ${paidOut.payoutChainEqualsBooks}${
          paidOut.payoutChainEqualsBooksWhy === "" ? "" : ` (${paidOut.payoutChainEqualsBooksWhy})`
        } (except ` +
        `${paidOut.lateFulfills.count} late fulfills of ${paidOut.lateFulfills.amount} units, ` +
        `receiver's risk) in ` +
        `${paidOut.seconds.toFixed(1)} s`,
    );
    const agentHours = agents * runMs / 3_600_000;
    const totalSent = settled.towns.reduce((a, t) => a + BigInt(t.sent), 0n);
    const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    // The payout side's transactions: the towns' opens (during the run and at the end) and the
    // providers' closes and settles.
    const payoutOpens = sum(during.bySenders) + (payoutEnd.counts["approve"] ?? 0) +
      (payoutEnd.counts["openChannel"] ?? 0) + (payoutEnd.counts["setTotalDeposit"] ?? 0);
    const payoutCloses = (payoutEnd.counts["closeChannel"] ?? 0) +
      (payoutEnd.counts["settleChannel"] ?? 0);
    payouts = {
      depositBaseUnits: String(payoutDeposit),
      thresholdBaseUnits: String(payoutThreshold),
      ...paidOut,
      transactions: { run: during.bySenders, end: payoutEnd.counts },
      txPerAgentHour: { opens: payoutOpens / agentHours, closes: payoutCloses / agentHours },
      claimsPerJob: done > 0 ? paidOut.claimsSent / done : undefined,
    };
    channels = {
      depositBaseUnits: String(channelDeposit),
      transactions: {
        opens: opened.counts,
        run: Object.fromEntries(
          Object.entries(during.counts).map(([k, v]) => [k, v - (during.bySenders[k] ?? 0)]),
        ),
        closes: closed.counts,
      },
      opensPerS: (opened.counts["openChannel"] ?? 0) / agentsStartS,
      // Per agent-hour of the run: opens are once per channel (amortised over a longer life),
      // top-ups grow with the jobs, closes once per channel.
      txPerAgentHour: {
        opens: sum(opened.counts) / agentHours,
        topUps: (sum(during.counts) - sum(during.bySenders)) / agentHours,
        closes: sum(closed.counts) / agentHours,
      },
      claimsPerSPerTown: townList.map((t) =>
        pairs.reduce((a, p, k) => a + (p.town === t ? claims1[k] - claims0[k] : 0), 0) /
        (runMs / 1000)
      ),
      claimsPerJob: done > 0
        ? claims1.reduce((a, c, k) => a + c - claims0[k], 0) / done
        : undefined,
      ...settled,
      closesPerS: settled.settled / settled.closeSeconds,
      // What a job took from a channel (the provider's price and the writes), and how many
      // jobs a deposit pays for at that.
      sentPerJob: done > 0 ? Number(totalSent / BigInt(done)) : undefined,
      depositLastsJobs: done > 0 && totalSent > 0n
        ? Number(channelDeposit * BigInt(done) / totalSent)
        : undefined,
    };
  }
  Object.assign(report, {
    load: {
      agents,
      pairs: pairsN,
      towns,
      seconds,
      rate,
      chaos,
      maxInFlight,
      ...(inProcessSlots ? { jobBoundPerS: boundPerS } : {}),
      ...(maxInFlight && requesterHosts.length > 0
        ? { requesterHostBounds: hostBounds.series() }
        : {}),
      auditWindowMs,
      addressedOnly,
      connector: useConnector,
      providerHosts: hosts.length,
      crossPairs: pairs.filter((p) => p.cross).length,
      postgresTown: usePostgres,
      postgresTownProcesses: usePostgres ? pgProcesses : 0,
      channels: useChannels,
      drained,
      machine: `${navigator.hardwareConcurrency} cores, shared`,
    },
    jobs: {
      offered: jobs.length,
      done,
      failed,
      lost,
      paidTwice,
      ranTwice,
      // Failed jobs whose deposit the provider paid back (its own failure).
      refunded: refunded.size,
      failedPaid,
      timedOutPaid,
      failedPaidJobs,
      failedReasons,
      failedDuring,
      failedUnexplained,
    },
    jobsPerS: done / (runMs / 1000),
    // The rate sustained while offers ran (the drain after them apart), and its least minute.
    offerWindow: offerWindowThroughput(samples, runStartAt, seconds),
    // What requesters paid providers per job done (base units; the town's write fees apart).
    paidPerJob: done > 0 ? Number(paidAmount / BigInt(done)) : undefined,
    latencyMs: {
      p50: pct(latencies, 0.5),
      p99: pct(latencies, 0.99),
      inTown: { jobs: latencyIn.length, p50: pct(latencyIn, 0.5), p99: pct(latencyIn, 0.99) },
      crossTown: {
        jobs: latencyCross.length,
        p50: pct(latencyCross, 0.5),
        p99: pct(latencyCross, 0.99),
      },
    },
    agents: {
      process: `requesters in ${
        requesterHosts.length > 0 ? `${requesterHosts.length} host processes` : "this process"
      }, providers in ${
        hosts.length > 0 ? `${hosts.length} host processes` : "this process"
      }, feeds inline`,
      requesterHosts: requesterHosts.length,
      // The requester hosts' own CPU per job done (their requesters' cost; docs/SCALE.md).
      requesterCpuMsPerJob: requesterHosts.length > 0 && done > 0
        ? Math.round(requesterCpuMs / done)
        : undefined,
      rssMiBIdle: Math.round(idle.rss / 2 ** 20),
      rssMiBPerAgentIdle: +(idle.rss / 2 ** 20 / agents).toFixed(2),
      rssMiBEnd: Math.round(cpuRun1.rss / 2 ** 20),
      startCpuSeconds: (idle.cpuMs - cpuAgents0.cpuMs) / 1000,
      runCpuSeconds: agentCpuS,
      cpuMsPerJob: done > 0 ? Math.round(agentCpuS * 1000 / done) : undefined,
      idleCpuMsPerAgentHour: Math.round(idleCpuMsPerS / agents * 3600),
      // The run's CPU (own and children's) less what the agents spend idle, per job done.
      marginalCpuMsPerJob: done > 0
        ? Math.round(((agentCpuS + agentChildS) * 1000 - idleCpuMsPerS * runMs / 1000) / done)
        : undefined,
      childCpuSeconds: agentChildS,
      childCpuMsPerJob: done > 0 ? Math.round(agentChildS * 1000 / done) : undefined,
      cpuMsPerAgentHour: Math.round(agentCpuS * 1000 / agents * 3600 / (runMs / 1000)),
    },
    towns: townStats,
    // Everything on the machine (anvil, the connector, PostgreSQL, the harness included), during
    // the run: the cores it kept busy, and per job done.
    machineBusyCores: +(machineRunMs / runMs).toFixed(2),
    machineCpuMsPerJob: done > 0 ? Math.round(machineRunMs / done) : undefined,
    // The PostgreSQL server of the town on it (its backends included), during the run.
    ...(pg ? { postgresCpuMsPerJob: done > 0 ? Math.round(pgRunMs / done) : undefined } : {}),
    townCpuMsPerJob: done > 0
      ? Math.round(townStats.reduce((a, t) => a + t.cpuSeconds, 0) * 1000 / done)
      : undefined,
    // ILP packets through the towns: a paid write is one, a job's payment one more.
    ilpPacketsPerS: townStats.reduce((a, t) => a + t.paidWritesPerS, 0) + done / (runMs / 1000),
    ilpPacketsPerAgentPerS: (townStats.reduce((a, t) => a + t.paidWritesPerS, 0) +
      done / (runMs / 1000)) / agents,
    relayMessagesPerAgentPerS: townStats.reduce(
      (a, t) => a + t.eventsSentPerS + t.messagesReceivedPerS,
      0,
    ) / agents,
    // The town on PostgreSQL with one of its processes SIGKILLed: NIP-11 asks answered.
    ...(twinProbes.length > 0
      ? {
        postgresTownWhileOneDown: {
          kills: twinProbes.length,
          tries: twinProbes.reduce((a, p) => a + p.tries, 0),
          answered: twinProbes.reduce((a, p) => a + p.answered, 0),
        },
      }
      : {}),
    ...(channels ? { chainEqualsBooks: channels.chainEqualsBooks, channels } : {}),
    ...(payouts ? { payoutChainEqualsBooks: payouts.payoutChainEqualsBooks, payouts } : {}),
    chaosEvents,
    samples,
  });
  await writeReport(report);
} finally {
  // Bounded: the report is out already, and a teardown stuck on one agent must not hang the run.
  const teardown = (async () => {
    for (const stop of stopAll.reverse()) await stop().catch(() => {});
  })();
  const bounded = await Promise.race([
    teardown.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 60_000)),
  ]);
  log(bounded ? "stopped" : "teardown still going after 60 s: exiting");
  for (const t of townList) await t.proc.kill().catch(() => {});
  await connector?.stop().catch(() => {});
  await pg?.close().catch(() => {});
  if (Deno.env.get("SCALE_KEEP_ROOT")) log(`kept ${root}`);
  else await Deno.remove(root, { recursive: true }).catch(() => {});
}

/** `jobs.failedDuring` as one table cell: the outages that failed any job, with their counts. */
function outageCounts(failedDuring: Record<string, number>): string {
  const hit = Object.entries(failedDuring).filter(([, n]) => n > 0);
  return hit.map(([kind, n]) => `${kind} ${n}`).join("; ") || "-";
}

function markdown(r: Record<string, unknown>): string {
  // deno-lint-ignore no-explicit-any
  const x = r as any;
  const rows = [
    ["agents / pairs / towns", `${x.load.agents} / ${x.load.pairs} / ${x.load.towns}`],
    ["seconds, rate (jobs/s), chaos", `${x.load.seconds}, ${x.load.rate}, ${x.load.chaos}`],
    [
      "connector, cross-town pairs, PostgreSQL town, provider host processes",
      `${x.load.connector}, ${x.load.crossPairs}, ${x.load.postgresTown}, ${x.load.providerHosts}`,
    ],
    [
      "requester host processes; their own CPU ms per job",
      `${x.agents.requesterHosts}; ${x.agents.requesterCpuMsPerJob ?? "-"}`,
    ],
    [
      "requester hosts' job bounds: first, least, most, last",
      hostBoundsCell(x.load.requesterHostBounds ?? []),
    ],
    ["jobs offered / done / failed", `${x.jobs.offered} / ${x.jobs.done} / ${x.jobs.failed}`],
    ["lost / paid twice / ran twice", `${x.jobs.lost} / ${x.jobs.paidTwice} / ${x.jobs.ranTwice}`],
    [
      "failed after paying the provider (no deposit back); of them timed out",
      `${x.jobs.failedPaid ?? "-"}; ${x.jobs.timedOutPaid ?? "-"}`,
    ],
    ["failed jobs by the outage they lived through", outageCounts(x.jobs.failedDuring)],
    ["jobs/s done (the drain after the offers included)", x.jobsPerS.toFixed(2)],
    [
      "jobs/s done while offered: over the offers' window; its second half; least minute",
      `${x.offerWindow.perS.toFixed(2)}; ${x.offerWindow.secondHalfPerS.toFixed(2)}; ` +
      x.offerWindow.minMinutePerS.toFixed(2),
    ],
    ["paid per job, requester to provider (base units)", String(x.paidPerJob)],
    ["latency p50 / p99 (ms)", `${x.latencyMs.p50} / ${x.latencyMs.p99}`],
    [
      "in-town jobs: p50 / p99 (ms); cross-town jobs: p50 / p99",
      `${x.latencyMs.inTown.jobs}: ${x.latencyMs.inTown.p50} / ${x.latencyMs.inTown.p99}; ` +
      `${x.latencyMs.crossTown.jobs}: ${x.latencyMs.crossTown.p50} / ${x.latencyMs.crossTown.p99}`,
    ],
    [
      "agents' CPU ms per job (own; children: git, sandboxes)",
      `${x.agents.cpuMsPerJob}; ${x.agents.childCpuMsPerJob}`,
    ],
    ["agents' CPU ms per job less their idle CPU", String(x.agents.marginalCpuMsPerJob)],
    ["towns' CPU ms per job (all town processes)", String(x.townCpuMsPerJob)],
    [
      "the whole machine during the run: cores busy; CPU ms per job",
      `${x.machineBusyCores}; ${x.machineCpuMsPerJob}`,
    ],
    ...(x.postgresCpuMsPerJob === undefined ? [] : [[
      "PostgreSQL's CPU ms per job (the store of the town on it)",
      String(x.postgresCpuMsPerJob),
    ]]),
    [
      "ILP packets/s (per agent); relay messages/s per agent",
      `${x.ilpPacketsPerS.toFixed(1)} (${x.ilpPacketsPerAgentPerS.toFixed(4)}); ${
        x.relayMessagesPerAgentPerS.toFixed(3)
      }`,
    ],
    ["agents' idle CPU ms per agent-hour", String(x.agents.idleCpuMsPerAgentHour)],
    ["agents' RSS idle (MiB; per agent)", `${x.agents.rssMiBIdle}; ${x.agents.rssMiBPerAgentIdle}`],
    ...x.towns.map((t: Record<string, number>) => [
      `town ${t.town}: CPU s, RSS MiB, paid writes/s, events sent/s, store bytes/event, /day`,
      `${t.cpuSeconds.toFixed(1)}, ${t.rssMiB}, ${t.paidWritesPerS.toFixed(1)}, ${
        t.eventsSentPerS.toFixed(1)
      }, ${t.storeBytesPerEvent}, ${(t.storeBytesPerDay / 2 ** 20).toFixed(0)} MiB`,
    ]),
    ...(x.postgresTownWhileOneDown
      ? [[
        "town 0 on PostgreSQL: processes; NIP-11 answered while one was SIGKILLed",
        `${x.load.postgresTownProcesses}; ${x.postgresTownWhileOneDown.answered}/${x.postgresTownWhileOneDown.tries} in ${x.postgresTownWhileOneDown.kills} kills`,
      ]]
      : []),
    ...(x.channels ? channelRows(x.channels) : []),
    ...(x.payouts ? payoutRows(x.payouts) : []),
    ["chaos events", String(x.chaosEvents.length)],
  ];
  return ["| figure | value |", "|---|---|", ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join(
    "\n",
  ) + "\n";
}

// deno-lint-ignore no-explicit-any
function channelRows(c: any): string[][] {
  const n = (v: number | undefined) => v === undefined ? "-" : v.toFixed(1);
  return [
    ["chain = books (every channel closed and settled)", String(c.chainEqualsBooks)],
    [
      "channels differing; of them unanswered claims (base units); payment log = claims",
      `${c.differing}; ${c.unansweredClaims.channels} (${c.unansweredClaims.amount}); ${c.paymentLogEqualsClaims} of ${c.settled}`,
    ],
    [
      "claimed beyond the payment log; of it not paid at a co-signed close (channels, base units)",
      `${c.claimedBeyondPaymentLog.channels} (${c.claimedBeyondPaymentLog.amount}); ` +
      `${c.unclaimedAtClose?.channels ?? 0} (${c.unclaimedAtClose?.amount ?? 0})`,
    ],
    [
      "channels settled / opened; deposit (M2M)",
      `${c.settled} / ${c.channels}; ${Number(c.depositBaseUnits) / 1e6}`,
    ],
    [
      "claims/s per town; claims per job",
      `${c.claimsPerSPerTown.map(n).join(", ")}; ${n(c.claimsPerJob)}`,
    ],
    [
      "on-chain tx per agent-hour: opens / top-ups / closes",
      `${n(c.txPerAgentHour.opens)} / ${n(c.txPerAgentHour.topUps)} / ${
        n(c.txPerAgentHour.closes)
      }`,
    ],
    [
      "channel opens/s (over the agents' whole start); closes/s",
      `${n(c.opensPerS)}; ${n(c.closesPerS)}`,
    ],
    [
      "sent per job on the channel (base units); jobs a deposit pays for",
      `${c.sentPerJob}; ${c.depositLastsJobs}`,
    ],
  ];
}

// deno-lint-ignore no-explicit-any
function payoutRows(p: any): string[][] {
  const n = (v: number | undefined) => v === undefined ? "-" : v.toFixed(1);
  return [
    [
      "payouts: chain = books (each provider's payout = towns' books = its payment log)",
      `${p.payoutChainEqualsBooks}; ${p.differences.length} providers differ; ${
        p.settles?.unexplained?.length ?? "-"
      } settles unexplained`,
    ],
    [
      "payout settles by whom, from the chain's logs: the harness / the provider's node / the town / another; the harness's own refused",
      p.settles === undefined
        ? "-"
        : `${p.settles.byHarness} / ${p.settles.byProvider} / ${p.settles.byTown} / ${p.settles.byOther}; ${p.settles.harnessRefused}`,
    ],
    [
      "payouts: late FULFILLs (the provider fulfilled after its town gave the packet up: the receiver's risk, apart from chain = books)",
      p.lateFulfills === undefined
        ? "-"
        : `${p.lateFulfills.count} of ${p.lateFulfills.amount} base units on ${p.lateFulfills.providers} providers`,
    ],
    [
      "payout channels opened / settled (of them without a claim kept; settled by another first; left on chain); deposit, threshold (M2M)",
      `${p.channelsOpened} / ${p.settled} (${p.channelsWithoutClaim.length}; ${
        p.settledByNode?.length ?? "-"
      }; ${p.leftOnChain?.length ?? "-"}); ${Number(p.depositBaseUnits) / 1e6}, ${
        Number(p.thresholdBaseUnits) / 1e6
      }`,
    ],
    [
      "payout claims sent (of them at the end); per job done",
      `${p.claimsSent} (${p.claimsAtEnd}); ${n(p.claimsPerJob)}`,
    ],
    [
      "payouts: owed by the towns' books / paid on chain / earned by the providers' logs",
      `${p.owed} / ${p.payout} / ${p.earnedByLog}`,
    ],
    [
      "payouts: payments in doubt on the towns' books after a crash: proven (units) / left (units)",
      p.inDoubt === undefined
        ? "-"
        : `${p.inDoubt.proven} (${p.inDoubt.provenAmount}) / ${p.inDoubt.left} (${p.inDoubt.leftAmount})`,
    ],
    [
      "payout side on-chain tx per agent-hour: opens / closes",
      `${n(p.txPerAgentHour.opens)} / ${n(p.txPerAgentHour.closes)}`,
    ],
    ...p.towns.map((t: Record<string, unknown>) => [
      `town ${t.town} payouts: processes, providers, channels, claims; chain = books`,
      `${t.processes}, ${t.providers}, ${t.channelsOpened}, ${t.claimsSent}; ${t.payoutChainEqualsBooks}`,
    ]),
  ];
}

/** Writes the report (JSON and Markdown) and prints it: before the teardown, which may hang. */
async function writeReport(r: Record<string, unknown>): Promise<void> {
  const json = JSON.stringify(r, null, 2);
  if (reportPath) {
    await Deno.writeTextFile(reportPath, json + "\n");
    await Deno.writeTextFile(`${reportPath}.md`, markdown(r));
    // deno-lint-ignore no-explicit-any
    const x = r as any;
    await Deno.writeTextFile(
      `${reportPath}.svg`,
      renderScalePlot({
        samples: x.samples,
        events: x.chaosEvents,
        title: `${x.load.agents} agents, ${x.load.towns} towns, ${x.load.rate} jobs/s offered, ` +
          `${x.load.seconds} s${x.load.chaos ? ", chaos" : ""}: ${x.jobs.done} done, ` +
          `${x.jobs.lost} lost`,
      }),
    );
  }
  console.log(json);
  console.error(markdown(r));
}

// Whatever the stopped agents still hold open (a reconnect timer of a link to a town that was
// killed and came back) must not keep the harness up for its full backoff.
Deno.exit(0);
