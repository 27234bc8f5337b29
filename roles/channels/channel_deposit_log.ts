/**
 * A deposit into a payment channel, as the channel log keeps it: the opening deposit and each
 * top-up are the same entry (state/channels/channel_log.ts), stamped now, amounts as decimal strings of
 * token base units, written after the transaction was mined.
 *
 * @module
 */
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import { appendChannelLog, type ChannelFundsAction } from "../../state/channels/channel_log.ts";

/** Options for {@linkcode logChannelDeposit}. */
export interface LogChannelDepositOptions {
  stateDir: string;
  audit?: AuditLog;
  /** The channel the tokens went into. */
  record: Pick<ChannelRecord, "channelId" | "chain">;
  /** `open` for the opening deposit, `topup` for a later one. */
  action: ChannelFundsAction;
  /** Tokens this deposit moved, base units. */
  amount: bigint;
  /** The channel's total deposit afterwards, base units. */
  totalDeposit: bigint;
  /** The transaction that moved them. */
  tx: string;
  /** true when the node did it by itself (`[channels] auto`). */
  auto: boolean;
}

/**
 * Appends the deposit to the channel log (fsynced, and to the audit trail when given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logChannelDeposit } from "./channel_deposit_log.ts";
 * import { readChannelLog } from "../../state/channels/channel_log.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const record = { channelId: `0x${"ab".repeat(32)}` as const, chain: "evm:base:31337" };
 * await logChannelDeposit({ stateDir, record, action: "topup", amount: 10_000_000n,
 *   totalDeposit: 30_000_000n, tx: `0x${"ef".repeat(32)}`, auto: false });
 * const [entry] = await readChannelLog(stateDir);
 * assert.deepEqual([entry.action, entry.amount, entry.totalDeposit], ["topup", "10000000", "30000000"]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function logChannelDeposit(options: LogChannelDepositOptions): Promise<void> {
  await appendChannelLog({
    ts: new Date().toISOString(),
    action: options.action,
    channelId: options.record.channelId,
    chain: options.record.chain,
    amount: options.amount.toString(),
    totalDeposit: options.totalDeposit.toString(),
    tx: options.tx,
    auto: options.auto,
  }, { stateDir: options.stateDir, audit: options.audit });
}
