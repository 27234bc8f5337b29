/**
 * What each BTP peer without a payment channel has spent on the town's credit
 * (docs/PROTOCOL.md "Credit without a channel"): a packet it sends with no claim is covered by
 * nothing but this credit, so the town counts its amount here before the packet goes on, and
 * refuses it when the count would pass the peer's limit. The count is taken up front and given
 * back only when the packet is rejected: a crash between the two leaves it spent, so the town
 * errs toward its own books, never toward the peer's.
 *
 * What the town pays a peer out on chain is spent too ({@linkcode PeerCredit.payOut}): a payout
 * is the peer taking value out of the town, so earnings paid out never back its credit again, and
 * what the peer spent is never paid out (docs/PROTOCOL.md "Credit without a channel").
 *
 * One process: `<state dir>/peer_credit.jsonl`, one `{"a":account,"d":delta}` line per take
 * and per give-back, `{"a":account,"d":delta,"p":delta}` per payout, fsynced before the take
 * resolves (lines arriving together share one write
 * and fsync, state/line_appender.ts); the file is summed at open, a chunk at a time
 * (state/line_file.ts: it grows by a line a packet, past what one string can hold), from the
 * rows its last checkpoint held (`peer_credit.checkpoint.json`, state/line_file_checkpoint.ts).
 * Several processes on one
 * PostgreSQL store: state/postgres/postgres_peer_credit.ts, the same interface.
 *
 * @module
 */
import { LineAppender } from "../line_appender.ts";
import { readLineFile } from "../line_file.ts";
import { LineFileCheckpoints } from "../line_file_checkpoint.ts";
import {
  closeEpisode,
  type CreditLineAsk,
  type CreditRow,
  type CreditStanding,
  lineTake,
  NEW_STANDING,
} from "./credit_line.ts";

/** The credit counts the town keeps per peer; see the module doc. */
export interface PeerCredit {
  /**
   * Counts `amount` against `account` when its spent total stays within `limit`: the total
   * after it, or the refused total (`{ refused }`) with nothing counted. A limit that is a line
   * learned from the peer's history (state/payments/credit_line.ts) is decided with its standing
   * under the same lock, and the refusal names it (`limit`).
   */
  take(account: string, amount: bigint, limit: bigint | CreditLineAsk): Promise<CreditTake>;
  /** Gives back what a rejected packet took. */
  give(account: string, amount: bigint): Promise<void>;
  /**
   * Closes the peer's credit episode when what the town owes covers its spending
   * (state/payments/credit_line.ts): after its earnings grow, and after a give-back.
   */
  review(account: string, ask: CreditLineAsk): Promise<CreditStanding>;
  /** The peer's history on these counts (a newcomer's when it has none). */
  standing(account: string): Promise<CreditStanding>;
  /** What `account` has spent (as far as this process knows), its payouts included. */
  spent(account: string): Promise<bigint>;
  /**
   * Pays out, atomically with every take: raises what `account` has been paid out (its payout
   * channel's cumulative claim) to what the town owes it less what it spent, within `cap`, and
   * counts the raise as spent. `claimed` is a cumulative claim already made (a claim decided
   * before a crash, or before these counts knew of payouts): it is counted first when above
   * what is on record. Resolves with the cumulative amount paid out: the claim to sign.
   */
  payOut(account: string, amounts: PayOutAmounts): Promise<bigint>;
  /** What the town's payouts to `account` took of {@linkcode PeerCredit.spent}. */
  paid(account: string): Promise<bigint>;
  /** Flushes and stops. */
  close(): Promise<void>;
}

/** The answer of {@linkcode PeerCredit.take}. */
export type CreditTake = { spent: bigint } | { refused: bigint; limit?: bigint };

/** A standing as a credit line stores it (`st`; in PostgreSQL, its columns). */
export interface StandingRecord {
  r: string;
  s?: number;
  m: string;
}

/**
 * A standing as stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(standingRecord({ repaid: 5n, since: 9, mark: 2n }), { r: "5", s: 9, m: "2" });
 * ```
 */
export function standingRecord(s: CreditStanding): StandingRecord {
  return {
    r: s.repaid.toString(),
    ...(s.since === undefined ? {} : { s: s.since }),
    m: s.mark.toString(),
  };
}

/**
 * A stored standing read back; a malformed one is a newcomer's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(standingFromRecord({ r: "5", m: "2" }), { repaid: 5n, mark: 2n });
 * ```
 */
export function standingFromRecord(r: unknown): CreditStanding {
  if (typeof r !== "object" || r === null) return NEW_STANDING;
  const { r: repaid, s, m } = r as Record<string, unknown>;
  if (typeof repaid !== "string" || typeof m !== "string") return NEW_STANDING;
  if (s !== undefined && typeof s !== "number") return NEW_STANDING;
  return { repaid: BigInt(repaid), ...(s === undefined ? {} : { since: s }), mark: BigInt(m) };
}

/** What {@linkcode PeerCredit.payOut} pays from. */
export interface PayOutAmounts {
  /** Everything the town ever owed the account (its books' `owed`). */
  owed: bigint;
  /** The most the cumulative payout may reach (the payout channel's deposit). */
  cap: bigint;
  /** The cumulative claim already made to the account. */
  claimed: bigint;
  /**
   * The least net amount (owed less spent, beyond the claims) worth a payout: below it nothing
   * is raised (the payout policy's threshold when a FULFILL triggers the payout). Default 1.
   */
  least?: bigint;
}

/**
 * The payout step of {@linkcode PeerCredit.payOut} from the counts on record: how much more is
 * counted as spent and paid out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * // Owed 1,000, 400 spent on packets, nothing paid out yet: 600 is paid.
 * const step = payOutStep({ spent: 400n, paid: 0n }, { owed: 1_000n, cap: 5_000n, claimed: 0n });
 * assert.deepEqual(step, { add: 600n, paid: 600n });
 * ```
 */
export function payOutStep(
  counts: { spent: bigint; paid: bigint },
  amounts: PayOutAmounts,
): { add: bigint; paid: bigint } {
  // A claim made before these counts knew of it is counted first.
  const base = amounts.claimed > counts.paid ? amounts.claimed : counts.paid;
  const spent = counts.spent + (base - counts.paid);
  const room = amounts.cap - base;
  const net = amounts.owed - spent;
  const raise = room < net ? room : net;
  const more = raise > 0n && net >= (amounts.least ?? 1n) ? raise : 0n;
  return { add: base - counts.paid + more, paid: base + more };
}

/** Options for {@linkcode openFilePeerCredit}. */
export interface FilePeerCreditOptions {
  /** The town's state dir; the file is `peer_credit.jsonl` in it. */
  stateDir: string;
  /** Lines between two checkpoints (state/line_file_checkpoint.ts); 0: none. Default 100,000. */
  checkpointLines?: number;
  /** A reader beside the running town (`town balances`): writes no checkpoint, nor anything. */
  readOnly?: boolean;
}

/** The credit file's name in the state dir. */
export const PEER_CREDIT_FILE = "peer_credit.jsonl";

/**
 * Opens the one-process credit counts, summing the file (a partial last line from a crash is
 * skipped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stateDir = await Deno.makeTempDir();
 * const credit = await openFilePeerCredit({ stateDir });
 * assert.deepEqual(await credit.take("child", 600n, 1_000n), { spent: 600n });
 * assert.deepEqual(await credit.take("child", 600n, 1_000n), { refused: 600n });
 * await credit.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function openFilePeerCredit(options: FilePeerCreditOptions): Promise<PeerCredit> {
  const stateDir = options.stateDir.replace(/\/+$/, "");
  const path = `${stateDir}/${PEER_CREDIT_FILE}`;
  let rows = new Map<string, CreditRow>();
  const row = (a: string): CreditRow =>
    rows.get(a) ?? { spent: 0n, paid: 0n, standing: NEW_STANDING };
  const file = new LineAppender(path);
  const checkpoints = new LineFileCheckpoints({
    path: `${stateDir}/peer_credit.checkpoint.json`,
    linesPath: path,
    appender: file,
    every: options.checkpointLines ?? 100_000,
    readOnly: options.readOnly,
    snapshot: () => ({
      state: [...rows].map(([a, r]) => [a, r.spent, r.paid, standingRecord(r.standing)]),
      entries: rows.size,
    }),
  });
  const checkpoint = await checkpoints.read();
  const held = rowsFromCheckpoint(checkpoint?.state);
  if (held !== undefined) rows = held;
  const read = await readLineFile(path, (line) => {
    try {
      const { a, d, p, st } = JSON.parse(line) as {
        a: unknown;
        d: unknown;
        p?: unknown;
        st?: unknown;
      };
      if (typeof a !== "string" || typeof d !== "string") return;
      if (p !== undefined && typeof p !== "string") return;
      const r = row(a);
      rows.set(a, {
        spent: r.spent + BigInt(d),
        paid: r.paid + (p === undefined ? 0n : BigInt(p)),
        // The standing after the line, written whole whenever it changes.
        standing: st === undefined ? r.standing : standingFromRecord(st),
      });
    } catch {
      // A partial last line (a crash mid-append): its take never resolved, nothing went on.
    }
  }, { offset: held === undefined ? 0 : checkpoint!.offset });
  checkpoints.opened(read);
  file.needsNewline = read !== undefined && !read.endsInNewline;
  const record = (account: string, delta: bigint, payout = false, standing?: CreditStanding) => {
    const written = file.append(
      JSON.stringify({
        a: account,
        d: delta.toString(),
        ...(payout ? { p: delta.toString() } : {}),
        ...(standing ? { st: standingRecord(standing) } : {}),
      }) + "\n",
    );
    written.then(() => checkpoints.written(), () => checkpoints.failed());
    return written;
  };
  /** Sets a row, writes its line, and puts the row back when the line cannot be written. */
  const commit = async (account: string, next: CreditRow, line: () => Promise<void>) => {
    const before = row(account);
    // Counted before the write resolves: packets arriving meanwhile see it.
    rows.set(account, next);
    try {
      await line();
    } catch (err) {
      // Not on disk: the packet is refused, so it is not counted either.
      const now = row(account);
      rows.set(account, {
        spent: now.spent - (next.spent - before.spent),
        paid: now.paid - (next.paid - before.paid),
        standing: now.standing === next.standing ? before.standing : now.standing,
      });
      throw err;
    }
  };
  return {
    async take(account, amount, limit) {
      const before = row(account);
      if (typeof limit === "bigint") {
        if (before.spent + amount > limit) return { refused: before.spent };
        await commit(
          account,
          { ...before, spent: before.spent + amount },
          () => record(account, amount),
        );
        return { spent: before.spent + amount };
      }
      const step = lineTake(before, amount, limit);
      const changed = step.row.standing !== before.standing ? step.row.standing : undefined;
      if (!step.taken) {
        if (changed) await commit(account, step.row, () => record(account, 0n, false, changed));
        return { refused: before.spent, limit: step.limit };
      }
      await commit(account, step.row, () => record(account, amount, false, changed));
      return { spent: step.row.spent };
    },
    async give(account, amount) {
      const r = row(account);
      rows.set(account, { ...r, spent: r.spent - amount });
      await record(account, -amount);
    },
    async review(account, ask) {
      const r = row(account);
      const standing = closeEpisode(r, ask);
      if (standing !== r.standing) {
        await commit(account, { ...r, standing }, () => record(account, 0n, false, standing));
      }
      return standing;
    },
    standing: (account) => Promise.resolve(row(account).standing),
    spent: (account) => Promise.resolve(row(account).spent),
    paid: (account) => Promise.resolve(row(account).paid),
    async payOut(account, amounts) {
      const r = row(account);
      const step = payOutStep(r, amounts);
      if (step.add === 0n) return r.paid;
      // Decided and counted at once: a take after this sees it, as a payout after a take does.
      await commit(
        account,
        { ...r, spent: r.spent + step.add, paid: step.paid },
        () => record(account, step.add, true),
      );
      return step.paid;
    },
    close: async () => {
      await file.flush();
      await checkpoints.flush();
    },
  };
}

/** The rows a checkpoint held (`[account, spent, paid, standing]` each), or undefined. */
function rowsFromCheckpoint(state: unknown): Map<string, CreditRow> | undefined {
  if (!Array.isArray(state)) return undefined;
  try {
    return new Map(state.map(([a, spent, paid, st]) => {
      if (typeof a !== "string") throw new TypeError("bad account");
      return [a, { spent: BigInt(spent), paid: BigInt(paid), standing: standingFromRecord(st) }];
    }));
  } catch {
    return undefined;
  }
}
