/**
 * A checkpoint of a town's books per peer (state/payments/peer_ledger.ts):
 * `<state dir>/peer_ledger.checkpoint.json`, what the ledger held once its file's first `offset`
 * bytes were read, so that a start reads only the lines after them (docs/SCALE.md "A town's
 * books after a long run"). It is derived data: written whole and renamed over the last one
 * (state/atomic_file.ts), used only when the ledger file still begins with what it was taken
 * of (its size at least `offset`, and the bytes before `offset` the ones it kept); anything
 * else, a missing, torn or foreign checkpoint included, means reading the whole file again.
 *
 * @module
 */
import { removeStaleTempFiles, writeFileAtomic } from "../atomic_file.ts";
import type { LedgerPacketsRecord } from "./ledger_packets.ts";
import type { PeerBalance } from "./peer_ledger_entry.ts";

/** The checkpoint's file name in the state dir. */
const CHECKPOINT_NAME = "peer_ledger.checkpoint.json";
/** Bytes before `offset` a checkpoint keeps, to know its ledger file again. */
const TAIL_BYTES = 256;

/** What the ledger held after reading some bytes of its file. */
export interface PeerLedgerState {
  /** The ledger's `keepAnswered` (another one would have forgotten other packets). */
  keepAnswered: number;
  skippedLines: number;
  balances: PeerBalance[];
  /** Newest claim per `account channel`. */
  claims: [string, bigint][];
  packets: LedgerPacketsRecord;
}

/** A checkpoint: the state after the ledger file's first `offset` bytes. */
export interface PeerLedgerCheckpoint extends PeerLedgerState {
  offset: number;
}

/** The file's JSON: bigints as decimal strings, and the covered bytes' tail. */
interface CheckpointJson {
  version: 1;
  offset: number;
  /** The covered bytes' last {@linkcode TAIL_BYTES} (or fewer), as text. */
  tail: string;
  keepAnswered: number;
  skippedLines: number;
  balances: Record<string, string | number>[];
  claims: [string, string][];
  packets: LedgerPacketsRecord;
}

const AMOUNTS = ["owed", "claimed", "settled", "inFlight", "inDoubt", "payoutDeposit"] as const;

/** Options for {@linkcode readPeerLedgerCheckpoint} and {@linkcode writePeerLedgerCheckpoint}. */
export interface PeerLedgerCheckpointOptions {
  stateDir: string;
  /** The ledger file it belongs to. */
  ledgerPath: string;
}

/**
 * The checkpoint, when there is one this ledger file still begins with; else undefined. The
 * temp files of a checkpoint's write cut short by a kill are removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPeerLedgerCheckpoint } from "./peer_ledger_checkpoint.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ledgerPath = `${stateDir}/peer_ledger.jsonl`;
 * assert.equal(await readPeerLedgerCheckpoint({ stateDir, ledgerPath }), undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readPeerLedgerCheckpoint(
  options: PeerLedgerCheckpointOptions,
): Promise<PeerLedgerCheckpoint | undefined> {
  await removeStaleTempFiles(`${options.stateDir}/${CHECKPOINT_NAME}`).catch(() => 0);
  let json: CheckpointJson;
  try {
    json = JSON.parse(await Deno.readTextFile(`${options.stateDir}/${CHECKPOINT_NAME}`));
  } catch {
    return undefined;
  }
  if (
    json?.version !== 1 || !Number.isSafeInteger(json.offset) || json.offset <= 0 ||
    typeof json.tail !== "string"
  ) return undefined;
  const tail = await tailOf(options.ledgerPath, json.offset).catch(() => undefined);
  if (tail !== json.tail) return undefined;
  try {
    return {
      offset: json.offset,
      keepAnswered: Number(json.keepAnswered),
      skippedLines: Number(json.skippedLines),
      balances: json.balances.map((b) => {
        const balance = { ...b } as unknown as PeerBalance;
        for (const k of AMOUNTS) balance[k] = BigInt(b[k]);
        return balance;
      }),
      claims: json.claims.map(([k, v]) => [String(k), BigInt(v)]),
      packets: json.packets,
    };
  } catch {
    return undefined;
  }
}

/**
 * Writes a checkpoint of the ledger file's first `offset` bytes, which must be on disk and end on
 * a line's end; `state` is what the ledger held after reading them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   readPeerLedgerCheckpoint,
 *   writePeerLedgerCheckpoint,
 * } from "./peer_ledger_checkpoint.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const ledgerPath = `${stateDir}/peer_ledger.jsonl`;
 * await Deno.writeTextFile(ledgerPath, '{"a":1}\n');
 * const state = { keepAnswered: 1024, skippedLines: 0, balances: [], claims: [], packets: {} };
 * await writePeerLedgerCheckpoint({ stateDir, ledgerPath }, 8, state);
 * assert.equal((await readPeerLedgerCheckpoint({ stateDir, ledgerPath }))?.offset, 8);
 * await Deno.writeTextFile(ledgerPath, '{"b":2}\n'); // not the file it was taken of
 * assert.equal(await readPeerLedgerCheckpoint({ stateDir, ledgerPath }), undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function writePeerLedgerCheckpoint(
  options: PeerLedgerCheckpointOptions,
  offset: number,
  state: PeerLedgerState,
): Promise<void> {
  const tail = await tailOf(options.ledgerPath, offset);
  const json = JSON.stringify(
    { version: 1, offset, tail, ...state },
    (_, v) => typeof v === "bigint" ? v.toString() : v,
  );
  // No directory fsync: a checkpoint lost to a power cut means reading the whole file once.
  await writeFileAtomic(`${options.stateDir}/${CHECKPOINT_NAME}`, json, { skipDirSync: true });
}

/** The last {@linkcode TAIL_BYTES} bytes before `offset` of the file, as text. */
async function tailOf(path: string, offset: number): Promise<string> {
  using file = await Deno.open(path, { read: true });
  if ((await file.stat()).size < offset) throw new RangeError("the file is shorter");
  const start = Math.max(0, offset - TAIL_BYTES);
  await file.seek(start, Deno.SeekMode.Start);
  const buf = new Uint8Array(offset - start);
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new RangeError("the file is shorter");
    got += n;
  }
  return new TextDecoder().decode(buf);
}
