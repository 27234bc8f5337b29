/**
 * What each BTP peer without a payment channel has spent on the town's credit
 * (docs/PROTOCOL.md "Credit without a channel"): a packet it sends with no claim is covered by
 * nothing but this credit, so the town counts its amount here before the packet goes on, and
 * refuses it when the count would pass the peer's limit. The count is taken up front and given
 * back only when the packet is rejected: a crash between the two leaves it spent, so the town
 * errs toward its own books, never toward the peer's.
 *
 * One process: `<state dir>/peer_credit.jsonl`, one `{"a":account,"d":delta}` line per take
 * and per give-back, fsynced before the take resolves (lines arriving together share one write
 * and fsync, state/line_appender.ts); the file is summed at open. Several processes on one
 * PostgreSQL store: state/postgres_peer_credit.ts, the same interface.
 *
 * @module
 */
import { LineAppender } from "./line_appender.ts";
import { readOptionalTextFile } from "./optional_text_file.ts";

/** The credit counts the town keeps per peer; see the module doc. */
export interface PeerCredit {
  /**
   * Counts `amount` against `account` when its spent total stays within `limit`: the total
   * after it, or the refused total (`{ refused }`) with nothing counted.
   */
  take(account: string, amount: bigint, limit: bigint): Promise<CreditTake>;
  /** Gives back what a rejected packet took. */
  give(account: string, amount: bigint): Promise<void>;
  /** What `account` has spent (as far as this process knows). */
  spent(account: string): Promise<bigint>;
  /** Flushes and stops. */
  close(): Promise<void>;
}

/** The answer of {@linkcode PeerCredit.take}. */
export type CreditTake = { spent: bigint } | { refused: bigint };

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
  const text = (await readOptionalTextFile(path)) ?? "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const { a, d } = JSON.parse(line) as { a: unknown; d: unknown };
      if (typeof a !== "string" || typeof d !== "string") continue;
      spent.set(a, (spent.get(a) ?? 0n) + BigInt(d));
    } catch {
      // A partial last line (a crash mid-append): its take never resolved, nothing went on.
    }
  }
  const file = new LineAppender(path, { needsNewline: text !== "" && !text.endsWith("\n") });
  const record = (account: string, delta: bigint) =>
    file.append(JSON.stringify({ a: account, d: delta.toString() }) + "\n");
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
    close: () => file.flush(),
  };
}
