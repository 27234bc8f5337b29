/**
 * What a provider's 31990 says of how a skill's job is billed and who pays its model calls
 * (docs/PROTOCOL.md "Who pays for what"): the parts of the skill's announced `price` (its own
 * price, the writes the deposit covers, the writes a delivery may add at most, the share taken on
 * delivery) and, for an agent-task preset, the model's token prices, paid by the provider out of
 * the price. Optional members: a requester reading an announcement without them knows only the
 * total, as before.
 *
 * @module
 */

/** How a skill's announced `price` is billed (base units, decimal strings). */
export interface HandlerBill {
  /** The skill's own price (the announced `price` is this plus the writes). */
  skillPrice: string;
  /** The share of the price (skill's and preset's) invoiced with the result, percent. */
  onDelivery: number;
  /** The writes the deposit covers (the `payment-required` feedback). */
  depositWrites: string;
  /** The most a delivery adds for the writes the job makes; only the writes made are billed. */
  writesReserved: string;
}

/** A preset's model: token prices in base units per million tokens, paid by the provider. */
export interface HandlerModel {
  inputPerMillion: string;
  outputPerMillion: string;
  /** Who pays the model calls: the provider, out of the price. */
  paidBy: "provider";
}

const UNITS = /^\d{1,30}$/;

/**
 * A skill's `bill` member, or undefined when absent or malformed (left out, as a malformed
 * preset list is).
 *
 * @example
 * ```ts
 * import { readHandlerBill } from "./handler_bill.ts";
 * const bill = readHandlerBill({ skillPrice: "20000", onDelivery: 80, depositWrites: "7900",
 *   writesReserved: "400000" });
 * if (bill?.onDelivery !== 80) throw new Error();
 * if (readHandlerBill({ skillPrice: "-1" }) !== undefined) throw new Error();
 * ```
 */
export function readHandlerBill(value: unknown): HandlerBill | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const ok =
    [v.skillPrice, v.depositWrites, v.writesReserved].every((x) =>
      typeof x === "string" && UNITS.test(x)
    ) && Number.isInteger(v.onDelivery) && (v.onDelivery as number) >= 0 &&
    (v.onDelivery as number) <= 100;
  if (!ok) return undefined;
  return {
    skillPrice: v.skillPrice as string,
    onDelivery: v.onDelivery as number,
    depositWrites: v.depositWrites as string,
    writesReserved: v.writesReserved as string,
  };
}

/**
 * A preset's `model` member, or undefined when absent or malformed.
 *
 * @example
 * ```ts
 * import { readHandlerModel } from "./handler_bill.ts";
 * const model = readHandlerModel({ inputPerMillion: "3000000", outputPerMillion: "15000000",
 *   paidBy: "provider" });
 * if (model?.paidBy !== "provider") throw new Error();
 * ```
 */
export function readHandlerModel(value: unknown): HandlerModel | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof v.inputPerMillion !== "string" || !UNITS.test(v.inputPerMillion) ||
    typeof v.outputPerMillion !== "string" || !UNITS.test(v.outputPerMillion) ||
    v.paidBy !== "provider"
  ) return undefined;
  return {
    inputPerMillion: v.inputPerMillion,
    outputPerMillion: v.outputPerMillion,
    paidBy: "provider",
  };
}
