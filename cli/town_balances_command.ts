/**
 * `turnpike town balances`: the town's books per BTP peer (state/payments/peer_ledger.ts), read from the
 * state dir (no passphrase, the town may be running): for each peer what the town owes it in
 * all (fulfilled payments forwarded to it), what it claimed to it over its payout channel, what
 * reached the chain, what is in flight and what is in doubt after a crash (owed once the peer
 * shows the fulfillment), and what it spent through the town on the town's credit (netted out of
 * its payouts: state/payments/peer_credit.ts; read from `peer_credit.jsonl`, so a one-process town's),
 * and its credit line now (cli/town_credit_lines.ts).
 * Amounts in base units (docs/OPERATIONS.md "Paying providers").
 *
 * @module
 */
import type { Command } from "commander";
import { openPeerLedger, type PeerBalance } from "../state/payments/peer_ledger.ts";
import { openFilePeerCredit } from "../state/payments/peer_credit.ts";
import type { GlobalOptions } from "./global_options.ts";
import { existingStateDir } from "./state_dir_flags.ts";
import { printJsonLine } from "./json_line.ts";
import { terminalText } from "./terminal_text.ts";
import {
  peerCreditLines,
  type PeerCreditLineView,
  townCreditSettings,
} from "./town_credit_lines.ts";
import type { CreditStanding } from "../state/payments/credit_line.ts";

interface BalancesOptions extends GlobalOptions {
}

/**
 * Adds `balances` to `turnpike town`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 *
 * const program = new Command("turnpike");
 * registerTownBalances(program.command("town"));
 * ```
 */
export function registerTownBalances(town: Command): void {
  town.command("balances")
    .description("what the town owes each BTP peer: owed, claimed, settled, in doubt")
    .action(async (_o: unknown, cmd: Command) => {
      await balances(cmd.optsWithGlobals<BalancesOptions>(), cmd);
    });
}

/**
 * A peer's balance with its amounts as decimal strings (the JSON output).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerBalanceJson } from "./town_balances_command.ts";
 *
 * const balance = {
 *   account: "beta", owed: 500n, claimed: 200n, settled: 0n, inFlight: 0n, inDoubt: 0n,
 *   packets: 5, payoutDeposit: 0n,
 * };
 * assert.equal(peerBalanceJson(balance).unclaimed, "300");
 * ```
 */
export function peerBalanceJson(
  b: PeerBalance,
  spent = 0n,
  line?: PeerCreditLineView,
): Record<string, string | number> {
  return {
    ...(line
      ? {
        line: String(line.line),
        repaid: String(line.repaid),
        ...(line.since === undefined ? {} : { inCreditSince: new Date(line.since).toISOString() }),
      }
      : {}),
    account: b.account,
    owed: String(b.owed),
    spent: String(spent),
    claimed: String(b.claimed),
    unclaimed: String(b.owed - spent - b.claimed),
    settled: String(b.settled),
    inFlight: String(b.inFlight),
    inDoubt: String(b.inDoubt),
    payments: b.packets,
    ...(b.payoutChannel ? { payoutChannel: b.payoutChannel } : {}),
    payoutDeposit: String(b.payoutDeposit),
  };
}

async function balances(opts: BalancesOptions, cmd: Command): Promise<void> {
  const stateDir = await existingStateDir(opts, cmd);
  // Beside a running town: its checkpoints are read, none written (the town writes them).
  const ledger = await openPeerLedger({ stateDir, readOnly: true });
  const peers = ledger.balances();
  // What each peer spent on the town's credit, its payouts excluded (they are `claimed`).
  const credit = await openFilePeerCredit({ stateDir, readOnly: true });
  const spent = new Map<string, bigint>();
  const standings = new Map<string, CreditStanding>();
  for (const b of peers) {
    spent.set(b.account, await credit.spent(b.account) - await credit.paid(b.account));
    standings.set(b.account, await credit.standing(b.account));
  }
  const lines = peerCreditLines(standings, { config: await townCreditSettings(stateDir) });
  if (opts.output === "json") {
    printJsonLine("town-balances", {
      stateDir,
      peers: peers.map((b) => peerBalanceJson(b, spent.get(b.account), lines.get(b.account))),
      inDoubt: ledger.inDoubt().map((p) => ({ ...p, amount: String(p.amount) })),
    });
    return;
  }
  if (peers.length === 0) {
    console.log("no payments forwarded to any peer yet");
    return;
  }
  for (const b of peers) {
    // An account is the name a peer logged in with (any, on a town that accepts any token).
    console.log(terminalText(
      `${b.account.padEnd(16)} owed ${b.owed}, spent ${
        spent.get(b.account)
      }, claimed ${b.claimed} ` +
        `(unclaimed ${
          b.owed - spent.get(b.account)! - b.claimed
        }), settled ${b.settled}, in flight ${b.inFlight}, in doubt ${b.inDoubt}` +
        (b.payoutChannel ? `, payout channel ${b.payoutChannel.slice(0, 18)}..` : "") +
        lineText(lines.get(b.account)),
    ));
  }
}

/** A peer's credit line in the text output. */
function lineText(line: PeerCreditLineView | undefined): string {
  if (line === undefined) return "";
  const since = line.since === undefined
    ? ""
    : `, in credit since ${new Date(line.since).toISOString()}`;
  return `, credit line ${line.line} (repaid ${line.repaid}${since})`;
}
