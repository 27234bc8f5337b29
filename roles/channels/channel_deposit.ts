/**
 * Raising a channel's deposit (a top-up, by hand with `turnpike channel topup` or by the node
 * with `[channels] auto`): the wallet's balance checked, the contract's `setTotalDeposit` mined,
 * then the channel file (audit `payment channel <id> topped-up`) and the channel log written, so
 * the books follow the chain. With `maxDeposit` (`[channels] max_deposit`, the same ceiling
 * `channel open` enforces) a top-up that would leave the channel holding more than it
 * (deposit - withdrawn + amount) is refused before anything is sent.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { InsufficientFundsError } from "../../chain/token_network_client.ts";
import type { AuditLog } from "../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../state/channels/channel_file.ts";
import type { SentClaimWriter } from "../../state/channels/channel_writer.ts";
import { logChannelDeposit } from "./channel_deposit_log.ts";

/** The chain calls a top-up needs (a TokenNetworkClient fits). */
export type DepositChain = Pick<TokenNetworkClient, "setTotalDeposit" | "tokenBalance" | "address">;

/** Options for {@linkcode raiseChannelDeposit}. */
export interface RaiseChannelDepositOptions {
  stateDir: string;
  /** The channel as its owner last wrote it (must be open). */
  record: ChannelRecord;
  /** Tokens to add, base units (> 0). */
  amount: bigint;
  chain: DepositChain;
  /** Writes the raised record, ordered with the owner's other writes (a sender's `update`). */
  update: SentClaimWriter["update"];
  audit?: AuditLog;
  /** true: the node did it by itself (`[channels] auto`). */
  auto: boolean;
  /** Most the channel may hold after the top-up, base units (`[channels] max_deposit`). */
  maxDeposit?: bigint;
}

/** A top-up would leave the channel holding more than `[channels] max_deposit`. */
export class DepositAboveMaximumError extends RoleError {
  override name = "DepositAboveMaximumError";
  /** `held`: what the channel holds now; `max`: the ceiling; `room`: what may still be added. */
  constructor(readonly held: bigint, readonly amount: bigint, readonly max: bigint) {
    super(
      `a top-up of ${amount} would make the channel hold ${
        held + amount
      }, above the maximum ${max}`,
    );
  }
  /** What may still be added without passing the maximum (0 or more). */
  get room(): bigint {
    return this.max > this.held ? this.max - this.held : 0n;
  }
}

/** What a top-up did. */
export interface RaisedDeposit {
  record: ChannelRecord;
  /** The new total deposit, base units. */
  total: bigint;
  tx: `0x${string}`;
}

/**
 * Adds `amount` to the channel's deposit on chain and records it.
 *
 * It needs a chain: no example that runs here:
 * tests/unit/roles/channels/channel_max_deposit_test.ts.
 * @throws {InsufficientFundsError} when the wallet holds less than `amount`.
 * @throws {DepositAboveMaximumError} when the channel would hold more than `maxDeposit`.
 */
export async function raiseChannelDeposit(
  options: RaiseChannelDepositOptions,
): Promise<RaisedDeposit> {
  const { record, amount } = options;
  if (amount <= 0n) throw new RangeError("a top-up must be positive");
  const inChannel = record.deposit - record.withdrawn;
  if (options.maxDeposit !== undefined && inChannel + amount > options.maxDeposit) {
    throw new DepositAboveMaximumError(inChannel, amount, options.maxDeposit);
  }
  const held = await options.chain.tokenBalance();
  if (held < amount) throw new InsufficientFundsError(held, amount, options.chain.address);
  const total = record.deposit + amount;
  const tx = await options.chain.setTotalDeposit(record.channelId, total);
  const fields = { Tx: tx, Amount: amount.toString(), Auto: options.auto ? "yes" : "no" };
  const next = await options.update(
    (r) => ({ ...r, deposit: r.deposit > total ? r.deposit : total }),
    { action: "topup", fields },
  );
  await logChannelDeposit({
    stateDir: options.stateDir,
    audit: options.audit,
    record,
    action: "topup",
    amount,
    totalDeposit: total,
    tx,
    auto: options.auto,
  });
  return { record: next, total, tx };
}
