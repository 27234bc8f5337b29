/**
 * One call of a model preset's upstream for a text-generation job (docs/SKILLS.md
 * "text-generation"): the request in the preset's API shape (OpenAI-compatible Chat Completions
 * or Responses, Anthropic Messages), the provider's key added here, the answer's text read as it
 * streams (or at once), and its usage metered by the model gateway's own meter
 * (roles/agent_work/provider/gateway_meter.ts) from the upstream's usage fields.
 *
 * @module
 */
import { MODEL_API_PATHS, type ModelPreset } from "../../../config/model_presets.ts";
import { type TokenUsage, UsageScanner } from "../../agent_work/provider/gateway_meter.ts";
import { RoleError } from "../../role_error.ts";
import { isRecord } from "../../../protocol/plain_record.ts";

/** The upstream refused the call, did not answer, or answered with no text. */
export class ModelCallError extends RoleError {
  override name = "ModelCallError";
}

/** What one call asks. */
export interface ModelCallOptions {
  preset: ModelPreset;
  prompt: string;
  /** Output tokens asked for (already within the preset's and the budget's). */
  maxTokens: number;
  temperature?: number;
  /** Each piece of text as it comes (streamed calls), in order. */
  onText?: (delta: string) => void;
  /** Most UTF-8 bytes of answer kept; what comes after is read for its usage, not kept. */
  maxAnswerBytes: number;
  /** Cancellation (kind 5, shutdown). */
  signal?: AbortSignal;
}

/** What one call gave. */
export interface ModelCallResult {
  text: string;
  /** The upstream's own count; undefined when it reported none. */
  usage: TokenUsage | undefined;
  /** Whether the answer passed `maxAnswerBytes` and was cut there. */
  cut: boolean;
}

/**
 * Calls the preset's upstream once; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callModel } from "./model_call.ts";
 * import { parseModelPresets } from "../../../config/model_presets.ts";
 *
 * // An upstream in-process on port 0 streaming a Chat Completions answer, its usage last.
 * const chunks = [
 *   { choices: [{ delta: { content: "Hi" } }] },
 *   { choices: [{ delta: { content: " there" } }] },
 *   { choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } },
 * ];
 * const body = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
 * await using upstream = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen: () => {} },
 *   () => new Response(body, { headers: { "content-type": "text/event-stream" } }),
 * );
 * const { local } = parseModelPresets({
 *   local: { upstream: `http://127.0.0.1:${upstream.addr.port}` },
 * });
 * const pieces: string[] = [];
 * const answer = await callModel({
 *   preset: local,
 *   prompt: "Say hi",
 *   maxTokens: 16,
 *   maxAnswerBytes: 16384,
 *   onText: (delta) => pieces.push(delta),
 * });
 * assert.deepEqual(pieces, ["Hi", " there"]);
 * assert.deepEqual(answer, {
 *   text: "Hi there",
 *   usage: { inputTokens: 9, outputTokens: 2 },
 *   cut: false,
 * });
 * ```
 */
export async function callModel(o: ModelCallOptions): Promise<ModelCallResult> {
  const { preset } = o;
  const timeout = AbortSignal.timeout(preset.timeoutMs);
  const signal = o.signal === undefined ? timeout : AbortSignal.any([o.signal, timeout]);
  let response: Response;
  try {
    response = await fetch(`${preset.upstream}${MODEL_API_PATHS[preset.api]}`, {
      method: "POST",
      headers: requestHeaders(preset),
      body: JSON.stringify(requestBody(o)),
      signal,
    });
  } catch (err) {
    throw new ModelCallError(`model ${preset.name}: the upstream did not answer: ${message(err)}`);
  }
  if (!response.ok) {
    const said = (await response.text().catch(() => "")).slice(0, 300);
    throw new ModelCallError(`model ${preset.name}: upstream answered ${response.status}: ${said}`);
  }
  const sse = (response.headers.get("content-type") ?? "").includes("text/event-stream");
  const scanner = new UsageScanner(sse, () => {});
  // A whole answer is the result at once: only a streamed one is told piece by piece.
  const answer = new AnswerText(o.maxAnswerBytes, sse ? o.onText : undefined);
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of response.body ?? new ReadableStream<Uint8Array>()) {
      scanner.push(chunk);
      const text = decoder.decode(chunk, { stream: true });
      if (!sse) {
        if (pending.length < 64 * 2 ** 20) pending += text;
        continue;
      }
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) answer.add(streamedText(line));
    }
  } catch (err) {
    const why = timeout.aborted ? `no whole answer within ${preset.timeoutMs} ms` : message(err);
    throw new ModelCallError(`model ${preset.name}: ${why}`);
  }
  scanner.end();
  if (sse) answer.add(streamedText(pending));
  else answer.add(wholeText(parse(pending)));
  return { text: answer.text, usage: scanner.usage, cut: answer.cut };
}

/** The answer so far, bounded in bytes, each new piece told. */
class AnswerText {
  text = "";
  cut = false;
  #bytes = 0;
  readonly #encoder = new TextEncoder();
  constructor(readonly max: number, readonly onText?: (delta: string) => void) {}

  add(delta: string | undefined): void {
    if (delta === undefined || delta === "" || this.cut) return;
    let kept = delta;
    let size = this.#encoder.encode(delta).byteLength;
    if (this.#bytes + size > this.max) {
      // Cut at a whole character within the room left.
      kept = "";
      size = 0;
      for (const char of delta) {
        const width = this.#encoder.encode(char).byteLength;
        if (this.#bytes + size + width > this.max) break;
        kept += char;
        size += width;
      }
      this.cut = true;
    }
    this.text += kept;
    this.#bytes += size;
    if (kept !== "") this.onText?.(kept);
  }
}

function requestHeaders(preset: ModelPreset): Headers {
  const headers = new Headers({ "content-type": "application/json", ...preset.headers });
  // Bodies come as they are: the meter and the text reader read them uncompressed.
  headers.set("accept-encoding", "identity");
  if (preset.apiKey !== "") {
    if (preset.api === "anthropic") headers.set("x-api-key", preset.apiKey);
    else headers.set("authorization", `Bearer ${preset.apiKey}`);
  }
  return headers;
}

function requestBody(o: ModelCallOptions): Record<string, unknown> {
  const { preset } = o;
  const temperature = o.temperature === undefined ? {} : { temperature: o.temperature };
  const stream = preset.stream;
  const messages = [{ role: "user", content: o.prompt }];
  switch (preset.api) {
    case "chat":
      return {
        model: preset.model,
        messages,
        max_tokens: o.maxTokens,
        ...temperature,
        stream,
        // A streamed chat call reports its usage only when asked (as the gateway asks).
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      };
    case "responses":
      return {
        model: preset.model,
        input: o.prompt,
        max_output_tokens: o.maxTokens,
        ...temperature,
        stream,
      };
    case "anthropic":
      return { model: preset.model, messages, max_tokens: o.maxTokens, ...temperature, stream };
  }
}

/** The text of one event-stream line, in any of the three shapes, or undefined. */
function streamedText(line: string): string | undefined {
  const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (!trimmed.startsWith("data:")) return undefined;
  const value = parse(trimmed.slice(5).trim());
  if (!isRecord(value)) return undefined;
  // Chat Completions: choices[0].delta.content.
  if (Array.isArray(value.choices)) {
    const first = value.choices[0];
    const delta = isRecord(first) && isRecord(first.delta) ? first.delta.content : undefined;
    return typeof delta === "string" ? delta : undefined;
  }
  // Responses: `response.output_text.delta`.
  if (value.type === "response.output_text.delta" && typeof value.delta === "string") {
    return value.delta;
  }
  // Messages: `content_block_delta` with a `text_delta`.
  if (value.type === "content_block_delta" && isRecord(value.delta)) {
    return typeof value.delta.text === "string" ? value.delta.text : undefined;
  }
  return undefined;
}

/** The text of a whole JSON answer, in any of the three shapes, or undefined. */
function wholeText(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (Array.isArray(value.choices)) {
    const first = value.choices[0];
    const content = isRecord(first) && isRecord(first.message) ? first.message.content : undefined;
    return typeof content === "string" ? content : undefined;
  }
  if (typeof value.output_text === "string") return value.output_text;
  const parts = Array.isArray(value.output)
    ? value.output.flatMap((o) => isRecord(o) && Array.isArray(o.content) ? o.content : [])
    : Array.isArray(value.content)
    ? value.content
    : [];
  const texts = parts.filter((p) =>
    isRecord(p) && (p.type === "output_text" || p.type === "text") && typeof p.text === "string"
  ).map((p) => (p as { text: string }).text);
  return texts.length > 0 ? texts.join("") : undefined;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // `[DONE]`, an event name, a partial line
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
