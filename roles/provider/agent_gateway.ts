/**
 * The model gateway of one agent job: an HTTP server on a Unix socket, owned by the provider, that
 * is the job's only way out of its sandbox (docs/SKILLS.md "The model gateway"). The sandbox binds
 * the socket in and relays `http://127.0.0.1:<port>` of the job's network namespace to it
 * (roles/provider/sandbox_gateway.ts).
 *
 * What comes in, and what happens to it:
 * - an allowed method and path (per flavor, {@linkcode DEFAULT_ROUTES}) on a loopback host, within
 *   the limits and the budget: forwarded to the one upstream, with the agent's own credentials
 *   (`x-api-key`, `authorization`, organization and project headers) and hop-by-hop headers
 *   removed and the provider's key added (`x-api-key` for Anthropic, `Authorization: Bearer` for
 *   OpenAI). The response streams back unchanged while its usage is metered
 *   (roles/provider/gateway_meter.ts); an OpenAI streamed chat call is asked for its usage
 *   (`stream_options.include_usage`), so no stream goes unmetered;
 * - anything else: refused with a JSON error body and logged (roles/provider/gateway_ledger.ts):
 *   403 another path, method or host; 402 once the spend has reached the budget (the call that
 *   reaches it fires `onBudgetReached`: the job is to be stopped; calls already under way finish
 *   and count); 413 a body over
 *   `maxRequestBytes`; 429 over `maxInFlight` calls at once or past `maxCalls`; 504 a call over
 *   `callTimeoutMs`; 502 an unreachable upstream.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import {
  type GatewayCall,
  GatewayLedger,
  type GatewayRefusal,
  type GatewayRefusalCode,
  type GatewaySpend,
  REFUSAL_STATUS,
} from "./gateway_ledger.ts";
import { type ModelPrices, UsageScanner } from "./gateway_meter.ts";

export type { GatewayCall, GatewayRefusal, GatewayRefusalCode, GatewaySpend, ModelPrices };

/** Which API the upstream speaks: how the key is sent and which paths are allowed. */
export type GatewayFlavor = "anthropic" | "openai";

/** One allowed call: a method and an exact path (the query is passed on). */
export interface GatewayRoute {
  method: string;
  path: string;
}

/** The paths each flavor allows by default: the model calls and the model list. */
export const DEFAULT_ROUTES: Readonly<Record<GatewayFlavor, readonly GatewayRoute[]>> = {
  anthropic: [
    { method: "POST", path: "/v1/messages" },
    { method: "POST", path: "/v1/messages/count_tokens" },
    { method: "GET", path: "/v1/models" },
  ],
  openai: [
    { method: "POST", path: "/v1/chat/completions" },
    { method: "POST", path: "/v1/responses" },
    { method: "POST", path: "/v1/embeddings" },
    { method: "GET", path: "/v1/models" },
  ],
};

/** The gateway cannot start: a bad upstream URL, or its socket cannot be made. */
export class AgentGatewayError extends RoleError {
  override name = "AgentGatewayError";
}

/** Options for {@linkcode startAgentGateway}. */
export interface AgentGatewayOptions {
  /**
   * Where to listen: a path in a directory only the provider may enter (beside the job's work
   * dir, never in it: the job must not replace it). The socket is made connectable by anyone who
   * reaches it (the job runs as another user in root mode); its directory keeps the host out.
   */
  socketPath: string;
  /** The upstream API's base URL, http or https (`https://api.anthropic.com`). */
  upstream: string;
  flavor: GatewayFlavor;
  /** The provider's API key: added to every forwarded call, never shown to the job. */
  apiKey: string;
  /** Allowed calls; default {@linkcode DEFAULT_ROUTES} of the flavor. */
  routes?: readonly GatewayRoute[];
  /** Headers added to every forwarded call (`anthropic-version`...), after the agent's. */
  headers?: Record<string, string>;
  prices: ModelPrices;
  /** The most the calls may cost, in asset units: at it, calls are refused (402). */
  budget: bigint;
  /** Called once, when the spend reaches the budget: stop the job. */
  onBudgetReached?: (spend: GatewaySpend) => void;
  /** Largest request body; default 8 MiB. */
  maxRequestBytes?: number;
  /** Most calls under way at once; default 4. */
  maxInFlight?: number;
  /** Most calls forwarded in all; default 10,000. */
  maxCalls?: number;
  /** Longest one call may take, headers and body; default 10 minutes. */
  callTimeoutMs?: number;
  /** Most refusals kept in the log; default 100. */
  maxRefusals?: number;
}

/** A running gateway. */
export interface AgentGateway extends AsyncDisposable {
  /** The Unix socket it listens on. */
  readonly socketPath: string;
  /** The spend so far: calls, tokens, cost, budget. */
  spend(): GatewaySpend;
  /** The refused calls kept, oldest first: what, when, why. */
  refusals(): GatewayRefusal[];
  /** The forwarded calls kept (the last 100), oldest first: when, tokens, cost. */
  callLog(): GatewayCall[];
  /** Stops listening, ends the calls under way and removes the socket. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
/** Hosts a call may name: the job reaches the gateway on its own loopback only. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Request headers never passed on: credentials, and what only concerns one hop. */
const DROPPED_REQUEST_HEADERS = new Set([
  "authorization",
  "x-api-key",
  "proxy-authorization",
  "cookie",
  "openai-organization",
  "openai-project",
  "host",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "accept-encoding",
  "forwarded",
  "x-forwarded-for",
]);
/** Response headers not passed back: the body is re-framed and already decoded. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "set-cookie",
]);

/**
 * Starts a gateway listening on `options.socketPath`.
 *
 * @example
 * ```ts
 * import { startAgentGateway } from "./agent_gateway.ts";
 *
 * await using gateway = await startAgentGateway({
 *   socketPath: "/state/jobs/j1.gateway.sock",
 *   upstream: "https://api.anthropic.com",
 *   flavor: "anthropic",
 *   apiKey: "sk-ant-provider",
 *   headers: { "anthropic-version": "2023-06-01" },
 *   prices: { inputPerMillion: 3_000_000n, outputPerMillion: 15_000_000n },
 *   budget: 2_000_000n,
 *   onBudgetReached: () => console.log("stop the job"),
 * });
 * gateway.spend(); // { calls: 0, cost: 0n, ... }
 * ```
 */
export async function startAgentGateway(options: AgentGatewayOptions): Promise<AgentGateway> {
  const upstream = upstreamUrl(options.upstream);
  const routes = options.routes ?? DEFAULT_ROUTES[options.flavor];
  const ledger = new GatewayLedger({
    prices: options.prices,
    budget: options.budget,
    onBudgetReached: options.onBudgetReached,
    maxRefusals: options.maxRefusals,
  });
  const limits = {
    maxRequestBytes: options.maxRequestBytes ?? 8 * MiB,
    maxInFlight: options.maxInFlight ?? 4,
    maxCalls: options.maxCalls ?? 10_000,
    callTimeoutMs: options.callTimeoutMs ?? 10 * 60_000,
  };
  await Deno.remove(options.socketPath).catch(() => {});
  const closing = new AbortController();
  let inFlight = 0;
  const calls = new Set<Promise<void>>();

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const target = url.pathname + url.search;
    const refuse = (code: GatewayRefusalCode, message: string, where = target) =>
      refusal(ledger, { code, method: req.method, target: where, message });
    if (!LOOPBACK_HOSTS.has(url.hostname)) {
      return refuse("forbidden", `host ${url.host} is not the gateway`, `${url.host}${target}`);
    }
    if (!routes.some((r) => r.method === req.method && r.path === url.pathname)) {
      return refuse("forbidden", `${req.method} ${url.pathname} is not an allowed call`);
    }
    if (ledger.exhausted) {
      const { cost, budget } = ledger.spend();
      return refuse("budget-spent", `the job's budget is spent (${cost} of ${budget})`);
    }
    if (ledger.calls >= limits.maxCalls) {
      return refuse("too-many-calls", `the job's ${limits.maxCalls} calls are spent`);
    }
    if (inFlight >= limits.maxInFlight) {
      return refuse("too-many-in-flight", `${limits.maxInFlight} calls are already under way`);
    }
    inFlight++;
    let release: () => void = () => {};
    const settled = new Promise<void>((resolve) => release = resolve);
    calls.add(settled);
    const done = () => {
      inFlight--;
      calls.delete(settled);
      release();
    };
    try {
      const body = await readBody(req, limits.maxRequestBytes);
      if (body === "too-large") {
        done();
        return refuse("request-too-large", `the body is over ${limits.maxRequestBytes} bytes`);
      }
      return await forward(req, url, body, done, refuse);
    } catch (err) {
      done();
      throw err;
    }
  };

  const forward = async (
    req: Request,
    url: URL,
    body: Uint8Array<ArrayBuffer> | undefined,
    done: () => void,
    refuse: (code: GatewayRefusalCode, message: string) => Response,
  ): Promise<Response> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort("timeout"), limits.callTimeoutMs);
    const onClose = () => abort.abort("closing");
    closing.signal.addEventListener("abort", onClose);
    const finish = () => {
      clearTimeout(timer);
      closing.signal.removeEventListener("abort", onClose);
      done();
    };
    const call = ledger.startCall();
    let upstreamResponse: Response;
    try {
      upstreamResponse = await fetch(new URL(url.pathname.slice(1) + url.search, upstream), {
        method: req.method,
        headers: outgoingHeaders(req.headers, options),
        body: body === undefined ? undefined : withUsageAsked(body, url.pathname, options.flavor),
        signal: abort.signal,
        redirect: "manual",
      });
    } catch (err) {
      call.end(false);
      finish();
      if (abort.signal.reason === "timeout") {
        return refuse("call-timeout", `no answer within ${limits.callTimeoutMs} ms`);
      }
      return refuse("upstream-unreachable", `the upstream did not answer: ${String(err)}`);
    }
    const ok = upstreamResponse.ok;
    const sse = (upstreamResponse.headers.get("content-type") ?? "").includes("text/event-stream");
    const scanner = new UsageScanner(sse, (usage) => call.report(usage));
    const headers = new Headers();
    for (const [k, v] of upstreamResponse.headers) {
      if (!DROPPED_RESPONSE_HEADERS.has(k)) headers.append(k, v);
    }
    if (upstreamResponse.body === null) {
      call.end(ok);
      finish();
      return new Response(null, { status: upstreamResponse.status, headers });
    }
    const toCaller = meteredBody(upstreamResponse.body, scanner, (failure) => {
      if (failure !== undefined && abort.signal.reason === "timeout") {
        ledger.refuse({
          code: "call-timeout",
          method: req.method,
          target: url.pathname + url.search,
          message: `the response was cut after ${limits.callTimeoutMs} ms`,
        });
      }
      call.end(ok);
      finish();
    });
    return new Response(toCaller, {
      status: upstreamResponse.status,
      statusText: upstreamResponse.statusText,
      headers,
    });
  };

  let server: Deno.HttpServer<Deno.UnixAddr>;
  try {
    const listening = Promise.withResolvers<void>();
    server = Deno.serve({
      path: options.socketPath,
      signal: closing.signal,
      onListen: () => listening.resolve(),
      onError: (err) => json(500, "error", `the gateway failed: ${String(err)}`),
    }, handler);
    await listening.promise;
    // The job may run as another user (nobody, in root mode): it must be able to connect.
    await Deno.chmod(options.socketPath, 0o666);
  } catch (err) {
    throw new AgentGatewayError(`cannot listen on ${options.socketPath}`, { cause: err });
  }

  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      closing.abort();
      await server.finished;
      await Promise.all([...calls]);
      await Deno.remove(options.socketPath).catch(() => {});
    })();
  return {
    socketPath: options.socketPath,
    spend: () => ledger.spend(),
    refusals: () => ledger.refusals(),
    callLog: () => ledger.callLog(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The upstream's body as the caller gets it: each chunk goes through the meter before the caller
 * sees it (so the spend is counted by the time the caller has read the body), and a caller that
 * leaves early leaves the rest to the meter, which reads on to the end: the upstream bills what
 * it generated. `onEnd` is called once, with the error when the body broke.
 */
function meteredBody(
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
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
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
        if (!cancelled) controller.close();
        return;
      }
      scanner.push(read.value);
      if (!cancelled) controller.enqueue(read.value);
    },
    async cancel() {
      cancelled = true;
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) scanner.push(r.value);
        ended();
      } catch (err) {
        ended(err);
      }
    },
  }, { highWaterMark: 0 });
}

/** The upstream base as a URL ending in `/`, so that paths join under it. */
function upstreamUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch (err) {
    throw new AgentGatewayError(`the upstream ${JSON.stringify(base)} is not a URL`, {
      cause: err,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AgentGatewayError(`the upstream ${base} is neither http nor https`);
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  url.search = "";
  return url;
}

/** The agent's headers less credentials and hop-by-hop ones, plus the provider's and its key. */
function outgoingHeaders(incoming: Headers, options: AgentGatewayOptions): Headers {
  const out = new Headers();
  for (const [k, v] of incoming) {
    if (!DROPPED_REQUEST_HEADERS.has(k)) out.append(k, v);
  }
  for (const [k, v] of Object.entries(options.headers ?? {})) out.set(k, v);
  // Bodies pass through as they are: none compressed, so the meter reads them.
  out.set("accept-encoding", "identity");
  if (options.flavor === "anthropic") out.set("x-api-key", options.apiKey);
  else out.set("authorization", `Bearer ${options.apiKey}`);
  return out;
}

/**
 * An OpenAI streamed chat call reports its usage only when asked: the gateway asks, so that no
 * stream goes unmetered. Every other body passes as it came.
 */
function withUsageAsked(
  body: Uint8Array<ArrayBuffer>,
  path: string,
  flavor: GatewayFlavor,
): Uint8Array<ArrayBuffer> {
  if (flavor !== "openai" || path !== "/v1/chat/completions") return body;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return body; // the upstream answers a bad body with an error, which costs nothing
  }
  if (typeof value !== "object" || value === null || !("stream" in value) || !value.stream) {
    return body;
  }
  const streamOptions = "stream_options" in value && typeof value.stream_options === "object"
    ? value.stream_options
    : {};
  return new TextEncoder().encode(
    JSON.stringify({ ...value, stream_options: { ...streamOptions, include_usage: true } }),
  );
}

/** The request body, or `too-large` as soon as it passes `max` bytes. */
async function readBody(
  req: Request,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined | "too-large"> {
  if (req.body === null) return undefined;
  if (Number(req.headers.get("content-length") ?? 0) > max) {
    await req.body.cancel().catch(() => {});
    return "too-large";
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > max) return "too-large";
    parts.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Logs a refusal and answers it. */
function refusal(ledger: GatewayLedger, entry: Omit<GatewayRefusal, "at" | "status">): Response {
  ledger.refuse(entry);
  return json(REFUSAL_STATUS[entry.code], entry.code, entry.message);
}

/** A JSON error both flavors' clients read (`error.type`, `error.message`). */
function json(status: number, code: string, message: string): Response {
  return Response.json(
    { type: "error", error: { type: code, code, message }, gateway: "turnpike" },
    { status },
  );
}
