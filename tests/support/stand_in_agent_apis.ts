/**
 * Stand-ins for the model APIs the real coding agents call (Anthropic's Messages for Claude Code,
 * OpenAI's Responses for Codex), for the tests that run those agents' real binaries through the
 * job's gateway (tests/e2e/agent_real_cli_test.ts). No real model can be reached from this
 * machine, so these are stand-ins: real HTTP servers on the host's loopback that check the key
 * the provider's gateway adds, record every request, and answer with a script instead of a
 * model:
 *
 * - a request whose last input is a tool's result gets the final text {@linkcode FINAL_TEXT};
 * - a request that offers a shell tool gets one call of it running {@linkcode StandInAgentApiOptions.command};
 * - any other request (a title, a quota probe) gets a short text.
 *
 * Every answer streams (Server-Sent Events, one event a chunk) when asked to, with the usage
 * fields the real APIs send: Anthropic's `message_start`/`message_delta`, OpenAI's
 * `response.completed`.
 *
 * @module
 */

/** The text each stand-in answers once the tool's result came back. */
export const FINAL_TEXT = "stand-in: the tool ran, the work is committed";

/** One request a stand-in saw. */
export interface AgentApiRequest {
  method: string;
  /** Path and query. */
  target: string;
  headers: Record<string, string>;
  /** The request's body. */
  body: string;
  /** Request body bytes. */
  bytes: number;
  /** Response body bytes sent. */
  answeredBytes: number;
  /** What the stand-in answered: `tool`, `final`, `text`, or a refusal's status. */
  answer: string;
}

/** Options for {@linkcode startStandInAgentApi}. */
export interface StandInAgentApiOptions {
  /** `anthropic`: `POST /v1/messages`; `openai`: `POST /v1/responses`. */
  flavor: "anthropic" | "openai";
  /** The key the gateway adds (`x-api-key`, or `Authorization: Bearer`). */
  apiKey: string;
  /** The shell command the scripted tool call runs. */
  command: string;
  /** Input and output tokens each answer reports; default 1000 and 200. */
  usage?: { input: number; output: number };
}

/** A running stand-in. */
export interface StandInAgentApi extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request seen, oldest first (refused ones too). */
  readonly seen: AgentApiRequest[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/**
 * Starts a stand-in on a free loopback port.
 *
 * @example
 * ```ts
 * import { startStandInAgentApi } from "./stand_in_agent_apis.ts";
 *
 * await using api = await startStandInAgentApi({
 *   flavor: "anthropic",
 *   apiKey: "sk-test",
 *   command: "true",
 * });
 * const res = await fetch(`${api.url}/v1/messages`, {
 *   method: "POST",
 *   headers: { "x-api-key": "sk-test" },
 *   body: JSON.stringify({ tools: [{ name: "Bash" }], messages: [] }),
 * });
 * (await res.json()).content[0].type; // "tool_use"
 * ```
 */
export async function startStandInAgentApi(
  options: StandInAgentApiOptions,
): Promise<StandInAgentApi> {
  const usage = options.usage ?? { input: 1000, output: 200 };
  const seen: AgentApiRequest[] = [];
  const closing = new AbortController();
  const listening = Promise.withResolvers<number>();
  const path = options.flavor === "anthropic" ? "/v1/messages" : "/v1/responses";
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: closing.signal,
    onListen: ({ port }) => listening.resolve(port),
  }, async (req) => {
    const url = new URL(req.url);
    const body = await req.text();
    const entry: AgentApiRequest = {
      method: req.method,
      target: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
      body,
      bytes: new TextEncoder().encode(body).length,
      answeredBytes: 0,
      answer: "",
    };
    seen.push(entry);
    const key = options.flavor === "anthropic"
      ? req.headers.get("x-api-key")
      : req.headers.get("authorization")?.replace(/^Bearer /, "");
    const refuse = (status: number) => {
      entry.answer = String(status);
      return Response.json({ error: { type: "stand-in", status } }, { status });
    };
    if (key !== options.apiKey) return refuse(401);
    if (req.method !== "POST" || url.pathname !== path) return refuse(404);
    let asked: Json;
    try {
      asked = JSON.parse(body);
    } catch {
      return refuse(400);
    }
    const scripted = options.flavor === "anthropic"
      ? anthropicAnswer(asked, options.command, usage)
      : openaiAnswer(asked, options.command, usage);
    entry.answer = scripted.answer;
    const text = asked.stream === true
      ? scripted.events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
        .join("")
      : JSON.stringify(scripted.whole);
    const bytes = new TextEncoder().encode(text);
    entry.answeredBytes = bytes.length;
    return new Response(bytes, {
      headers: { "content-type": asked.stream === true ? "text/event-stream" : "application/json" },
    });
  });
  const port = await listening.promise;
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      closing.abort();
      await server.finished;
    })();
  return { url: `http://127.0.0.1:${port}`, seen, close, [Symbol.asyncDispose]: close };
}

interface Scripted {
  answer: "tool" | "final" | "text";
  /** The non-streamed answer. */
  whole: Json;
  /** The streamed answer: event name and data. */
  events: [string, Json][];
}

type Usage = { input: number; output: number };

/** Anthropic Messages: `tool_use` of the `Bash` tool, then the final text. */
function anthropicAnswer(asked: Json, command: string, usage: Usage): Scripted {
  const messages = (asked.messages ?? []) as { role: string; content: unknown }[];
  const last = messages.at(-1)?.content;
  const toolResult = Array.isArray(last) &&
    last.some((b) => (b as Json).type === "tool_result");
  const tools = (asked.tools ?? []) as { name?: string }[];
  const bash = tools.some((t) => t.name === "Bash");
  const answer = toolResult ? "final" : bash ? "tool" : "text";
  const block: Json = answer === "tool"
    ? {
      type: "tool_use",
      id: "toolu_stand_in_1",
      name: "Bash",
      input: { command, description: "Fix add and commit" },
    }
    : { type: "text", text: answer === "final" ? FINAL_TEXT : "stand-in" };
  const stop = answer === "tool" ? "tool_use" : "end_turn";
  const message = {
    id: `msg_stand_in_${crypto.randomUUID().slice(0, 8)}`,
    type: "message",
    role: "assistant",
    model: String(asked.model ?? "stand-in"),
    stop_reason: null,
    stop_sequence: null,
  };
  const whole = {
    ...message,
    content: [block],
    stop_reason: stop,
    usage: { input_tokens: usage.input, output_tokens: usage.output },
  };
  const start = answer === "tool" ? { ...block, input: {} } : { type: "text", text: "" };
  const delta = answer === "tool"
    ? { type: "input_json_delta", partial_json: JSON.stringify(block.input) }
    : { type: "text_delta", text: block.text };
  const events: [string, Json][] = [
    ["message_start", {
      type: "message_start",
      message: { ...message, content: [], usage: { input_tokens: usage.input, output_tokens: 1 } },
    }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: start }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", {
      type: "message_delta",
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: usage.output },
    }],
    ["message_stop", { type: "message_stop" }],
  ];
  return { answer, whole, events };
}

/**
 * OpenAI Responses: a `function_call` of whichever shell tool the client offers (Codex's tool
 * names and argument shapes differ between versions), then the final text.
 */
function openaiAnswer(asked: Json, command: string, usage: Usage): Scripted {
  const input = Array.isArray(asked.input) ? asked.input as Json[] : [];
  const toolResult = input.some((i) => i.type === "function_call_output");
  const tools = ((asked.tools ?? []) as Json[]).map((t) => String(t.name ?? ""));
  const shell = ["shell_command", "exec_command", "shell", "local_shell"].find((n) =>
    tools.includes(n)
  );
  const answer = toolResult ? "final" : shell ? "tool" : "text";
  const args: Record<string, Json> = {
    shell_command: { command },
    exec_command: { cmd: command },
    shell: { command: ["bash", "-lc", command] },
  };
  const item: Json = answer === "tool"
    ? {
      type: "function_call",
      id: "fc_stand_in_1",
      call_id: "call_stand_in_1",
      name: shell,
      arguments: JSON.stringify(args[shell!] ?? { command }),
      status: "completed",
    }
    : {
      type: "message",
      id: "msg_stand_in_1",
      role: "assistant",
      status: "completed",
      content: [{
        type: "output_text",
        text: answer === "final" ? FINAL_TEXT : "stand-in",
        annotations: [],
      }],
    };
  const id = `resp_stand_in_${crypto.randomUUID().slice(0, 8)}`;
  const response = {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model: String(asked.model ?? "stand-in"),
    status: "completed",
    output: [item],
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.input + usage.output,
    },
  };
  const events: [string, Json][] = [
    ["response.created", {
      type: "response.created",
      response: { ...response, status: "in_progress", output: [] },
    }],
    ["response.output_item.added", { type: "response.output_item.added", output_index: 0, item }],
    ["response.output_item.done", { type: "response.output_item.done", output_index: 0, item }],
    ["response.completed", { type: "response.completed", response }],
  ];
  return { answer, whole: response, events };
}
