/**
 * What a model API call costs, from the usage the upstream reports in its own response: the rules
 * of the model gateway's meter (agent_gateway.ts, docs/SKILLS.md "The model
 * gateway"). Pure: bodies and chunks in, token counts and amounts out.
 *
 * Where the usage is:
 * - Anthropic, JSON: `usage.input_tokens`, `usage.output_tokens` (and the cache's
 *   `cache_creation_input_tokens`, `cache_read_input_tokens`, counted as input: the meter may
 *   charge more than the upstream bills, never less); streamed (SSE): `message_start`'s
 *   `message.usage` and each `message_delta`'s `usage`, both running totals.
 * - OpenAI, JSON: `usage.prompt_tokens`, `usage.completion_tokens` (Chat Completions) or
 *   `usage.input_tokens`, `usage.output_tokens` (Responses); streamed: the chunk that carries
 *   `usage` (Chat Completions, with `stream_options.include_usage`, which the gateway sets) or
 *   `response.completed`'s `response.usage` (Responses).
 * Counts are running totals: a later report replaces an earlier one, field by field, when larger.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { isRecord } from "../../../protocol/plain_record.ts";

/** Tokens of one call (or of many, summed). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Prices in the provider's asset units per million tokens. */
export interface ModelPrices {
  inputPerMillion: bigint;
  outputPerMillion: bigint;
}

const MILLION = 1_000_000n;

/**
 * What `usage` costs, in millionths of an asset unit (exact: summed over calls, then rounded up
 * once by {@linkcode unitsOf}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { microCost, unitsOf } from "./gateway_meter.ts";
 *
 * const micro = microCost({ inputTokens: 1000, outputTokens: 10 }, {
 *   inputPerMillion: 3000n,
 *   outputPerMillion: 15000n,
 * });
 * assert.equal(unitsOf(micro), 4n); // 3 units and 150000 millionths, rounded up
 * ```
 */
export function microCost(usage: TokenUsage, prices: ModelPrices): bigint {
  return BigInt(usage.inputTokens) * prices.inputPerMillion +
    BigInt(usage.outputTokens) * prices.outputPerMillion;
}

/**
 * Millionths of a unit as whole units, rounded up (a call never costs less than it did).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unitsOf } from "./gateway_meter.ts";
 *
 * assert.equal(unitsOf(1n), 1n);
 * assert.equal(unitsOf(2_000_000n), 2n);
 * ```
 */
export function unitsOf(micro: bigint): bigint {
  return (micro + MILLION - 1n) / MILLION;
}

/**
 * The usage in one decoded JSON value (a whole response, or one streamed event's data), or
 * undefined when it reports none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { usageOf } from "./gateway_meter.ts";
 *
 * assert.deepEqual(usageOf({ usage: { input_tokens: 12, output_tokens: 5 } }), { inputTokens: 12, outputTokens: 5 });
 * usageOf({ type: "message_start", message: { usage: { input_tokens: 12, output_tokens: 1 } } });
 * assert.deepEqual(usageOf({ usage: { prompt_tokens: 7, completion_tokens: 3 } }), { inputTokens: 7, outputTokens: 3 });
 * ```
 */
export function usageOf(value: unknown): TokenUsage | undefined {
  if (!isRecord(value)) return undefined;
  const nested = isRecord(value.message)
    ? value.message
    : isRecord(value.response)
    ? value.response
    : undefined;
  const usage = isRecord(value.usage) ? value.usage : nested?.usage;
  if (!isRecord(usage)) return undefined;
  const input = count(usage.input_tokens) + count(usage.cache_creation_input_tokens) +
    count(usage.cache_read_input_tokens) + count(usage.prompt_tokens);
  const output = count(usage.output_tokens) + count(usage.completion_tokens);
  const reported = ["input_tokens", "output_tokens", "prompt_tokens", "completion_tokens"]
    .some((k) => typeof usage[k] === "number");
  return reported ? { inputTokens: input, outputTokens: output } : undefined;
}

/** Options for {@linkcode UsageScanner}. */
export interface UsageScannerOptions {
  /** Most characters of a JSON body kept for decoding (default 64 MiB); past it, it is not read. */
  maxJsonChars?: number;
  /**
   * Longest line of an event stream, in characters (default {@linkcode MAX_SSE_LINE_CHARS}):
   * a longer one throws {@linkcode SseLineTooLongError}.
   */
  maxLineChars?: number;
}

/**
 * The longest event-stream line the meter reads: a real event (one `data:` line of a delta or a
 * usage report) is a few KiB; the cap keeps what a hostile upstream can make the provider hold
 * for one response at about this many characters.
 */
export const MAX_SSE_LINE_CHARS = 2 ** 20;

/** An event stream sent a line longer than the meter reads: the call is ended, not buffered. */
export class SseLineTooLongError extends RoleError {
  override name = "SseLineTooLongError";
}

/**
 * Reads one response body as it streams past and keeps its latest usage: JSON (decoded at the
 * end) or Server-Sent Events (each `data:` line decoded as it completes). There is no SSE or
 * line-splitting library among the project's imports (deno.json), hence the few lines here. What
 * it holds is bounded: a JSON body past `maxJsonChars` is not kept, and an event-stream line past
 * `maxLineChars` throws {@linkcode SseLineTooLongError} from `push` (the caller ends the call).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageScanner } from "./gateway_meter.ts";
 *
 * const seen: number[] = [];
 * const scanner = new UsageScanner(true, (u) => seen.push(u.outputTokens));
 * scanner.push(new TextEncoder().encode('data: {"usage":{"input_tokens":3,"output_tokens":9}}\n'));
 * scanner.end();
 * assert.deepEqual(scanner.usage, { inputTokens: 3, outputTokens: 9 });
 * ```
 */
export class UsageScanner {
  /** The usage so far (running totals), or undefined before any report. */
  usage: TokenUsage | undefined;
  readonly #sse: boolean;
  readonly #onUsage: (usage: TokenUsage) => void;
  readonly #decoder = new TextDecoder();
  #pending = "";
  readonly #maxJsonChars: number;
  readonly #maxLineChars: number;

  /**
   * @param sse Whether the body is an event stream (`text/event-stream`).
   * @param onUsage Called whenever the usage grows.
   */
  constructor(
    sse: boolean,
    onUsage: (usage: TokenUsage) => void,
    options: UsageScannerOptions = {},
  ) {
    this.#sse = sse;
    this.#onUsage = onUsage;
    this.#maxJsonChars = options.maxJsonChars ?? 64 * 2 ** 20;
    this.#maxLineChars = options.maxLineChars ?? MAX_SSE_LINE_CHARS;
  }

  /** Whether the body is an event stream, metered line by line (else at its end). */
  get sse(): boolean {
    return this.#sse;
  }

  /** One chunk of the body, as received. Throws {@linkcode SseLineTooLongError}. */
  push(chunk: Uint8Array): void {
    const text = this.#decoder.decode(chunk, { stream: true });
    if (!this.#sse) {
      if (this.#pending.length + text.length <= this.#maxJsonChars) this.#pending += text;
      return;
    }
    // Only the new text is searched for a line's end: re-splitting what is pending at every
    // chunk made a long line cost its length squared.
    let from = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", from)) {
      this.#take(text.slice(from, nl));
      this.#line(this.#pending.endsWith("\r") ? this.#pending.slice(0, -1) : this.#pending);
      this.#pending = "";
      from = nl + 1;
    }
    this.#take(text.slice(from));
  }

  /** The body ended: decodes what is left. */
  end(): void {
    this.#pending += this.#decoder.decode();
    if (this.#sse) this.#line(this.#pending);
    else this.#report(parse(this.#pending));
    this.#pending = "";
  }

  /** Part of the current line, within the cap. */
  #take(part: string): void {
    if (this.#pending.length + part.length > this.#maxLineChars) {
      this.#pending = "";
      throw new SseLineTooLongError(
        `the upstream sent an event-stream line over ${this.#maxLineChars} characters`,
      );
    }
    this.#pending += part;
  }

  #line(line: string): void {
    if (line.startsWith("data:")) this.#report(parse(line.slice(5).trim()));
  }

  #report(value: unknown): void {
    const found = usageOf(value);
    if (found === undefined) return;
    const before = this.usage;
    const next = {
      inputTokens: Math.max(before?.inputTokens ?? 0, found.inputTokens),
      outputTokens: Math.max(before?.outputTokens ?? 0, found.outputTokens),
    };
    if (next.inputTokens === before?.inputTokens && next.outputTokens === before?.outputTokens) {
      return;
    }
    this.usage = next;
    this.#onUsage(next);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // `[DONE]`, a partial or an error body: no usage in it
  }
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * The upstream's body as the caller gets it: each chunk goes through the meter before the caller
 * sees it, a JSON body's last chunk only once the meter has ended (so the spend is counted by the
 * time the caller has read the body), and a caller that leaves early leaves the rest to the
 * meter, which reads on to the end: the upstream bills what it generated. `onEnd` is called once, with the error when the body broke.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meteredBody, UsageScanner } from "./gateway_meter.ts";
 *
 * const outputs: number[] = [];
 * const ends: unknown[] = [];
 * const scanner = new UsageScanner(false, (u) => outputs.push(u.outputTokens));
 * const upstream = new Response('{"usage":{"input_tokens":3,"output_tokens":5}}').body!;
 * const body = meteredBody(upstream, scanner, (failure) => ends.push(failure));
 * await new Response(body).text();
 * assert.deepEqual([outputs, ends], [[5], [undefined]]);
 * ```
 */
export function meteredBody(
  body: ReadableStream<Uint8Array>,
  scanner: UsageScanner,
  onEnd: (failure?: unknown) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let over = false;
  let cancelled = false;
  // Once: a caller that leaves while a read is under way leaves two reads racing to the end.
  const ended = (failure?: unknown) => {
    if (over) return;
    over = true;
    if (failure === undefined) scanner.end();
    onEnd(failure);
  };
  // A JSON body is metered at its end: its last chunk is held until the next read says it was
  // the last, so the caller never has the whole body before its usage is counted (the job's
  // runner reads the spend as soon as the agent exits). An event stream is metered line by line
  // and passes at once.
  let held: Uint8Array | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.read();
        } catch (err) {
          ended(err);
          if (!cancelled) controller.error(err);
          return;
        }
        if (read.done) {
          ended();
          if (cancelled) return;
          if (held !== undefined) controller.enqueue(held);
          controller.close();
          return;
        }
        try {
          scanner.push(read.value);
        } catch (err) {
          // A line over the meter's cap: the call ends here, the rest is never read or held.
          ended(err);
          reader.cancel(err).catch(() => {});
          if (!cancelled) controller.error(err);
          return;
        }
        if (cancelled) return;
        if (scanner.sse) return controller.enqueue(read.value);
        const previous = held;
        held = read.value;
        if (previous !== undefined) return controller.enqueue(previous);
      }
    },
    async cancel() {
      cancelled = true;
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) scanner.push(r.value);
        ended();
      } catch (err) {
        ended(err);
        reader.cancel(err).catch(() => {});
      }
    },
  }, { highWaterMark: 0 });
}
