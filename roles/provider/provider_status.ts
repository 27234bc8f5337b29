/**
 * The status file a running provider maintains, `<state dir>/provider-status.json` (written
 * atomically within a second of every state change of note and refreshed every
 * {@linkcode PROVIDER_STATUS_TOUCH_MS} otherwise), read by `turnpike node status`. It says what the node is doing; the job records stay the truth.
 *
 * @module
 */
export { isProcessAlive } from "../../state/process_lock.ts";
import { RoleError } from "../role_error.ts";
import { formatRecordedAmount } from "../../protocol/asset_amount.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import type { AlertKind, NodeAlert } from "../node_alerts.ts";
import { readCappedTextFile } from "../../state/capped_file.ts";
import type { ProviderCounters } from "./provider_counters.ts";
import type { ProviderAnnouncer } from "./announcer.ts";

/** File name of the status file in the state dir. */
export const PROVIDER_STATUS_FILE = "provider-status.json";
/**
 * How often a running provider refreshes its status file when nothing changed (ms): its
 * liveness touch. A monitor reading the file's age (`updatedAt`) should allow three of these
 * (30 s) before it calls a provider silent; whether it runs at all is its pid
 * ({@linkcode isProcessAlive}), which `turnpike node status` checks.
 */
export const PROVIDER_STATUS_TOUCH_MS = 10_000;
/** Largest status file read. */
export const MAX_PROVIDER_STATUS_BYTES = 256 * 1024;

/** What the status file holds. */
export interface ProviderStatus {
  pid: number;
  state: "starting" | "serving" | "stopped";
  startedAt: string;
  updatedAt: string;
  pubkey: string;
  ilpAddress: string;
  relayUrl: string;
  btpUrl: string;
  /** Prices and counters are in base units of this asset (the town's, from IL-DCP). */
  assetCode?: string;
  /** Decimal places of `assetCode`: 45800 at scale 6 is 0.0458. */
  assetScale?: number;
  skills: { name: string; kinds: number[]; price: string }[];
  /** Folders of the skills dir that are not usable skills, with why (a bad SKILL.md...). */
  skillProblems?: Record<string, string>;
  inFlight: number;
  running: number;
  openInvoices: number;
  counters: {
    admitted: number;
    paid: number;
    published: number;
    errors: number;
    cancelled: number;
    earned: string;
    spentOnWrites: string;
    dropped: Record<string, number>;
  };
  lastAnnounceAt?: string;
  lastHeartbeatAt?: string;
  /**
   * What the periodic writes (heartbeat, announcements) cost per day at their last price, base
   * units; they are paid writes like any other.
   */
  periodicCostPerDay?: string;
  lastError?: string;
  /** How requests come in: the feed's stages and what each may do (roles/event_feed.ts). */
  feed?: string;
  /** Alerts raised since start: the newest ones and a count per kind (roles/node_alerts.ts). */
  alerts?: { recent: NodeAlert[]; counts: Partial<Record<AlertKind, number>> };
}

/** The status file is missing or unreadable. */
export class ProviderStatusError extends RoleError {
  override name = "ProviderStatusError";
}

/** Options for {@linkcode writeProviderStatus}. */
export interface WriteProviderStatusOptions {
  /**
   * Only the clock moved (the periodic liveness rewrite, nothing else changed): the
   * directory is not fsynced either. Still atomic (a reader sees the old file or the new one);
   * what a power loss could cost is a minute of `updatedAt`. A process hosting hundreds of
   * providers spent most of its idle CPU on these fsyncs (docs/SCALE.md).
   */
  heartbeatOnly?: boolean;
}

/**
 * Writes the status file atomically (a view of the node, not a record: never fsynced itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readProviderStatus, writeProviderStatus } from "./provider_status.ts";
 *
 * const now = new Date().toISOString();
 * const status = {
 *   pid: Deno.pid, state: "serving" as const, startedAt: now, updatedAt: now,
 *   pubkey: "ab".repeat(32), ilpAddress: "g.town.provider", relayUrl: "ws://127.0.0.1:7777",
 *   btpUrl: "ws://127.0.0.1:7768", skills: [], inFlight: 0, running: 0, openInvoices: 0,
 *   counters: { admitted: 0, paid: 0, published: 0, errors: 0, cancelled: 0, earned: "0", spentOnWrites: "0", dropped: {} },
 * };
 * const stateDir = await Deno.makeTempDir();
 * await writeProviderStatus(stateDir, status);
 * assert.equal((await readProviderStatus(stateDir)).state, "serving");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writeProviderStatus(
  stateDir: string,
  status: ProviderStatus,
  options: WriteProviderStatusOptions = {},
): Promise<void> {
  await writeFileAtomic(
    `${stateDir}/${PROVIDER_STATUS_FILE}`,
    JSON.stringify(status, null, 2) + "\n",
    { skipFileSync: true, skipDirSync: options.heartbeatOnly === true },
  );
}

/**
 * The liveness tick when nothing else changed (every {@linkcode PROVIDER_STATUS_TOUCH_MS}): the file's modification time is
 * set to now (one `utime`, no rewrite); {@linkcode readProviderStatus} reports it as
 * `updatedAt`. False when there is no file to touch (the caller writes it whole).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { touchProviderStatus } from "./provider_status.ts";
 *
 * // No file yet: nothing to touch, so the caller writes it whole (writeProviderStatus).
 * const stateDir = await Deno.makeTempDir();
 * assert.equal(await touchProviderStatus(stateDir), false);
 * await Deno.writeTextFile(`${stateDir}/provider-status.json`, "{}");
 * assert.equal(await touchProviderStatus(stateDir), true);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function touchProviderStatus(stateDir: string, now = new Date()): Promise<boolean> {
  try {
    await Deno.utime(`${stateDir}/${PROVIDER_STATUS_FILE}`, now, now);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the status file. Throws {@linkcode ProviderStatusError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProviderStatusError, readProviderStatus } from "./provider_status.ts";
 *
 * // A state dir no provider ran in (a running one's: writeProviderStatus's example).
 * const stateDir = await Deno.makeTempDir();
 * await assert.rejects(readProviderStatus(stateDir), ProviderStatusError);
 * await Deno.remove(stateDir);
 * ```
 */
export async function readProviderStatus(stateDir: string): Promise<ProviderStatus> {
  const path = `${stateDir}/${PROVIDER_STATUS_FILE}`;
  let text: string;
  try {
    text = await readCappedTextFile(path, {
      maxBytes: MAX_PROVIDER_STATUS_BYTES,
      tooLarge: (p, max) => new ProviderStatusError(`${p} is over ${max} bytes`),
    });
  } catch (err) {
    if (err instanceof ProviderStatusError) throw err;
    throw new ProviderStatusError(`no provider status at ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProviderStatusError(`${path} is not JSON`);
  }
  if (
    typeof value !== "object" || value === null || typeof Reflect.get(value, "pid") !== "number"
  ) {
    throw new ProviderStatusError(`${path} is not a provider status`);
  }
  // The liveness ticks between rewrites only touch the file (see touchProviderStatus): the
  // later of its mtime and the `updatedAt` inside is when the provider was last seen.
  const status = value as ProviderStatus;
  const mtime = (await Deno.stat(path).catch(() => undefined))?.mtime;
  if (mtime && mtime.getTime() > Date.parse(status.updatedAt)) {
    status.updatedAt = mtime.toISOString();
  }
  return status;
}

/**
 * An amount of the status file (a price or counter, base units) in the provider's asset with its
 * code, e.g. `0.0458 M2M`; a status file written before the asset was kept says `base units`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusAmountText } from "./provider_status.ts";
 *
 * assert.equal(statusAmountText({ assetCode: "M2M", assetScale: 6 }, "45800"), "0.0458 M2M");
 * assert.equal(statusAmountText({}, "45800"), "45800 base units"); // written before the asset was kept
 * ```
 */
export function statusAmountText(
  status: Pick<ProviderStatus, "assetCode" | "assetScale">,
  amount: string,
): string {
  if (status.assetCode === undefined) return `${amount} base units`;
  return formatRecordedAmount(amount, { asset: status.assetCode, scale: status.assetScale });
}

/** Longest the status file goes without a whole rewrite while only touched. */
const STATUS_REWRITE_MS = 60_000;

/** What the status file says of the node's jobs, taken at each rewrite. */
export interface ProviderStatusSnapshot {
  inFlight: number;
  running: number;
  openInvoices: number;
  counters: ProviderCounters;
  /** What the node's writes to its towns cost so far, base units. */
  spentOnWrites: bigint;
}

/** Options for {@linkcode ProviderStatusKeeper}. */
export interface ProviderStatusKeeperOptions {
  stateDir: string;
  pubkey: string;
  relayUrl: string;
  btpUrl: string;
  /** False until the node's job store is open: nothing is written before. */
  ready: () => boolean;
  /** The node's jobs and counters now. */
  snapshot: () => ProviderStatusSnapshot;
}

/**
 * Keeps a running provider's status file: changes are marked ({@linkcode mark}) and written
 * within a second ({@linkcode tick}, called every second); when nothing changed the file is only
 * touched every `touchMs` and rewritten whole at least every minute (docs/SCALE.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newProviderCounters } from "./provider_counters.ts";
 * import { ProviderStatusKeeper, readProviderStatus } from "./provider_status.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const keeper = new ProviderStatusKeeper({
 *   stateDir,
 *   pubkey: "ab".repeat(32),
 *   relayUrl: "ws://127.0.0.1:7777",
 *   btpUrl: "ws://127.0.0.1:7768",
 *   ready: () => true,
 *   snapshot: () => ({
 *     inFlight: 0,
 *     running: 0,
 *     openInvoices: 0,
 *     counters: newProviderCounters(),
 *     spentOnWrites: 0n,
 *   }),
 * });
 * keeper.status.state = "serving";
 * keeper.mark();
 * await keeper.flush();
 * assert.equal((await readProviderStatus(stateDir)).state, "serving");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class ProviderStatusKeeper {
  /** The status as it is written next (the node sets its fields, then {@linkcode mark}s it). */
  readonly status: ProviderStatus;
  #o: ProviderStatusKeeperOptions;
  #dirty = false;
  /** Something besides the clock changed since the last write (see flush). */
  #changed = true;
  /** When the status file was last written whole (ms). */
  #writtenAt = 0;
  /** When the status file was last written or touched (ms). */
  #seenAt = 0;
  #ticking?: ReturnType<typeof setInterval>;

  constructor(options: ProviderStatusKeeperOptions) {
    this.#o = options;
    this.status = {
      pid: Deno.pid,
      state: "starting",
      startedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      pubkey: options.pubkey,
      ilpAddress: "",
      relayUrl: options.relayUrl,
      btpUrl: options.btpUrl,
      skills: [],
      inFlight: 0,
      running: 0,
      openInvoices: 0,
      counters: {
        admitted: 0,
        paid: 0,
        published: 0,
        errors: 0,
        cancelled: 0,
        earned: "0",
        spentOnWrites: "0",
        dropped: {},
      },
    };
  }

  /**
   * Starts the once-a-second check. Changes are written within a second; when nothing changed
   * the file is still refreshed every `touchMs` (10 s): its `updatedAt` is the provider's
   * heartbeat, "last seen" after a crash and the age a monitor watches (whether it runs is its
   * pid, see isProcessAlive). A tick with nothing to do makes no call: a process hosting
   * hundreds of providers spent a fifth of its main thread on a touch per provider per second
   * (docs/SCALE.md). Only the file: marking the status also wakes parked requests, which a
   * clock tick must not do.
   */
  startTicking(touchMs: number, track: (flush: Promise<void>) => void): void {
    this.#ticking = setInterval(() => {
      const flush = this.#tick(touchMs);
      if (flush !== undefined) track(flush);
    }, 1000);
  }

  /** Stops the once-a-second check. */
  stopTicking(): void {
    clearInterval(this.#ticking);
  }

  /** The announcer's news (skills, last announcement and heartbeat, their cost), marked. */
  announced(
    a: Pick<ProviderAnnouncer, "skills" | "lastAnnounceAt" | "lastHeartbeatAt" | "costPerDay">,
  ): void {
    this.status.skills = a.skills;
    this.status.lastAnnounceAt = a.lastAnnounceAt?.toISOString();
    this.status.lastHeartbeatAt = a.lastHeartbeatAt?.toISOString();
    this.status.periodicCostPerDay = String(a.costPerDay);
    this.mark();
  }

  /** Sets these fields of the status, marked. */
  set(fields: Partial<ProviderStatus>): void {
    Object.assign(this.status, fields);
    this.mark();
  }

  /** Something changed: the file is rewritten at the next tick. */
  mark(): void {
    this.#dirty = true;
    this.#changed = true;
  }

  /**
   * The once-a-second check: a flush when something changed, or when the file was last seen
   * `touchMs` ago (its liveness touch); undefined when there is nothing to do.
   */
  #tick(touchMs: number): Promise<void> | undefined {
    if (!this.#dirty && Date.now() - this.#seenAt < touchMs - 500) return undefined;
    this.#dirty = true;
    return this.flush();
  }

  /** Writes the file when due: whole when something changed, else touched (see the class doc). */
  async flush(): Promise<void> {
    if (!this.#dirty || !this.#o.ready()) return;
    this.#dirty = false;
    const heartbeatOnly = !this.#changed;
    this.#changed = false;
    // Only the clock moved: the file is touched (its mtime is the liveness `node status` reads),
    // and rewritten whole at least every 60 s so the `updatedAt` inside stays near. A process
    // hosting hundreds of providers spent most of its idle CPU on the rewrites (docs/SCALE.md).
    const now = Date.now();
    this.#seenAt = now;
    if (heartbeatOnly && now - this.#writtenAt < STATUS_REWRITE_MS) {
      if (await touchProviderStatus(this.#o.stateDir, new Date(now))) return;
    }
    this.#writtenAt = now;
    const s = this.status;
    const snapshot = this.#o.snapshot();
    const counters = snapshot.counters;
    s.updatedAt = new Date().toISOString();
    s.inFlight = snapshot.inFlight;
    s.running = snapshot.running;
    s.openInvoices = snapshot.openInvoices;
    s.counters = {
      admitted: counters.admitted,
      paid: counters.paid,
      published: counters.published,
      errors: counters.errors,
      cancelled: counters.cancelled,
      earned: String(counters.earned),
      spentOnWrites: String(snapshot.spentOnWrites),
      dropped: { ...counters.dropped },
    };
    await writeProviderStatus(this.#o.stateDir, s, { heartbeatOnly });
  }
}
