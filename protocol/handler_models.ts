/**
 * A text-generation skill's model presets as a provider's 31990 announces them (docs/PROTOCOL.md
 * "text-generation (kind 5050)"): each one's name, its price per job (besides the skill's), its
 * token prices per million tokens, paid by the requester from the upstream's own counts, and the
 * most output tokens a job may ask. A malformed list is left out, as a malformed agent list is.
 *
 * @module
 */

/** One announced model preset (base units, decimal strings). */
export interface HandlerModelPreset {
  name: string;
  /** Per job, besides the skill's price. */
  price: string;
  inputPerMillion: string;
  outputPerMillion: string;
  maxTokens: number;
}

const UNITS = /^\d{1,30}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * The announced list of `presets` (config/model_presets.ts), in the config's order.
 *
 * @example
 * ```ts
 * import { announcedModels } from "./handler_models.ts";
 * const list = announcedModels({ llama: { name: "llama", price: 100n, inputPerMillion: 1000n,
 *   outputPerMillion: 5000n, maxTokens: 1024 } });
 * if (list[0].price !== "100" || list[0].outputPerMillion !== "5000") throw new Error();
 * ```
 */
export function announcedModels(
  presets: Readonly<
    Record<string, {
      name: string;
      price: bigint;
      inputPerMillion: bigint;
      outputPerMillion: bigint;
      maxTokens: number;
    }>
  >,
): HandlerModelPreset[] {
  return Object.values(presets).map((p) => ({
    name: p.name,
    price: String(p.price),
    inputPerMillion: String(p.inputPerMillion),
    outputPerMillion: String(p.outputPerMillion),
    maxTokens: p.maxTokens,
  }));
}

/**
 * A skill's `models` member, or undefined when absent or malformed.
 *
 * @example
 * ```ts
 * import { readHandlerModels } from "./handler_models.ts";
 * const ok = readHandlerModels([{ name: "llama", price: "100", inputPerMillion: "1000",
 *   outputPerMillion: "5000", maxTokens: 1024 }]);
 * if (ok?.[0].name !== "llama") throw new Error();
 * if (readHandlerModels([{ name: "llama" }]) !== undefined) throw new Error();
 * ```
 */
export function readHandlerModels(value: unknown): HandlerModelPreset[] | undefined {
  if (!Array.isArray(value) || value.length > 64) return undefined;
  const presets: HandlerModelPreset[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) return undefined;
    const m = item as Record<string, unknown>;
    const units = [m.price, m.inputPerMillion, m.outputPerMillion];
    if (
      typeof m.name !== "string" || !NAME.test(m.name) ||
      !units.every((u) => typeof u === "string" && UNITS.test(u)) ||
      !Number.isSafeInteger(m.maxTokens) || (m.maxTokens as number) < 1
    ) return undefined;
    presets.push({
      name: m.name,
      price: m.price as string,
      inputPerMillion: m.inputPerMillion as string,
      outputPerMillion: m.outputPerMillion as string,
      maxTokens: m.maxTokens as number,
    });
  }
  return presets;
}
