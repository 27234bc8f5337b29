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
 * and fsync, state/line_appender.ts); the file is summed at open. Several processes on one
 * PostgreSQL store: state/postgres/postgres_peer_credit.ts, the same interface.
 *
 * @module
 */
import { LineAppender } from "../line_appender.ts";
import { readOptionalTextFile } from "../optional_text_file.ts";

/** The credit counts the town keeps per peer; see the module doc. */
export interface PeerCredit {
  /**
   * Counts `amount` against `account` when its spent total stays within `limit`: the total
   * after it, or the refused total (`{ refused }`) with nothing counted.
   */
  take(account: string, amount: bigint, limit: bigint): Promise<CreditTake>;
  /** Gives back what a rejected packet took. */
  give(account: string, amount: bigint): Promise<void>;
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
export type CreditTake = { spent: bigint } | { refused: bigint };

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
 * import { payOutStep } from "./peer_credit.ts";
 *
 * // Owed 1,000, 400 spent on packets, nothing paid out yet: 600 is paid.
 * console.log(payOutStep({ spent: 400n, paid: 0n }, { owed: 1_000n, cap: 5_000n, claimed: 0n }));
 * // { add: 600n, paid: 600n }
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
}

/** The credit file's name in the state dir. */
export const PEER_CREDIT_FILE = "peer_credit.jsonl";

/**
 * Opens the one-process credit counts, summing the file (a partial last line from a crash is
 * skipped).
 *
 * @example
 * ```ts
 * import { openFilePeerCredit } from "./peer_credit.ts";
 *
 * const credit = await openFilePeerCredit({ stateDir: await Deno.makeTempDir() });
 * console.log(await credit.take("child", 600n, 1_000n)); // { spent: 600n }
 * console.log(await credit.take("child", 600n, 1_000n)); // { refused: 600n }
 * await credit.close();
 * ```
 */
export async function openFilePeerCredit(options: FilePeerCreditOptions): Promise<PeerCredit> {
  const path = `${options.stateDir.replace(/\/+$/, "")}/${PEER_CREDIT_FILE}`;
  const spent = new Map<string, bigint>();
  const paid = new Map<string, bigint>();
  const text = (await readOptionalTextFile(path)) ?? "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const { a, d, p } = JSON.parse(line) as { a: unknown; d: unknown; p?: unknown };
      if (typeof a !== "string" || typeof d !== "string") continue;
      if (p !== undefined && typeof p !== "string") continue;
      spent.set(a, (spent.get(a) ?? 0n) + BigInt(d));
      if (p !== undefined) paid.set(a, (paid.get(a) ?? 0n) + BigInt(p));
    } catch {
      // A partial last line (a crash mid-append): its take never resolved, nothing went on.
    }
  }
  const file = new LineAppender(path, { needsNewline: text !== "" && !text.endsWith("\n") });
  const record = (account: string, delta: bigint, payout = false) =>
    file.append(
      JSON.stringify({
        a: account,
        d: delta.toString(),
        ...(payout ? { p: delta.toString() } : {}),
      }) + "\n",
    );
  return {
    async take(account, amount, limit) {
      const before = spent.get(account) ?? 0n;
      if (before + amount > limit) return { refused: before };
      // Counted before the write resolves: packets arriving meanwhile see it.
      spent.set(account, before + amount);
      try {
        await record(account, amount);
      } catch (err) {
        // Not on disk: the packet is refused, so it is not counted either.
        spent.set(account, (spent.get(account) ?? 0n) - amount);
        throw err;
      }
      return { spent: before + amount };
    },
    async give(account, amount) {
      spent.set(account, (spent.get(account) ?? 0n) - amount);
      await record(account, -amount);
    },
    spent: (account) => Promise.resolve(spent.get(account) ?? 0n),
    paid: (account) => Promise.resolve(paid.get(account) ?? 0n),
    async payOut(account, amounts) {
      const counts = { spent: spent.get(account) ?? 0n, paid: paid.get(account) ?? 0n };
      const step = payOutStep(counts, amounts);
      if (step.add === 0n) return counts.paid;
      // Decided and counted at once: a take after this sees it, as a payout after a take does.
      spent.set(account, counts.spent + step.add);
      paid.set(account, step.paid);
      try {
        await record(account, step.add, true);
      } catch (err) {
        spent.set(account, (spent.get(account) ?? 0n) - step.add);
        paid.set(account, (paid.get(account) ?? 0n) - step.add);
        throw err;
      }
      return step.paid;
    },
    close: () => file.flush(),
  };
}
