/**
 * A requester host for the scale harness (docs/SCALE.md): one child process holding the
 * requesters the harness hands it, so the requesters' CPU is spread over processes and a
 * requester crash in the chaos schedule is a real SIGKILL of their process. Started by
 * `bench/network_scale_bench_script.ts --requester-hosts`:
 *
 *     deno run -A bench/scale_requester_host.ts HOST.json
 *
 * `HOST.json` is a {@linkcode RequesterHostPlan}. The host talks JSON lines
 * ({@linkcode RequesterHostMessage}): on stdin the harness says `offer` (submit a job to one
 * requester's own provider) and `report`; on stdout the host says `ready`, `created` (the job's
 * id, before its sidecar and record are written), `ended` (the job's final record) and, for a
 * `report` (job ids), each job's record as read from its file, then `reported`. A restarted host
 * resumes its requesters from their state dirs (what a requester does after a crash) and says
 * `ended` for each job it finishes, so the harness counts every job from the requesters' own
 * records. With a bound (`maxInFlight`) the host says `bound` every second: the bound, the jobs
 * it follows and its adaptive limit's last median (bench/scale_host_bounds.ts).
 *
 * @module
 */
import type { ChannelPolicy } from "../config/channel_policy.ts";
import { type JobBound, JobSlots, jobSlotsFor } from "../roles/requester/job_slots.ts";
import { AdaptiveJobLimit } from "../roles/requester/adaptive_job_limit.ts";
import type { HostBound } from "./scale_host_bounds.ts";
import { type Requester, startRequester } from "../roles/requester/requester_node.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";
import type { RequesterJobRecord } from "../state/jobs/job_record.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import { backoffDelay } from "../protocol/backoff.ts";
import { startInLanes } from "./start_lanes.ts";

/** One requester of a host. */
export interface HostedRequester {
  /** The pair's index: its state dir is `${root}/r<index>`. */
  index: number;
  /** Secret key, 64 hex (the same on every start). */
  secretKeyHex: string;
  relayUrl: string;
  btpUrl: string;
  townPubkey: string;
  townAddress?: string;
  /** The pair's provider: every job of this requester names it (`p` tag). */
  providerPubkey: string;
}

/** What a host runs (the JSON file it is given). */
export interface RequesterHostPlan {
  root: string;
  auditWindowMs: number;
  jobTimeoutMs: number;
  /**
   * Jobs this host's requesters follow at once (one bound for all of them; `auto`: one that finds
   * itself, roles/requester/adaptive_job_limit.ts); none: no bound.
   */
  maxInFlight?: JobBound;
  /** With `auto`: the done jobs' median latency the bound aims at, ms (default 2,000). */
  jobTargetMs?: number;
  requesters: HostedRequester[];
  /** With `--channels`: each requester's `[channels]` policy and the chain (bench/scale_channels.ts). */
  channelPolicy?: ChannelPolicy;
  chains?: Record<string, Record<string, string>>;
}

/** A job's record as the host reports it (amounts as decimal strings). */
export interface ReportedJob {
  id: string;
  /** The requester's index. */
  pair: number;
  status: string;
  error?: string;
  /** Amounts of the payments to providers with status `paid`. */
  paid: string[];
}

/** One line between the harness and a host. */
export type RequesterHostMessage =
  | { t: "ready" }
  | { t: "offer"; offer: number; pair: number }
  | { t: "created"; offer: number; id: string }
  | { t: "ended"; job?: ReportedJob; offer?: number; reason?: string }
  | { t: "report"; jobs: { pair: number; id: string }[] }
  | { t: "record"; job: ReportedJob | { id: string; pair: number; status: "absent" } }
  | { t: "reported" }
  | ({ t: "bound" } & HostBound);

/** The job spec of the harness: a no-op `echo` addressed to the pair's provider. */
export function scaleJobSpec(providerPubkey: string, timeoutMs: number): JobSpec {
  return {
    kind: 5601,
    inputs: [{ data: "ping", type: "text" }],
    params: [],
    bid: 1_000_000n,
    providers: [providerPubkey],
    skill: "none",
    timeoutMs,
    encrypt: false,
    then: [],
  };
}

/** What the harness is told by a {@linkcode RequesterHost}. */
export interface RequesterHostEvents {
  /** A job's id, before its sidecar and record are written. */
  onCreated(offer: number, id: string): void;
  /** A job ended (`job`: its record), or an offer was refused before a job was made. */
  onEnded(m: { job?: ReportedJob; offer?: number; reason?: string }): void;
  /** The process ended (killed or exited) after its last line was read. */
  onGone(): void;
}

/**
 * The harness's handle on one requester host process: starts it (bounded wait for `ready`),
 * offers jobs, asks for the records, SIGKILLs it.
 *
 * It runs a requester host as a process over a town network, so it has no example here:
 * tests/e2e/network_scale_test.ts runs two.
 */
export class RequesterHost {
  /** Own CPU ms and children's of its earlier, killed processes. */
  cpuBeforeMs = 0;
  childCpuBeforeMs = 0;
  child?: Deno.ChildProcess;
  /** Ready and not being killed: offers may go to it. */
  up = false;
  /** Its latest `bound` line (undefined: none since it last started). */
  bound?: HostBound;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #records?: { want: number; got: Map<string, ReportedJob | { status: "absent" }>; done(): void };

  constructor(
    readonly index: number,
    readonly planPath: string,
    readonly events: RequesterHostEvents,
    /** A directory for a V8 CPU profile of each process (written when it is stopped). */
    readonly cpuProfDir?: string,
  ) {}

  /** Starts the process; resolves once it says `ready` (at most 900 s). */
  async start(): Promise<void> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(this.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${this.cpuProfDir}`] : []),
        new URL(import.meta.url).pathname,
        this.planPath,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.bound = undefined;
    this.#writer = child.stdin.getWriter();
    let errText = "";
    void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (c) => void (errText = (errText + c).slice(-2000)) }),
    ).catch(() => {});
    const ready = Promise.withResolvers<void>();
    ready.promise.catch(() => {}); // awaited below; a late end after the timeout is not unhandled
    void (async () => {
      let buffered = "";
      try {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            this.#on(JSON.parse(line) as RequesterHostMessage, ready.resolve);
          }
        }
      } catch { /* killed */ }
      ready.reject(new Error(`requester host ${this.index} ended before it was ready: ${errText}`));
      if (this.child === child) this.up = false;
      this.events.onGone();
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        ready.promise,
        new Promise((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`requester host ${this.index} not ready after 900 s`)),
            900_000,
          )
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.up = true;
  }

  #on(m: RequesterHostMessage, ready: () => void): void {
    if (m.t === "ready") ready();
    else if (m.t === "created") this.events.onCreated(m.offer, m.id);
    else if (m.t === "ended") this.events.onEnded(m);
    else if (m.t === "bound") this.bound = { max: m.max, held: m.held, medianMs: m.medianMs };
    else if (m.t === "record" && this.#records) {
      this.#records.got.set(m.job.id, m.job);
      if (this.#records.got.size >= this.#records.want) this.#records.done();
    } else if (m.t === "reported") this.#records?.done();
  }

  #send(m: RequesterHostMessage): Promise<void> {
    return this.#writer!.write(new TextEncoder().encode(JSON.stringify(m) + "\n"));
  }

  /** Asks pair `pair`'s requester to submit a job (offer number `offer`). */
  offer(offer: number, pair: number): Promise<void> {
    return this.#send({ t: "offer", offer, pair });
  }

  /** Each job's record as read from its file by the host (bounded: 300 s). */
  async report(
    jobs: { pair: number; id: string }[],
  ): Promise<Map<string, ReportedJob | { status: "absent" }>> {
    const done = Promise.withResolvers<void>();
    const got = new Map<string, ReportedJob | { status: "absent" }>();
    this.#records = { want: jobs.length, got, done: done.resolve };
    if (jobs.length === 0) return got;
    await this.#send({ t: "report", jobs });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      done.promise,
      new Promise((r) => timer = setTimeout(r, 300_000)),
    ]).finally(() => clearTimeout(timer));
    return got;
  }

  /** SIGKILLs the process (a crash): its requesters' state stays on disk. */
  async kill(): Promise<void> {
    const child = this.child;
    this.up = false;
    if (child === undefined) return;
    try {
      child.kill("SIGKILL");
    } catch { /* gone already */ }
    await child.status;
  }

  /** SIGTERM: the requesters close in order. */
  async stop(): Promise<void> {
    this.up = false;
    try {
      this.child?.kill("SIGTERM");
    } catch { /* gone */ }
    await this.child?.status;
  }
}

function reported(pair: number, r: RequesterJobRecord): ReportedJob {
  return {
    id: r.id,
    pair,
    status: r.status,
    error: r.error,
    paid: r.payments.filter((p) => p.status === "paid").map((p) => String(p.amount)),
  };
}

if (import.meta.main) {
  const plan = JSON.parse(await Deno.readTextFile(Deno.args[0])) as RequesterHostPlan;
  const encoder = new TextEncoder();
  // One write per line (stdout is a pipe: a line is never torn by a SIGKILL between writes).
  const say = (m: RequesterHostMessage) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(m) + "\n"));
  const nodes = new Map<number, Requester>();
  const follow = (pair: number, id: string, offer?: number) => {
    const node = nodes.get(pair)!;
    node.waitFor(id).then(
      (r) => say({ t: "ended", job: reported(pair, r), offer }),
      () => {/* closing */},
    );
  };
  // The limit kept apart with `auto`: its median goes on the `bound` line.
  const limit = plan.maxInFlight === "auto"
    ? new AdaptiveJobLimit({ targetMs: plan.jobTargetMs })
    : undefined;
  const slots = limit ? new JobSlots(limit) : jobSlotsFor(plan.maxInFlight || undefined);
  const start = async (r: HostedRequester) => {
    for (let attempt = 1;; attempt++) {
      try {
        const stateDir = `${plan.root}/r${r.index}`;
        await Deno.mkdir(stateDir, { recursive: true });
        const node = await startRequester({
          stateDir,
          secretKey: hexToBytes(r.secretKeyHex),
          relayUrl: r.relayUrl,
          btpUrl: r.btpUrl,
          btpToken: "r",
          townPubkey: r.townPubkey,
          townAddress: r.townAddress,
          feedMode: "inline",
          auditWindowMs: plan.auditWindowMs,
          channelPolicy: plan.channelPolicy,
          chains: plan.chains,
          jobSlots: slots,
        });
        nodes.set(r.index, node);
        // Jobs of an earlier (killed) process: the requester resumes them; told when they end.
        for (const s of node.repo.listInFlight()) follow(r.index, s.id);
        return;
      } catch (err) {
        // A start refused by a busy or restarting town (not reachable yet, SPSP not answered in
        // time): again, as a supervisor would, with backoff (1 s doubling to 10 s; about 3 min).
        if (attempt >= 20) throw err;
        const wait = backoffDelay(attempt - 1, { initialMs: 1_000, maxMs: 10_000 });
        console.error(`requester ${r.index}: start failed (${(err as Error).message}); again`);
        await new Promise((res) => setTimeout(res, wait));
      }
    }
  };
  // A few at once, in lanes (bench/start_lanes.ts).
  await startInLanes(plan.requesters, 8, start);
  const providerOf = new Map(plan.requesters.map((r) => [r.index, r.providerPubkey]));
  say({ t: "ready" });
  if (slots) {
    setInterval(() => {
      say({ t: "bound", max: slots.max, held: slots.held, medianMs: limit?.lastMedianMs });
    }, 1000);
  }
  Deno.addSignalListener("SIGTERM", async () => {
    await Promise.allSettled([...nodes.values()].map((n) => n.close()));
    Deno.exit(0);
  });
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffered = "";
  for await (const chunk of lines) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const m = JSON.parse(buffered.slice(0, nl)) as RequesterHostMessage;
      buffered = buffered.slice(nl + 1);
      if (m.t === "offer") {
        const node = nodes.get(m.pair)!;
        let id: string | undefined;
        node.submit(scaleJobSpec(providerOf.get(m.pair)!, plan.jobTimeoutMs), {
          onCreated: (created) => {
            id = created;
            say({ t: "created", offer: m.offer, id: created });
          },
        }).then(
          () => follow(m.pair, id!, m.offer),
          (err) => {
            // Created: its record says how it ended. Not created: refused before signing.
            if (id !== undefined) follow(m.pair, id, m.offer);
            else say({ t: "ended", offer: m.offer, reason: `submit: ${(err as Error).message}` });
          },
        );
      } else if (m.t === "report") {
        // Each job's record read from its file (what the requester itself would tell).
        for (const { pair, id } of m.jobs) {
          const r = await nodes.get(pair)?.repo.read(id);
          say({ t: "record", job: r ? reported(pair, r) : { id, pair, status: "absent" } });
        }
        say({ t: "reported" });
      }
    }
  }
}
