/**
 * A stand-in for a model API (Anthropic's Messages, OpenAI's Chat Completions and Responses), for
 * the model gateway's tests: a real HTTP server on the host's loopback that checks the key header
 * the flavor uses, answers JSON or Server-Sent Events with the usage fields the real APIs send,
 * and records every request it saw. It is not a model: every answer is the same text.
 *
 * - `POST /v1/messages` (`x-api-key`): JSON with `usage.input_tokens`/`output_tokens`; with
 *   `"stream": true` the events `message_start` (input tokens, 1 output token), a text delta,
 *   `message_delta` (the output tokens) and `message_stop`.
 * - `POST /v1/chat/completions` (`Authorization: Bearer`): JSON with `usage.prompt_tokens`/
 *   `completion_tokens`; streamed, chunks and, when `stream_options.include_usage`, a last chunk
 *   with the usage, then `data: [DONE]`.
 * - `POST /v1/responses` (Bearer): JSON with `usage.input_tokens`/`output_tokens`; streamed,
 *   `response.output_text.delta` events and `response.completed` with the usage.
 * - `POST /v1/hang` (either header): sends no answer until the server closes.
 * - `GET /v1/models` (either header): a list of one model, `stand-in`.
 * - anything else: 404. A wrong or missing key: 401, before anything else.
 *
 * @module
 */

/** One request the stand-in saw. */
export interface SeenRequest {
  method: string;
  /** Path and query. */
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** Options for {@linkcode startStandInModelApi}. */
export interface StandInModelApiOptions {
  /** The key the calls must carry. */
  apiKey: string;
  /** Input and output tokens every answer reports; default 1000 and 200. */
  usage?: { input: number; output: number };
  /** The answer's text; default `stand-in`. Streamed (chat, responses) one word a chunk. */
  text?: string;
  /** Time between two streamed chunks, ms; default 0. */
  chunkDelayMs?: number;
}

/** A running stand-in. */
export interface StandInModelApi extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request seen, oldest first (refused ones too). */
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Starts a stand-in model API on a free loopback port.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startStandInModelApi } from "./stand_in_model_api.ts";
 *
 * await using api = await startStandInModelApi({ apiKey: "sk-test" });
 * const res = await fetch(`${api.url}/v1/messages`, {
 *   method: "POST",
 *   headers: { "x-api-key": "sk-test" },
 *   body: JSON.stringify({ model: "m", messages: [] }),
 * });
 * assert.deepEqual((await res.json()).usage, { input_tokens: 1000, output_tokens: 200 });
 * ```
 */
export async function startStandInModelApi(
  options: StandInModelApiOptions,
): Promise<StandInModelApi> {
  const usage = options.usage ?? { input: 1000, output: 200 };
  const text = options.text ?? "stand-in";
  const words = text.match(/\S+\s*/g) ?? [text];
  const delay = options.chunkDelayMs ?? 0;
  const seen: SeenRequest[] = [];
  const closing = new AbortController();
  const released = Promise.withResolvers<void>();
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: closing.signal,
    onListen: ({ port }) => listening.resolve(port),
  }, async (req) => {
    const url = new URL(req.url);
    const body = await req.text();
    seen.push({
      method: req.method,
      target: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body,
    });
    const anthropic = url.pathname === "/v1/messages";
    const bearer = req.headers.get("authorization")?.replace(/^Bearer /, "");
    const xApiKey = req.headers.get("x-api-key");
    const either = url.pathname === "/v1/hang" || url.pathname === "/v1/models";
    const key = either ? xApiKey ?? bearer : anthropic ? xApiKey : bearer;
    if (key !== options.apiKey) {
      return Response.json({ error: { type: "authentication_error" } }, { status: 401 });
    }
    const asked = parse(body);
    if (req.method === "POST" && url.pathname === "/v1/hang") {
      await released.promise;
      return new Response("closing", { status: 503 });
    }
    if (req.method === "GET" && url.pathname === "/v1/models") {
      return Response.json({ object: "list", data: [{ id: "stand-in", object: "model" }] });
    }
    if (req.method !== "POST") return new Response("not found", { status: 404 });
    if (anthropic) {
      return asked.stream ? sse(anthropicEvents(usage)) : Response.json(message(usage));
    }
    if (url.pathname === "/v1/chat/completions") {
      if (!asked.stream) return Response.json(completion(usage, text));
      const withUsage = asked.stream_options?.include_usage === true;
      return sse(completionChunks(usage, withUsage, words), delay);
    }
    if (url.pathname === "/v1/responses") {
      const used = { input_tokens: usage.input, output_tokens: usage.output };
      if (asked.stream) {
        return sse([
          ...words.map((w): [string, unknown] => [
            "response.output_text.delta",
            { type: "response.output_text.delta", delta: w },
          ]),
          ["response.completed", {
            type: "response.completed",
            response: { object: "response", usage: used },
          }],
        ], delay);
      }
      return Response.json({
        object: "response",
        output: [{ type: "message", content: [{ type: "output_text", text }] }],
        usage: used,
      });
    }
    return new Response("not found", { status: 404 });
  });
  const port = await listening.promise;
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      released.resolve();
      closing.abort();
      await server.finished;
    })();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Asked {
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

function parse(body: string): Asked {
  try {
    return JSON.parse(body) ?? {};
  } catch {
    return {};
  }
}

function message(usage: { input: number; output: number }) {
  return {
    id: "msg_stand_in",
    type: "message",
    role: "assistant",
    content: [{ type: "text", text: "stand-in" }],
    usage: { input_tokens: usage.input, output_tokens: usage.output },
  };
}

function anthropicEvents(usage: { input: number; output: number }): [string, unknown][] {
  return [
    ["message_start", {
      type: "message_start",
      message: {
        ...message(usage),
        content: [],
        usage: { input_tokens: usage.input, output_tokens: 1 },
      },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "stand-in" },
    }],
    ["message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn" },
      usage: { output_tokens: usage.output },
    }],
    ["message_stop", { type: "message_stop" }],
  ];
}

function completion(usage: { input: number; output: number }, text: string) {
  return {
    id: "chatcmpl-stand-in",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content: text } }],
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output },
  };
}

function completionChunks(
  usage: { input: number; output: number },
  withUsage: boolean,
  words: string[],
): [string | undefined, unknown][] {
  const chunk = (choices: unknown[], extra = {}) => ({
    id: "chatcmpl-stand-in",
    object: "chat.completion.chunk",
    choices,
    ...extra,
  });
  return [
    ...words.map((w): [string | undefined, unknown] => [
      undefined,
      chunk([{ index: 0, delta: { content: w } }]),
    ]),
    [undefined, chunk([{ index: 0, delta: {}, finish_reason: "stop" }])],
    ...(withUsage
      ? [[
        undefined,
        chunk([], {
          usage: { prompt_tokens: usage.input, completion_tokens: usage.output },
        }),
      ] as [string | undefined, unknown]]
      : []),
    [undefined, "[DONE]"],
  ];
}

/** Each event as its own chunk, as a model streams them, `delayMs` apart. */
function sse(events: [string | undefined, unknown][], delayMs = 0): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const [event, data] of events) {
        const text = typeof data === "string" ? data : JSON.stringify(data);
        controller.enqueue(encoder.encode(`${event ? `event: ${event}\n` : ""}data: ${text}\n\n`));
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}
