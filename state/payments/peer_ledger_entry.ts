/**
 * A line of a town's books per peer and a peer's balance (state/payments/peer_ledger.ts): their
 * shapes, the check every line passes before it is written or counted, a peer's zero balance.
 *
 * @module
 */
import { StateError } from "../state_error.ts";

/** What a ledger line records. */
export type PeerLedgerEvent =
  | "forward"
  | "fulfilled"
  | "rejected"
  | "opened"
  | "claimed"
  | "settled";

/** One line of the peer ledger. */
export interface PeerLedgerEntry {
  /** ISO 8601 time. */
  ts: string;
  event: PeerLedgerEvent;
  /** The BTP account (`<town>.<account>`). */
  account: string;
  /** The packet's execution condition (hex), for packet events. */
  condition?: string;
  /** Base units, decimal string: the packet's amount, or the claim's cumulative amount. */
  amount: string;
  /** Hex fulfillment, for `fulfilled`. */
  fulfillment?: string;
  /** `fulfilled` lines written from a peer's proof after a crash. */
  proven?: boolean;
  /**
   * The expiry of the PREPARE as forwarded to the peer (ISO 8601, to the millisecond), for
   * `forward`, and for a `rejected` written from a peer's proof (`paidExpiresAt`).
   */
  expiresAt?: string;
  /**
   * For a `rejected` written from a peer's proof after a crash: the expiry of the PREPARE the peer
   * says it fulfilled with this condition, another packet than this one (which is not owed: a peer
   * fulfills an invoice once; docs/PROTOCOL.md "A payment in doubt on another process").
   */
  paidExpiresAt?: string;
  /**
   * For a `rejected` written from a peer's proof after a crash: the books of the town's process
   * that holds the condition paid (a town on a shared store; state/postgres/
   * postgres_paid_conditions.ts), this packet not the one paid.
   */
  paidBy?: string;
  /** The channel, for `claimed` and `settled`. */
  channelId?: string;
  /** The claim's nonce, for `claimed`. */
  nonce?: string;
  /**
   * The ILP reject code relayed, for `rejected`: `R00` when the town gave the packet up at its
   * expiry (a FULFILL after it is the peer's loss, docs/PROTOCOL.md "Expiry").
   */
  code?: string;
}

/** What the town and one peer stand at. */
export interface PeerBalance {
  account: string;
  /** Fulfilled packets forwarded to the peer: what the town owes it in all. */
  owed: bigint;
  /** Claims signed to the peer: the newest one's cumulative amount, summed over its channels. */
  claimed: bigint;
  /** Paid out to the peer on chain. */
  settled: bigint;
  /** Forwarded and not answered yet (this run). */
  inFlight: bigint;
  /** Forwarded before a crash with no answer on record: owed only once proven. */
  inDoubt: bigint;
  /** Fulfilled packets. */
  packets: number;
  /** The channel the town pays the peer over, once opened. */
  payoutChannel?: string;
  /** The town's deposit in it. */
  payoutDeposit: bigint;
}

/** A ledger line is malformed, or would record a packet twice: nothing was written. */
export class PeerLedgerError extends StateError {
  override name = "PeerLedgerError";
}

const EVENTS: readonly PeerLedgerEvent[] = [
  "forward",
  "fulfilled",
  "rejected",
  "opened",
  "claimed",
  "settled",
];

/**
 * A zero balance for `account`.
 *
 * @example
 * ```ts
 * import { emptyPeerBalance } from "./peer_ledger_entry.ts";
 *
 * if (emptyPeerBalance("beta").owed !== 0n) throw new Error("not empty");
 * ```
 */
export function emptyPeerBalance(account: string): PeerBalance {
  return {
    account,
    owed: 0n,
    claimed: 0n,
    settled: 0n,
    inFlight: 0n,
    inDoubt: 0n,
    packets: 0,
    payoutDeposit: 0n,
  };
}

/**
 * Throws {@linkcode PeerLedgerError} when `e` is not a well-formed ledger line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPeerLedgerEntry, PeerLedgerError } from "./peer_ledger_entry.ts";
 *
 * const ts = new Date().toISOString();
 * assert.throws(() => checkPeerLedgerEntry({ ts, event: "settled", account: "b", amount: "x" }), PeerLedgerError);
 * ```
 */
export function checkPeerLedgerEntry(e: PeerLedgerEntry): void {
  const fail = (msg: string): never => {
    throw new PeerLedgerError(msg);
  };
  if (typeof e !== "object" || e === null) fail("entry is not an object");
  if (typeof e.ts !== "string" || Number.isNaN(Date.parse(e.ts))) fail("bad ts");
  if (!EVENTS.includes(e.event)) fail("bad event");
  if (typeof e.account !== "string" || !/^[A-Za-z0-9_~-]{1,64}$/.test(e.account)) {
    fail("bad account");
  }
  if (typeof e.amount !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(e.amount)) fail("bad amount");
  const packet = e.event === "forward" || e.event === "fulfilled" || e.event === "rejected";
  if (packet && (typeof e.condition !== "string" || !/^[0-9a-f]{64}$/.test(e.condition))) {
    fail("bad condition");
  }
  if (e.event === "fulfilled" && !/^[0-9a-f]{64}$/.test(e.fulfillment ?? "")) {
    fail("bad fulfillment");
  }
  if (!packet && !/^0x[0-9a-f]{64}$/.test(e.channelId ?? "")) fail("bad channelId");
  if (e.event === "claimed" && !/^[1-9][0-9]{0,77}$/.test(e.nonce ?? "")) fail("bad nonce");
  if (e.code !== undefined && !/^[FTR][0-9]{2}$/.test(e.code)) fail("bad code");
  if (e.paidBy !== undefined && (typeof e.paidBy !== "string" || e.paidBy.length > 1024)) {
    fail("bad paidBy");
  }
  for (const at of [e.expiresAt, e.paidExpiresAt]) {
    if (at !== undefined && (typeof at !== "string" || Number.isNaN(Date.parse(at)))) {
      fail("bad expiresAt");
    }
  }
}

/**
 * What a fulfillment a peer showed did to a packet in doubt (`PeerLedger.prove`, state/payments/peer_ledger.ts):
 * recorded owed; recorded `rejected` (the peer fulfilled another packet of that condition); or
 * nothing (no packet of that condition in doubt here).
 */
export type InDoubtOutcome =
  | { kind: "owed"; amount: bigint }
  | { kind: "another-packet"; amount: bigint }
  | { kind: "none" };
