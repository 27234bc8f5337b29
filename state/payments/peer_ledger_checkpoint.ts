/**
 * What a checkpoint of a town's books per peer holds (state/payments/peer_ledger.ts;
 * `peer_ledger.checkpoint.json`, written and checked by state/line_file_checkpoint.ts): the
 * balances, the newest claims and the packets held, after the ledger file's first bytes
 * (docs/SCALE.md "A town's books after a long run").
 *
 * @module
 */
import type { LedgerPacketsRecord } from "./ledger_packets.ts";
import type { PeerBalance } from "./peer_ledger_entry.ts";

/** The checkpoint's file name in the state dir. */
export const PEER_LEDGER_CHECKPOINT_NAME = "peer_ledger.checkpoint.json";

/**
 * The checkpoints' format: 2 since an answered packet keeps its expiry and whether another
 * packet was paid (state/payments/ledger_packets.ts). A checkpoint of another format is passed
 * over (the file is read from its start): it would hold answered packets without them.
 *
 * @example
 * ```ts
 * import { decodePeerLedgerState, PEER_LEDGER_CHECKPOINT_FORMAT } from "./peer_ledger_checkpoint.ts";
 *
 * const older = { keepAnswered: 1024, skippedLines: 0, balances: [], claims: [], packets: {} };
 * if (decodePeerLedgerState(older) !== undefined) throw new Error("an older checkpoint read");
 * if (PEER_LEDGER_CHECKPOINT_FORMAT < 2) throw new Error("answered packets without their expiry");
 * ```
 */
export const PEER_LEDGER_CHECKPOINT_FORMAT = 2;

/** What the ledger held after reading some bytes of its file. */
export interface PeerLedgerState {
  /** {@linkcode PEER_LEDGER_CHECKPOINT_FORMAT} when written. */
  format: number;
  /** The ledger's `keepAnswered` (another one would have let other packets go). */
  keepAnswered: number;
  skippedLines: number;
  balances: PeerBalance[];
  /** Newest claim per `account channel`. */
  claims: [string, bigint][];
  packets: LedgerPacketsRecord;
}

const AMOUNTS = ["owed", "claimed", "settled", "inFlight", "inDoubt", "payoutDeposit"] as const;

/**
 * The state a checkpoint holds, from its JSON (amounts as decimal strings); undefined when it is
 * not one this module's writer gave.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePeerLedgerState } from "./peer_ledger_checkpoint.ts";
 *
 * const json = {
 *   format: 2, keepAnswered: 1024, skippedLines: 0, balances: [], claims: [["b 0x1", "5"]], packets: {},
 * };
 * assert.deepEqual(decodePeerLedgerState(json)?.claims, [["b 0x1", 5n]]);
 * assert.equal(decodePeerLedgerState({ claims: 1 }), undefined);
 * ```
 */
export function decodePeerLedgerState(json: unknown): PeerLedgerState | undefined {
  try {
    const j = json as Record<string, unknown> & {
      balances: Record<string, unknown>[];
      claims: [unknown, unknown][];
    };
    if (j.format !== PEER_LEDGER_CHECKPOINT_FORMAT) return undefined;
    if (typeof j.packets !== "object" || j.packets === null) return undefined;
    if (!Number.isSafeInteger(j.keepAnswered) || !Number.isSafeInteger(j.skippedLines)) {
      return undefined;
    }
    return {
      format: PEER_LEDGER_CHECKPOINT_FORMAT,
      keepAnswered: Number(j.keepAnswered),
      skippedLines: Number(j.skippedLines),
      balances: j.balances.map((b) => {
        const balance = { ...b } as unknown as PeerBalance;
        for (const k of AMOUNTS) balance[k] = BigInt(b[k] as string);
        if (typeof balance.account !== "string") throw new TypeError("bad account");
        if (!Number.isSafeInteger(balance.packets)) throw new TypeError("bad packets");
        const channel = balance.payoutChannel;
        if (channel !== undefined && typeof channel !== "string") {
          throw new TypeError("bad channel");
        }
        return balance;
      }),
      claims: j.claims.map(([k, v]) => [String(k), BigInt(v as string)]),
      packets: j.packets as LedgerPacketsRecord,
    };
  } catch {
    return undefined;
  }
}
