/**
 * What an agent task will cost, part by part, before anything is posted or paid (docs/AGENTS.md
 * "What an agent task costs"): from a provider's 31990 (its agent-task skill's `price` and `bill`,
 * the preset's `price`, `budget` and `model`), the same rule the provider bills by
 * (protocol/job_bill.ts). The deposit is paid when the provider asks; the delivery with the
 * result, its writes only as made; the model is the provider's to pay, out of the price.
 *
 * @module
 */
import type { HandlerSkill } from "../../protocol/nip89_handler.ts";
import type { HandlerModel } from "../../protocol/handler_bill.ts";
import { splitJobBill } from "../../protocol/job_bill.ts";
import { RoleError } from "../role_error.ts";

/**
 * A preset the provider does not announce.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgentTaskQuoteError } from "./agent_task_quote.ts";
 * assert.equal(new AgentTaskQuoteError("no preset claude").name, "AgentTaskQuoteError");
 * ```
 */
export class AgentTaskQuoteError extends RoleError {
  override name = "AgentTaskQuoteError";
}

/** Options for {@linkcode quoteAgentTask}. */
export interface AgentTaskQuoteOptions {
  /** The provider's agent-task skill, as its 31990 announces it. */
  skill: HandlerSkill;
  /** The preset's name. */
  agent: string;
  /** The requester's `--budget`, when given (the preset's own caps it). */
  budget?: bigint;
}

/** An agent task's quote (base units). */
export interface AgentTaskQuote {
  agent: string;
  /** The price: the skill's and the preset's. */
  price: bigint;
  skillPrice: bigint;
  presetPrice: bigint;
  /** Billed when the provider asks, before the agent runs. */
  deposit: bigint;
  /** Of the deposit, the write that asks it. */
  depositWrites: bigint;
  /** The price's share billed with the result. */
  deliveryShare: bigint;
  /** The most the delivery adds for the writes the job makes (only those made are billed). */
  writesReserved: bigint;
  /** The most the task can cost: the deposit, the delivery's share and the whole reserve. */
  most: bigint;
  /** The share of the price on delivery, percent. */
  onDelivery: number;
  /** The model calls' cap: the preset's budget, or the requester's when lower. */
  modelBudget: bigint;
  /** The model's token prices and who pays them, when the provider announces them. */
  model?: HandlerModel;
  /** False when the provider announces no parts (an older provider): all is in `price`. */
  itemized: boolean;
}

/**
 * The quote of an agent task with preset `agent` from the provider's agent-task skill.
 *
 * @example
 * ```ts
 * import { quoteAgentTask } from "./agent_task_quote.ts";
 * const q = quoteAgentTask({
 *   agent: "claude",
 *   skill: { name: "agent-task", kinds: [5603], price: "427900",
 *     bill: { skillPrice: "20000", onDelivery: 80, depositWrites: "7900",
 *       writesReserved: "400000" },
 *     agents: [{ name: "claude", price: "20000", budget: "200000" }] },
 * });
 * if (q.deposit !== 8000n + 7900n || q.deliveryShare !== 32000n) throw new Error();
 * if (q.most !== 427900n + 20000n) throw new Error();
 * ```
 * @throws {AgentTaskQuoteError} when the skill announces no such preset.
 */
export function quoteAgentTask(o: AgentTaskQuoteOptions): AgentTaskQuote {
  const preset = o.skill.agents?.find((a) => a.name === o.agent);
  if (preset === undefined) {
    throw new AgentTaskQuoteError(`the provider announces no agent preset ${o.agent}`);
  }
  const presetPrice = BigInt(preset.price);
  const presetBudget = BigInt(preset.budget);
  const modelBudget = o.budget !== undefined && o.budget < presetBudget ? o.budget : presetBudget;
  const announced = BigInt(o.skill.price);
  const b = o.skill.bill;
  // Without parts, the announced price is all billed up front (as a provider that itemizes
  // nothing bills it).
  const skillPrice = b === undefined ? announced : BigInt(b.skillPrice);
  const depositWrites = b === undefined ? 0n : BigInt(b.depositWrites);
  const reserved = b === undefined ? 0n : BigInt(b.writesReserved);
  const bill = splitJobBill({
    quote: {
      amount: announced,
      price: skillPrice,
      writes: announced - skillPrice,
      blobs: 0n,
      firstWrite: depositWrites,
    },
    extra: presetPrice,
    onDeliveryPercent: b?.onDelivery ?? 0,
  });
  return {
    agent: o.agent,
    price: bill.price,
    skillPrice,
    presetPrice,
    deposit: bill.deposit,
    depositWrites: bill.depositWrites,
    deliveryShare: bill.deliveryShare,
    writesReserved: b === undefined ? 0n : reserved,
    most: announced + presetPrice,
    onDelivery: b?.onDelivery ?? 0,
    modelBudget,
    ...(preset.model === undefined ? {} : { model: preset.model }),
    itemized: b !== undefined,
  };
}
