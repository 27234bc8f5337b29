/**
 * The model gateway's books for one job (agent_gateway.ts): what the calls have
 * spent against the budget, and a bounded log of what was refused. The job's result can include
 * both (docs/SKILLS.md "The model gateway").
 *
 * Spend is kept exact, in millionths of an asset unit, and shown rounded up. Once it reaches the
 * budget the ledger says so once (`onBudgetReached`), and every later call is refused.
 *
 * @module
 */
import { microCost, type ModelPrices, type TokenUsage, unitsOf } from "./gateway_meter.ts";

/** Why the gateway refused a call (carried as data, in the log and the JSON error body). */
export type GatewayRefusalCode =
  | "forbidden"
  | "no-model"
  | "budget-spent"
  | "request-too-large"
  | "too-many-in-flight"
  | "too-many-calls"
  | "call-timeout"
  | "upstream-unreachable"
  | "upstream-line-too-long";

/** The HTTP status of each refusal. */
export const REFUSAL_STATUS: Readonly<Record<GatewayRefusalCode, number>> = {
  "forbidden": 403,
  // A preset with no upstream (config/agent_presets.ts): no call could ever pass.
  "no-model": 403,
  "budget-spent": 402,
  "request-too-large": 413,
  "too-many-in-flight": 429,
  "too-many-calls": 429,
  "call-timeout": 504,
  "upstream-unreachable": 502,
  "upstream-line-too-long": 502,
};

/** One refused call. */
export interface GatewayRefusal {
  /** When, as an ISO 8601 time. */
  at: string;
  code: GatewayRefusalCode;
  status: number;
  method: string;
  /** The path and query asked for (at most 300 characters), and the host when not ours. */
  target: string;
  /** Why, in words. */
  message: string;
}

/** The spend so far. */
export interface GatewaySpend {
  /** Calls forwarded to the upstream. */
  calls: number;
  /** Forwarded calls whose successful response reported no usage (metered at zero). */
  unmeteredCalls: number;
  /** Calls refused (all of them, also those past the log's bound). */
  refused: number;
  inputTokens: number;
  outputTokens: number;
  /** What the calls cost, in the provider's asset units, rounded up. */
  cost: bigint;
  budget: bigint;
  /** Whether `cost` has reached `budget`: every call is refused from then on. */
  exhausted: boolean;
}

/** One forwarded call, as metered: the result's per-call lines. */
export interface GatewayCall {
  /** When it started, as an ISO 8601 time. */
  at: string;
  /** Its response was 2xx. */
  ok: boolean;
  inputTokens: number;
  outputTokens: number;
  /** What it cost, base units as a decimal string, exact (up to six decimals). */
  cost: string;
}

/** Options for {@linkcode GatewayLedger}. */
export interface GatewayLedgerOptions {
  prices: ModelPrices;
  /** The most the calls may cost, in asset units. */
  budget: bigint;
  /** Called once, when the spend first reaches the budget. */
  onBudgetReached?: (spend: GatewaySpend) => void;
  /** Most refusals kept in the log (the oldest go first); default 100. */
  maxRefusals?: number;
  /** Most calls kept in the per-call log (the oldest go first); default 100. */
  maxCalls?: number;
}

/**
 * The spend and refusals of one gateway.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GatewayLedger } from "./gateway_ledger.ts";
 *
 * const ledger = new GatewayLedger({
 *   prices: { inputPerMillion: 1_000_000n, outputPerMillion: 2_000_000n },
 *   budget: 10n,
 * });
 * const call = ledger.startCall();
 * call.report({ inputTokens: 4, outputTokens: 3 });
 * assert.equal(ledger.spend().cost, 10n);
 * assert.equal(ledger.spend().exhausted, true);
 * ```
 */
export class GatewayLedger {
  readonly #options: GatewayLedgerOptions;
  #micro = 0n;
  #calls = 0;
  #unmetered = 0;
  #refused = 0;
  #inputTokens = 0;
  #outputTokens = 0;
  #reached = false;
  readonly #refusals: GatewayRefusal[] = [];
  readonly #callLog: GatewayCall[] = [];

  constructor(options: GatewayLedgerOptions) {
    if (options.budget < 0n) throw new RangeError("the budget is negative");
    this.#options = options;
  }

  /** Whether the budget is spent. */
  get exhausted(): boolean {
    return this.#micro >= this.#options.budget * 1_000_000n;
  }

  /** Calls forwarded so far. */
  get calls(): number {
    return this.#calls;
  }

  /**
   * A forwarded call: its usage is reported as it grows (running totals), and added to the spend
   * by the difference.
   */
  startCall(): MeteredCall {
    this.#calls++;
    const at = new Date().toISOString();
    let last: TokenUsage = { inputTokens: 0, outputTokens: 0 };
    let reported = false;
    return {
      report: (usage) => {
        reported = true;
        this.#inputTokens += usage.inputTokens - last.inputTokens;
        this.#outputTokens += usage.outputTokens - last.outputTokens;
        this.#micro += microCost(usage, this.#options.prices) -
          microCost(last, this.#options.prices);
        last = usage;
        if (this.exhausted && !this.#reached) {
          this.#reached = true;
          this.#options.onBudgetReached?.(this.spend());
        }
      },
      end: (succeeded) => {
        if (succeeded && !reported) this.#unmetered++;
        this.#callLog.push({
          at,
          ok: succeeded,
          ...last,
          cost: decimalUnits(microCost(last, this.#options.prices)),
        });
        if (this.#callLog.length > (this.#options.maxCalls ?? 100)) this.#callLog.shift();
      },
    };
  }

  /** Logs a refusal (bounded) and counts it. */
  refuse(refusal: Omit<GatewayRefusal, "at" | "status">): GatewayRefusal {
    const entry = {
      at: new Date().toISOString(),
      ...refusal,
      status: REFUSAL_STATUS[refusal.code],
      target: refusal.target.slice(0, 300),
    };
    this.#refused++;
    this.#refusals.push(entry);
    if (this.#refusals.length > (this.#options.maxRefusals ?? 100)) this.#refusals.shift();
    return entry;
  }

  /** The spend so far (a copy). */
  spend(): GatewaySpend {
    return {
      calls: this.#calls,
      unmeteredCalls: this.#unmetered,
      refused: this.#refused,
      inputTokens: this.#inputTokens,
      outputTokens: this.#outputTokens,
      cost: unitsOf(this.#micro),
      budget: this.#options.budget,
      exhausted: this.exhausted,
    };
  }

  /** The forwarded calls kept, oldest first, each once it ended (a copy). */
  callLog(): GatewayCall[] {
    return this.#callLog.map((c) => ({ ...c }));
  }

  /** The refusals kept, oldest first (a copy). */
  refusals(): GatewayRefusal[] {
    return this.#refusals.map((r) => ({ ...r }));
  }
}

/** One forwarded call's meter. */
export interface MeteredCall {
  /** The call's usage so far (running totals). */
  report(usage: TokenUsage): void;
  /** The response ended; `succeeded` when its status was 2xx. */
  end(succeeded: boolean): void;
}

/** Millionths of a unit as a decimal string of units, exact: 1_500_000n is "1.5". */
function decimalUnits(micro: bigint): string {
  const whole = micro / 1_000_000n;
  const part = (micro % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return part === "" ? String(whole) : `${whole}.${part}`;
}
