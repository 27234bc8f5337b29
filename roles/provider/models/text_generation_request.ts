/**
 * What a text-generation job (kind 5050) asks, read from its tags, and what its bid leaves for
 * tokens (docs/PROTOCOL.md "text-generation (kind 5050)"): the prompt (its `text` inputs, or a
 * `prompt` param), the preset (`model` param, default the first), the output tokens (`max_tokens`,
 * at most the preset's, cut to what the bid can pay) and `temperature`. Used twice with the same
 * figures: at admission, so a job its bid cannot pay is refused before any payment, and by the
 * runner, which calls the model within it.
 *
 * @module
 */
import type { ModelPreset } from "../../../config/model_presets.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import { microCost, unitsOf } from "../../agent_work/provider/gateway_meter.ts";
import { RoleError } from "../../role_error.ts";

/** The job cannot be taken: the message says why, for its requester. */
export class TextGenerationRefusedError extends RoleError {
  override name = "TextGenerationRefusedError";
}

/** A text-generation job's call, checked. */
export interface TextGenerationRequest {
  preset: ModelPreset;
  prompt: string;
  /** Output tokens asked of the upstream: within the preset's and the budget's. */
  maxTokens: number;
  temperature?: number;
  /** Whether `maxTokens` was lowered to fit the job's bid. */
  cutToBudget: boolean;
}

/**
 * Input tokens a prompt may count, at most: a token is at least one byte of text, plus what the
 * upstream's chat template adds around one message.
 */
export const PROMPT_TOKEN_OVERHEAD = 64;

/**
 * The job's call, or a {@linkcode TextGenerationRefusedError}.
 *
 * @param tags The request's tags (an encrypted job's decrypted).
 * @param presets The provider's presets, in the config's order (the first is the default).
 * @param tokenBudget What the job's bid leaves for tokens, base units (undefined: no bid).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textGenerationRequest } from "./text_generation_request.ts";
 * import { parseModelPresets } from "../../../config/model_presets.ts";
 *
 * const presets = parseModelPresets({
 *   local: {
 *     upstream: "http://127.0.0.1:11434",
 *     input_per_million: 1_000_000,
 *     output_per_million: 1_000_000,
 *   },
 * });
 * // "Say hi" counts as 6 + 64 input tokens at most: 70 units, 30 left for output.
 * const call = textGenerationRequest([["i", "Say hi", "text"]], presets, 100n);
 * assert.equal(call.maxTokens, 100 - 70);
 * assert(call.cutToBudget);
 * ```
 */
export function textGenerationRequest(
  tags: readonly string[][],
  presets: Readonly<Record<string, ModelPreset>>,
  tokenBudget: bigint | undefined,
): TextGenerationRequest {
  const param = (name: string) => tags.find((t) => t[0] === "param" && t[1] === name)?.[2];
  const names = Object.keys(presets);
  const asked = param("model") ?? names[0];
  if (asked === undefined || !Object.hasOwn(presets, asked)) {
    throw new TextGenerationRefusedError(
      `refused: no model preset ${JSON.stringify(asked ?? "")} here (served: ${
        names.join(", ") || "none"
      })`,
    );
  }
  const preset = presets[asked];
  const texts = tags.filter((t) => t[0] === "i" && (t[2] ?? "text") === "text").map((t) => t[1]);
  const prompt = texts.length > 0 ? texts.join("\n\n") : param("prompt") ?? "";
  if (prompt.trim() === "") {
    throw new TextGenerationRefusedError("refused: no prompt (a text input or a prompt param)");
  }
  const promptBytes = new TextEncoder().encode(prompt).byteLength;
  if (promptBytes > preset.maxPromptBytes) {
    throw new TextGenerationRefusedError(
      `refused: the prompt is ${promptBytes} bytes, over model ${asked}'s ${preset.maxPromptBytes}`,
    );
  }
  const maxText = param("max_tokens");
  let maxTokens = preset.maxTokens;
  if (maxText !== undefined) {
    if (!/^[1-9][0-9]{0,8}$/.test(maxText)) {
      throw new TextGenerationRefusedError(`refused: max_tokens ${JSON.stringify(maxText)}`);
    }
    maxTokens = Math.min(Number(maxText), preset.maxTokens);
  }
  const temperatureText = param("temperature");
  const temperature = temperatureText === undefined ? undefined : Number(temperatureText);
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) {
    throw new TextGenerationRefusedError(`refused: temperature ${temperatureText} (0 to 2)`);
  }
  const fitted = fitToBudget(preset, promptBytes, maxTokens, tokenBudget);
  return {
    preset,
    prompt,
    maxTokens: fitted,
    ...(temperature === undefined ? {} : { temperature }),
    cutToBudget: fitted < maxTokens,
  };
}

/**
 * The output tokens the budget can pay with the prompt counted at its most; a refusal when not
 * one.
 */
function fitToBudget(
  preset: ModelPreset,
  promptBytes: number,
  maxTokens: number,
  budget: bigint | undefined,
): number {
  if (budget === undefined) return maxTokens;
  const input = { inputTokens: promptBytes + PROMPT_TOKEN_OVERHEAD, outputTokens: 0 };
  const worst = microCost({ ...input, outputTokens: maxTokens }, preset);
  if (unitsOf(worst) <= budget) return maxTokens;
  const room = budget * 1_000_000n - microCost(input, preset);
  const most = preset.outputPerMillion === 0n || room < 0n ? 0n : room / preset.outputPerMillion;
  if (most < 1n) {
    throw new TextGenerationRefusedError(
      `refused: budget: the bid leaves ${budget} for tokens; the prompt alone may cost ${
        unitsOf(microCost(input, preset))
      } at model ${preset.name}'s prices (raise --bid)`,
    );
  }
  return Number(most);
}

/**
 * What a job's bid leaves for tokens once its bill as admitted is paid in full (the deposit,
 * the delivery's share, every write reserved), base units; undefined when it has no bid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenBudgetOf } from "./text_generation_request.ts";
 *
 * const record = { price: "900", deliveryPrice: "400", writesReserved: "2000" };
 * assert.equal(tokenBudgetOf(record, [["bid", "10000"]]), 6700n);
 * ```
 */
export function tokenBudgetOf(
  record: Pick<ProviderJobRecord, "price" | "deliveryPrice" | "writesReserved">,
  tags: readonly string[][],
): bigint | undefined {
  const bid = tags.find((t) => t[0] === "bid")?.[1];
  if (bid === undefined || !/^[0-9]{1,20}$/.test(bid)) return undefined;
  const billed = BigInt(record.price) + BigInt(record.deliveryPrice ?? "0") +
    BigInt(record.writesReserved ?? "0");
  return BigInt(bid) > billed ? BigInt(bid) - billed : 0n;
}
