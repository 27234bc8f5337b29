/**
 * A town's start-up step that makes the gate each BTP peer's packets pass: the channel's claim
 * gate of a peer that settles over a channel, the credit gate of the others when the town gives
 * credit (btp/peer_credit_gate.ts, docs/PROTOCOL.md).
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import { peerCreditGate } from "./btp/peer_credit_gate.ts";
import type { BtpClaimGate } from "../channels/btp_claim_gate.ts";
import type { TownAddress } from "./town_address.ts";
import type { TownBooks } from "./town_books.ts";
import type { PeerBalance } from "../../state/payments/peer_ledger.ts";
import type { CreditLineAsk } from "../../state/payments/credit_line.ts";

/** Options for {@linkcode townClaimGates}. */
export interface TownClaimGatesOptions {
  config: Pick<TownSettings, "peerCreditLimit" | "peerCreditLine">;
  books: Pick<TownBooks, "credit" | "creditLimits" | "ledger">;
  /** The channel claim gates (`TownNodeOptions.claimGate`). */
  claimGate: ((account: string) => BtpClaimGate | undefined) | undefined;
  /** Whether an account settles over a channel (`TownNodeOptions.hasChannel`). */
  hasChannel: ((account: string) => boolean) | undefined;
  address: TownAddress;
  log: (line: string) => void;
}

/** The gates of a town's BTP peers. */
export interface TownClaimGates {
  /** The gate of an account's packets, if any. */
  claimGate: ((account: string) => BtpClaimGate | undefined) | undefined;
  /** Packets refused for spent credit so far (`/metrics`). */
  refused(): number;
  /**
   * Hand it each balance after a FULFILL owed to a peer: earnings that cover a peer's credit use
   * close its episode on a learned line (state/payments/credit_line.ts).
   */
  owed(balance: PeerBalance): void;
}

/**
 * The channel claim gates, with a credit gate over each when the town gives credit.
 *
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/e2e/town_shared_credit_line_test.ts.
 */
export function townClaimGates(options: TownClaimGatesOptions): TownClaimGates {
  const { config, books: { credit, creditLimits, ledger }, address, log } = options;
  let creditRefused = 0;
  // A learned line when a ceiling above the peer's floor is configured, else the fixed floor.
  const learned = (a: string, floor: bigint): CreditLineAsk | undefined => {
    const line = config.peerCreditLine;
    if (line === undefined || line.ceiling <= floor) return undefined;
    const terms = { floor, ceiling: line.ceiling, graceMs: line.graceMs };
    return { owed: ledger.balance(a).owed, terms, now: Date.now() };
  };
  const claimGate = credit === undefined
    ? options.claimGate
    : (account: string) =>
      peerCreditGate(account, options.claimGate?.(account), {
        credit,
        // A peer the town forwards payments to may spend what it earned too: its payouts are
        // counted as spent (TownPayoutsOptions.credit), so earnings paid out never back it
        // again, and what it spent is never paid out (docs/PROTOCOL.md).
        limitOf: (a) => {
          const granted = creditLimits.get(a) ?? config.peerCreditLimit;
          if (granted === undefined) return undefined;
          return learned(a, granted) ?? granted + ledger.balance(a).owed;
        },
        hasChannel: options.hasChannel ?? (() => false),
        triggeredBy: () => address.ilpAddress,
        onRefused: (a, amount, spent, limit) => {
          creditRefused++;
          log(
            `peer ${a}: ${amount} refused, ${spent} of its credit of ${limit} spent (no channel)`,
          );
        },
      });
  const owed = (balance: PeerBalance) => {
    const granted = creditLimits.get(balance.account) ?? config.peerCreditLimit;
    const ask = granted === undefined ? undefined : learned(balance.account, granted);
    // Not closed now (the store cannot be written): the next take or FULFILL closes it.
    if (credit && ask) void credit.review(balance.account, ask).catch(() => {});
  };
  return { claimGate, refused: () => creditRefused, owed };
}
