/**
 * Each channel-less peer's current credit line for `turnpike town balances`: the floor and ceiling
 * from the town's settings (`peer_credit_limit` or the peer's `credit_limit`, `peer_credit_ceiling`,
 * `peer_credit_grace`: config/town_credit_line.ts) and the peer's standing from the credit counts
 * (state/payments/credit_line.ts; docs/PROTOCOL.md "The credit line from history").
 *
 * @module
 */
import { loadSettings } from "../config/settings.ts";
import { resolveTownSettings, type TownSettings } from "../config/town_settings.ts";
import { creditLine, type CreditStanding } from "../state/payments/credit_line.ts";

/** A peer's line as `town balances` shows it. */
export interface PeerCreditLineView {
  /** The grant now: base units, before what the town owes it is added. */
  line: bigint;
  /** Repaid use on record (0 with a fixed line). */
  repaid: bigint;
  /** When its open credit episode began (unix ms); undefined: not in credit. */
  since?: number;
}

/** Options for {@linkcode peerCreditLines}. */
export interface PeerCreditLinesOptions {
  /** The town's credit settings; default: read from the state dir's config and environment. */
  config?: Pick<TownSettings, "peers" | "peerCreditLimit" | "peerCreditLine">;
  /** The clock (unix ms). Default Date.now. */
  now?: number;
}

/**
 * The town's credit settings from its state dir, or undefined when they cannot be read (the
 * balances are still shown, without lines).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townCreditSettings } from "./town_credit_lines.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const config = await townCreditSettings(stateDir);
 * assert.equal(config?.peerCreditLimit, undefined); // a town that moves no money
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function townCreditSettings(
  stateDir: string,
): Promise<Pick<TownSettings, "peers" | "peerCreditLimit" | "peerCreditLine"> | undefined> {
  try {
    return resolveTownSettings({ loaded: await loadSettings({ flags: { stateDir } }) });
  } catch {
    return undefined;
  }
}

/**
 * Each account's line from its standing, for the accounts that have credit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerCreditLines } from "./town_credit_lines.ts";
 *
 * const config = {
 *   peers: [],
 *   peerCreditLimit: 5_000n,
 *   peerCreditLine: { ceiling: 20_000n, graceMs: 60_000 },
 * };
 * const lines = peerCreditLines(new Map([["child", { repaid: 5_000n, mark: 0n }]]), { config });
 * assert.equal(lines.get("child")?.line, 10_000n);
 * ```
 */
export function peerCreditLines(
  standings: Map<string, CreditStanding>,
  options: PeerCreditLinesOptions,
): Map<string, PeerCreditLineView> {
  const lines = new Map<string, PeerCreditLineView>();
  const config = options.config;
  if (config === undefined) return lines;
  const now = options.now ?? Date.now();
  for (const [account, standing] of standings) {
    const peer = config.peers.find((p) => p.account === account);
    const floor = peer?.creditLimit ?? config.peerCreditLimit;
    if (floor === undefined) continue;
    const learned = config.peerCreditLine;
    if (learned === undefined || learned.ceiling <= floor) {
      lines.set(account, { line: floor, repaid: 0n });
      continue;
    }
    const terms = { floor, ceiling: learned.ceiling, graceMs: learned.graceMs };
    lines.set(account, {
      line: creditLine(standing, terms, now),
      repaid: standing.repaid,
      ...(standing.since === undefined ? {} : { since: standing.since }),
    });
  }
  return lines;
}
