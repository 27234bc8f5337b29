/**
 * The heartbeat of a command following a job (docs/AGENTS.md, "Following any job"): while a job
 * it follows is in flight, the profile's node sends the command a `waiting` line every
 * {@linkcode HEARTBEAT_MS}, naming what the job waits for, so that a program tells a job at work
 * from one stuck:
 *
 * - `town`: the request is not stored yet or a payment is on its way, or no town link is open
 *   (the town is stopped or restarting);
 * - `provider`: the request is stored; a provider has to take it or ask for payment;
 * - `result`: the provider is paid or at work; its result is due.
 *
 * `since` is when the job's record last changed: a job whose `since` does not move for long is
 * stuck where `for` says. A job that waits on a provider that has stopped beating (its heartbeat
 * expired, roles/requester/provider_liveness.ts) says so: `provider` and `providerSilentS`, the
 * seconds since its last heartbeat (absent when none was seen), so that a dead provider's job
 * does not read as one at work.
 *
 * @module
 */
import {
  type JobStatus,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../../state/jobs/job_record.ts";
import type { ProviderSilence } from "./provider_liveness.ts";

/** How often a `waiting` line is sent per job followed. */
export const HEARTBEAT_MS = 5_000;

/** What a job in flight waits for. */
export type WaitingFor = "town" | "provider" | "result";

/** A `waiting` line of the NDJSON stream. */
export interface WaitingLine {
  type: "waiting";
  job: string;
  for: WaitingFor;
  /** The job's status on record. */
  status: JobStatus;
  /** ISO time the record last changed. */
  since: string;
  /** ISO time of this line. */
  at: string;
  /** The provider the job waits on, when it has stopped beating. */
  provider?: string;
  /** With `provider`: seconds since its last heartbeat, when one was seen. */
  providerSilentS?: number;
}

/**
 * What a job with `status` waits for, with the town reachable or not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitingFor } from "./job_heartbeat.ts";
 *
 * assert.equal(waitingFor("sent", true), "provider");
 * assert.equal(waitingFor("sent", false), "town");
 * ```
 */
export function waitingFor(status: JobStatus, townReachable: boolean): WaitingFor {
  if (!townReachable || status === "pending-send" || status === "paying") return "town";
  if (status === "sent" || status === "payment-required") return "provider";
  return "result";
}

/**
 * The `waiting` line of a job's record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitingLine } from "./job_heartbeat.ts";
 *
 * const record = { id: "ab".repeat(32), kind: 5600, skill: "none", status: "sent" as const, createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * const line = waitingLine(record, true, new Date(60_000));
 * assert.deepEqual(line, {
 *   type: "waiting",
 *   job: record.id,
 *   for: "provider",
 *   status: "sent",
 *   since: "1970-01-01T00:00:00.001Z",
 *   at: "1970-01-01T00:01:00.000Z",
 * });
 * ```
 */
export function waitingLine(
  record: RequesterJobRecord,
  townReachable: boolean,
  now: Date = new Date(),
): WaitingLine {
  return {
    type: "waiting",
    job: record.id,
    for: waitingFor(record.status, townReachable),
    status: record.status,
    since: new Date(record.updatedAtMs).toISOString(),
    at: now.toISOString(),
  };
}

/** Options for {@linkcode startHeartbeat}. */
export interface HeartbeatOptions {
  /** The jobs followed (a chain's next jobs join it as they are posted). */
  ids: ReadonlySet<string>;
  /** Sends a line to the command. */
  send: (line: WaitingLine) => void;
  /** A job's record (undefined when unknown). */
  read: (id: string) => Promise<RequesterJobRecord | undefined | null>;
  /** Whether a town link is open now. */
  townReachable: () => boolean;
  /** Period. Default {@linkcode HEARTBEAT_MS}. */
  everyMs?: number;
  /** A provider's silence, undefined while it beats (roles/requester/provider_liveness.ts). */
  providerSilence?: (provider: string) => Promise<ProviderSilence | undefined>;
}

/**
 * Sends a `waiting` line per job in flight among `ids` every period until stopped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHeartbeat, type WaitingLine } from "./job_heartbeat.ts";
 *
 * const record = { id: "ab".repeat(32), kind: 5600, skill: "none", status: "sent" as const, createdAtMs: 1, updatedAtMs: 1, payments: [] };
 * const { promise, resolve } = Promise.withResolvers<WaitingLine>();
 * const stop = startHeartbeat({
 *   ids: new Set([record.id]),
 *   send: resolve,
 *   read: () => Promise.resolve(record),
 *   townReachable: () => false,
 *   everyMs: 5,
 * });
 * const line = await promise;
 * stop();
 * assert.equal(line.for, "town");
 * ```
 */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  const ends: readonly JobStatus[] = TERMINAL_JOB_STATUSES;
  const timer = setInterval(async () => {
    for (const id of [...options.ids]) {
      const record = await options.read(id).catch(() => undefined);
      if (!record || ends.includes(record.status)) continue;
      const line = waitingLine(record, options.townReachable());
      const silent = line.for !== "town" && record.provider !== undefined
        ? await options.providerSilence?.(record.provider).catch(() => undefined)
        : undefined;
      options.send(
        silent === undefined
          ? line
          : { ...line, provider: record.provider, ...providerSilentS(silent) },
      );
    }
  }, options.everyMs ?? HEARTBEAT_MS);
  return () => clearInterval(timer);
}

/** The `providerSilentS` field of a silence. */
function providerSilentS(silence: ProviderSilence): { providerSilentS?: number } {
  return silence.silentS === undefined ? {} : { providerSilentS: silence.silentS };
}
