/**
 * A provider's model presets: the `[models.<name>]` tables of its config.toml, each a model
 * server the `text-generation` skill (kind 5050) calls (docs/SKILLS.md "text-generation",
 * docs/OPERATIONS.md "Model presets"): where it is, which API shape it speaks, its key (read
 * here from a variable or a file, so it is never in the config and never in a job), its prices
 * and its limits.
 *
 * ```toml
 * [models.llama]
 * upstream = "http://127.0.0.1:11434"   # the server's base URL (`/v1/...` is added)
 * api = "chat"                # chat (/v1/chat/completions), responses (/v1/responses) or
 *                             # anthropic (/v1/messages)
 * model = "llama3.2"          # the model the upstream is asked for (default: the preset's name)
 * api_key_env = "MODEL_KEY"   # or api_key_file = "/etc/turnpike/model.key"; none: no key sent
 * price = 100                 # base units per job, besides the skill's
 * input_per_million = 1000    # base units per million input tokens (the upstream's count)
 * output_per_million = 5000   # base units per million output tokens
 * max_tokens = 1024           # most output tokens a job may ask (default 1024)
 * max_prompt_bytes = 32768    # largest prompt taken (default 32 KiB)
 * timeout = 120               # seconds per call (default 120)
 * stream = true               # ask the upstream to stream (default true)
 * headers = { "anthropic-version" = "2023-06-01" }
 * ```
 *
 * @module
 */
import { parsePresetTable, PresetTableError, readPresetApiKey } from "./preset_table.ts";
import { isRecord } from "../protocol/plain_record.ts";

/** The API shapes a preset may speak, and the path each calls. */
export const MODEL_API_PATHS = {
  chat: "/v1/chat/completions",
  responses: "/v1/responses",
  anthropic: "/v1/messages",
} as const;

/** Which API a model preset's upstream speaks. */
export type ModelApi = keyof typeof MODEL_API_PATHS;

/** One model preset, checked, its key read. */
export interface ModelPreset {
  name: string;
  /** The upstream's base URL, http or https, without `/v1`. */
  upstream: string;
  api: ModelApi;
  /** The model id the upstream is asked for. */
  model: string;
  /** The provider's key ("": none sent, as a local server needs). */
  apiKey: string;
  /** Base units per job, added to the skill's price. */
  price: bigint;
  /** Base units per million input tokens, as the upstream counts them. */
  inputPerMillion: bigint;
  /** Base units per million output tokens. */
  outputPerMillion: bigint;
  /** Most output tokens one job may ask. */
  maxTokens: number;
  /** Largest prompt (UTF-8 bytes) taken. */
  maxPromptBytes: number;
  /** Longest one call may take, ms. */
  timeoutMs: number;
  /** Whether the upstream is asked to stream (the answer goes out as partial feedback). */
  stream: boolean;
  /** Headers added to every call. */
  headers: Record<string, string>;
}

/** Options for {@linkcode parseModelPresets}. */
export interface ParseModelPresetsOptions {
  /** Environment, for `api_key_env`; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Reads `api_key_file`; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

/** Every problem of the `[models]` presets at once, one line each naming preset and key. */
export class ModelPresetsError extends PresetTableError {
  /** `"ModelPresetsError"`: explicit so it survives bundling. */
  override name = "ModelPresetsError";
  /** `problems`: at least one. */
  constructor(problems: string[]) {
    super("models", problems);
  }
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * The presets of a `[models]` table (empty: none). Every problem of every preset is found
 * before one {@linkcode ModelPresetsError} lists them all.
 *
 * @example
 * ```ts
 * import { parseModelPresets } from "./model_presets.ts";
 *
 * const presets = parseModelPresets({
 *   llama: { upstream: "http://127.0.0.1:11434", model: "llama3.2", output_per_million: 5000 },
 * });
 * if (presets.llama.api !== "chat" || presets.llama.apiKey !== "") throw new Error();
 * if (presets.llama.maxTokens !== 1024) throw new Error();
 * ```
 */
export function parseModelPresets(
  table: unknown,
  options: ParseModelPresetsOptions = {},
): Record<string, ModelPreset> {
  return parsePresetTable(table, {
    section: "models",
    read: (where, name, value, problem) => readPreset(where, name, value, options, problem),
    error: (problems) => new ModelPresetsError(problems),
  });
}

function readPreset(
  where: string,
  name: string,
  value: unknown,
  options: ParseModelPresetsOptions,
  problem: (line: string) => void,
): ModelPreset | undefined {
  if (!NAME.test(name)) problem(`${where}: a preset name is [a-z0-9._-], 1-64`);
  if (!isRecord(value)) {
    problem(`${where} must be a table`);
    return undefined;
  }
  const text = (key: string, fallback?: string): string => {
    const v = value[key] ?? fallback;
    if (typeof v === "string" && v.trim() !== "") return v;
    problem(`${where} ${key}: a non-empty string is required`);
    return "";
  };
  const units = (key: string, fallback: bigint): bigint => {
    const v = value[key];
    if (v === undefined) return fallback;
    if (
      (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) ||
      (typeof v === "string" && /^\d{1,30}$/.test(v))
    ) return BigInt(v);
    problem(`${where} ${key}: a whole number of base units >= 0 is required`);
    return 0n;
  };
  const whole = (key: string, fallback: number, max: number): number => {
    const v = value[key] ?? fallback;
    if (typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v <= max) return v;
    problem(`${where} ${key}: a whole number in [1, ${max}]`);
    return fallback;
  };
  const upstream = text("upstream");
  if (upstream !== "") {
    try {
      const url = new URL(upstream);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
    } catch {
      problem(`${where} upstream: an http or https URL, not ${JSON.stringify(upstream)}`);
    }
  }
  const api = text("api", "chat");
  if (api !== "" && !Object.hasOwn(MODEL_API_PATHS, api)) {
    problem(`${where} api: chat, responses or anthropic, not ${JSON.stringify(api)}`);
  }
  const headers = value.headers ?? {};
  if (!isRecord(headers) || !Object.values(headers).every((h) => typeof h === "string")) {
    problem(`${where} headers: a table of strings`);
  }
  if (value.stream !== undefined && typeof value.stream !== "boolean") {
    problem(`${where} stream: true or false`);
  }
  return {
    name,
    upstream: upstream.replace(/\/+$/, "").replace(/\/v1$/, ""),
    api: (Object.hasOwn(MODEL_API_PATHS, api) ? api : "chat") as ModelApi,
    model: text("model", name),
    apiKey: readPresetApiKey(where, value, options, problem, false),
    price: units("price", 0n),
    inputPerMillion: units("input_per_million", 0n),
    outputPerMillion: units("output_per_million", 0n),
    maxTokens: whole("max_tokens", 1024, 1_000_000),
    maxPromptBytes: whole("max_prompt_bytes", 32 * 1024, 8 * 1024 * 1024),
    timeoutMs: whole("timeout", 120, 3600) * 1000,
    stream: value.stream !== false,
    headers: {
      ...(api === "anthropic" ? { "anthropic-version": "2023-06-01" } : {}),
      ...(headers as Record<string, string>),
    },
  };
}
