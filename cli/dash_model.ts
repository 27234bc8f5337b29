/**
 * What `turnpike dash` shows of this node, read from its state dir without writing to it (so
 * it can run beside a requester or provider): the requester's job records with their costs and
 * receipts, the payment channels with the low-balance warning, and a running provider's status
 * file. The job records are read from the rows of the job index on a read-only connection
 * (`state/jobs/job_text_reader.ts`), which neither creates nor imports anything.
 *
 * @module
 */
import { formatUnits } from "viem";
import { formatRecordedAmount } from "../protocol/asset_amount.ts";
import {
  JobRecordFormatError,
  type JobStatus,
  MAX_JOB_RECORD_BYTES,
  parseJobRecord,
  type RequesterJobRecord,
} from "../state/jobs/job_record.ts";
import { listChannels } from "../state/channels/channel_file.ts";
import { JobTextReader } from "../state/jobs/job_text_reader.ts";
import type { ProviderJobRecord } from "../state/jobs/provider_job_record.ts";
import { readProviderJobRecords } from "../state/jobs/provider_job_index.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { hasPaymentLog } from "../state/payments/payment_log_files.ts";
import { summarizePayments } from "../state/payments/payment_summary.ts";
import { channelBooks } from "../state/channels/channel_books.ts";
import {
  isProcessAlive,
  PROVIDER_STATUS_FILE,
  type ProviderStatus,
  readProviderStatus,
} from "../roles/provider/provider_status.ts";

/** The dashboard's grouping of job statuses. */
export type JobPhase = "posted" | "waiting" | "running" | "done" | "failed";

/** The phases in display order. */
export const JOB_PHASES: readonly JobPhase[] = ["posted", "waiting", "running", "done", "failed"];

/** One job as the dashboard lists it. */
export interface DashJob {
  record: RequesterJobRecord;
  phase: JobPhase;
  /** What the job cost (provider and town writes), as text; empty when nothing was paid. */
  cost: string;
  /** Invoices paid with a fulfillment (the receipts). */
  receipts: number;
}

/** One payment channel. */
export interface DashChannel {
  id: string;
  status: string;
  remaining: string;
  deposit: string;
  token: string;
  /** Open and below its warning percentage of the deposit. */
  low: boolean;
  warnPercent: number;
}

/** A provider's status file and whether its process still runs. */
export interface DashProvider {
  status: ProviderStatus;
  alive: boolean;
}

/** A job the provider on this state dir has admitted and not finished. */
export type ProviderJob = Pick<
  ProviderJobRecord,
  "id" | "kind" | "skill" | "status" | "price" | "admittedAt"
>;

/** Everything read from the state dir. */
export interface LocalView {
  jobs: DashJob[];
  counts: Record<JobPhase, number>;
  channels: DashChannel[];
  provider?: DashProvider;
  /** The provider's unfinished jobs, oldest first. */
  providerJobs: ProviderJob[];
}

/** Options for {@linkcode readLocalView}. */
export interface LocalViewOptions {
  /** Most job files read, newest first (default 2000). */
  maxJobs?: number;
}

/**
 * The phase of a job status: waiting means on a payment, running on the provider.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobPhase } from "./dash_model.ts";
 *
 * assert.equal(jobPhase("payment-required"), "waiting");
 * ```
 */
export function jobPhase(status: JobStatus): JobPhase {
  switch (status) {
    case "pending-send":
    case "sent":
      return "posted";
    case "payment-required":
    case "paying":
      return "waiting";
    case "processing":
    case "paid":
      return "running";
    case "done":
      return "done";
    default:
      return "failed";
  }
}

/**
 * Reads the state dir's jobs, channels and provider status. Missing parts read as empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLocalView } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * const view = await readLocalView(stateDir);
 * assert.equal(view.counts.done, 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readLocalView(
  stateDir: string,
  options: LocalViewOptions = {},
): Promise<LocalView> {
  const [records, costs, channels, provider, providerJobs] = await Promise.all([
    readJobRecords(stateDir, options.maxJobs ?? 2000),
    readJobCosts(stateDir),
    readChannels(stateDir),
    readProvider(stateDir),
    readProviderJobs(stateDir),
  ]);
  return assembleLocalView({ records, costs, channels, provider, providerJobs });
}

/** The parts a {@linkcode LocalView} is assembled from, each read on its own. */
export interface LocalParts {
  records: RequesterJobRecord[];
  /** Cost text per job id. */
  costs: Map<string, string>;
  channels: DashChannel[];
  provider?: DashProvider;
  providerJobs: ProviderJob[];
}

/**
 * The view from its parts: jobs newest first with their phase, cost and receipts, and counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assembleLocalView, readJobRecords } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const records = readJobRecords(stateDir, 2000);
 * const view = assembleLocalView({ records, costs: new Map(), channels: [], providerJobs: [] });
 * assert(view.jobs.length === 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function assembleLocalView(parts: LocalParts): LocalView {
  const { costs, channels, provider } = parts;
  const providerJobs = [...parts.providerJobs].sort((a, b) =>
    a.admittedAt.localeCompare(b.admittedAt)
  );
  const records = [...parts.records].sort((a, b) => b.createdAtMs - a.createdAtMs);
  const counts = Object.fromEntries(JOB_PHASES.map((p) => [p, 0])) as Record<JobPhase, number>;
  const jobs = records.map((record) => {
    const phase = jobPhase(record.status);
    counts[phase]++;
    return {
      record,
      phase,
      cost: costs.get(record.id) ?? "",
      receipts: record.payments.filter((p) => p.fulfillment !== undefined).length,
    };
  });
  return { jobs, counts, channels, provider, providerJobs };
}

/**
 * The newest `max` job records of a state dir (by creation), parsed; corrupt ones skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJobRecords } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * assert.equal(readJobRecords(stateDir, 2000).length, 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function readJobRecords(stateDir: string, max: number): RequesterJobRecord[] {
  const reader = new JobTextReader(stateDir);
  try {
    return parseJobTexts(reader.newest(max));
  } finally {
    reader.close();
  }
}

/**
 * The records of job texts (rows of the job index), corrupt ones skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJobTexts } from "./dash_model.ts";
 *
 * assert.deepEqual(parseJobTexts(["not toml ["]), []); // `job list` reports corrupt records
 * ```
 */
export function parseJobTexts(texts: readonly string[]): RequesterJobRecord[] {
  return texts.flatMap((text) => {
    try {
      return text.length > MAX_JOB_RECORD_BYTES ? [] : [parseJobRecord(text)];
    } catch (err) {
      if (err instanceof JobRecordFormatError) return [];
      throw err;
    }
  });
}

/**
 * What each job cost (provider invoices and town writes), as text, from the payment log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJobCosts } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * const costs = await readJobCosts(stateDir);
 * assert(costs.size === 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readJobCosts(stateDir: string): Promise<Map<string, string>> {
  const costs = new Map<string, string>();
  if (!(await hasPaymentLog(stateDir))) return costs;
  const log = await openPaymentLog({ stateDir });
  for (const books of summarizePayments(log.entries())) {
    for (const j of books.byJob) {
      if (j.spent.total === 0n) continue;
      costs.set(j.jobId, formatRecordedAmount(j.spent.total, books));
    }
  }
  return costs;
}

/**
 * The payment channels with what remains and the low-balance flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readChannels } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * const low = (await readChannels(stateDir)).filter((c) => c.low);
 * assert(low.length === 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readChannels(stateDir: string): Promise<DashChannel[]> {
  const records = await listChannels(stateDir).catch(() => []);
  return records.map((r) => {
    const books = channelBooks(r);
    return {
      id: r.channelId,
      status: r.status,
      remaining: formatUnits(books.remaining, r.tokenDecimals),
      deposit: formatUnits(books.held, r.tokenDecimals),
      token: r.tokenSymbol,
      low: books.low,
      warnPercent: r.warnPercent,
    };
  });
}

/**
 * A provider's status file and whether its process runs; undefined when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProvider } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * const provider = await readProvider(stateDir);
 * assert(provider === undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readProvider(stateDir: string): Promise<DashProvider | undefined> {
  const exists = await Deno.stat(`${stateDir}/${PROVIDER_STATUS_FILE}`).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  const status = await readProviderStatus(stateDir).catch(() => undefined);
  if (status === undefined) return undefined;
  return { status, alive: status.state !== "stopped" && await isProcessAlive(status.pid) };
}

/**
 * The provider's unfinished jobs (admitted, invoiced, paid, running...), read from its job index
 * without opening its store (which imports and audits, a writer's business).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProviderJobs } from "./dash_model.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a node's state dir; empty: nothing to show
 * const running = (await readProviderJobs(stateDir)).filter((j) => j.status === "running");
 * assert(running.length === 0);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readProviderJobs(stateDir: string): Promise<ProviderJob[]> {
  return (await readProviderJobRecords(stateDir, { unfinished: true })).map((
    { id, kind, skill, status, price, admittedAt },
  ) => ({
    id,
    kind,
    skill,
    status,
    price,
    admittedAt,
  }));
}
