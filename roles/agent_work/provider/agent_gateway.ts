/**
 * The model gateway of one agent job: an HTTP server on a Unix socket, owned by the provider, that
 * is the job's only way out of its sandbox (docs/SKILLS.md "The model gateway"). The sandbox binds
 * the socket in and relays `http://127.0.0.1:<port>` of the job's network namespace to it
 * (roles/provider/sandbox/sandbox_gateway.ts).
 *
 * What comes in, and what happens to it:
 * - an allowed method and path (per flavor, {@linkcode DEFAULT_ROUTES}) on a loopback host, within
 *   the limits and the budget: forwarded to the one upstream, with the agent's own credentials
 *   (`x-api-key`, `authorization`, organization and project headers) and hop-by-hop headers
 *   removed and the provider's key added (`x-api-key` for Anthropic, `Authorization: Bearer` for
 *   OpenAI). The response streams back unchanged while its usage is metered
 *   (gateway_meter.ts); an OpenAI streamed chat call is asked for its usage
 *   (`stream_options.include_usage`), so no stream goes unmetered;
 * - anything else: refused with a JSON error body and logged (gateway_ledger.ts):
 *   403 another path, method or host; 402 once the spend has reached the budget (the call that
 *   reaches it fires `onBudgetReached`: the job is to be stopped; calls already under way finish
 *   and count); 413 a body over
 *   `maxRequestBytes`; 429 over `maxInFlight` calls at once or past `maxCalls`; 504 a call over
 *   `callTimeoutMs`; 502 an unreachable upstream. A response whose event-stream line passes the
 *   meter's cap (gateway_meter.ts) is cut there (the caller's body ends in an
 *   error) and logged as `upstream-line-too-long`: what one response holds stays bounded.
 *
 * @module
 */
import { type HttpFront, listenHttpFront } from "../../../transport/http_front.ts";
import { RoleError } from "../../role_error.ts";
import {
  type GatewayCall,
  GatewayLedger,
  type GatewayRefusal,
  type GatewayRefusalCode,
  type GatewaySpend,
  REFUSAL_STATUS,
} from "./gateway_ledger.ts";
import {
  meteredBody,
  type ModelPrices,
  SseLineTooLongError,
  UsageScanner,
} from "./gateway_meter.ts";

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
  /** The upstream's base URL, http or https; none: every call is refused (`no-model`). */
  upstream?: string;
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
  /**
   * Most connections the job may hold open at once; default {@linkcode MAX_GATEWAY_CONNECTIONS}.
   * One more is answered 503 and closed at once: a job cannot fill the provider's descriptors.
   */
  maxConnections?: number;
  /** Told about accept failures (the provider out of descriptors: retried, not fatal). */
  log?: (line: string) => void;
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
  /** Whether it stopped listening (its job's agent said it is over, or closed). */
  readonly stopped: boolean;
}

const MiB = 1024 * 1024;
/**
 * Connections one job may hold open at once: a few per call in flight (an SDK opens a new one
 * while the old closes) and room for a model list; each holds three of the provider's
 * descriptors while its request is served.
 */
export const MAX_GATEWAY_CONNECTIONS = 32;
/** Time for a request's head to arrive whole. */
const HEAD_TIMEOUT_MS = 30_000;
/**
 * The path the job's driver posts to when its agent is over (skills/agent-task/run, through
 * `gateway_forwarder.js close`): the gateway stops listening and removes its socket, so that the
 * gate, which runs next, cannot reach the model API.
 */
export const AGENT_OVER_PATH = "/turnpike/agent-over";
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
 * import assert from "node:assert/strict";
 * import { startAgentGateway } from "./agent_gateway.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const gateway = await startAgentGateway({
 *   socketPath: `${dir}/j1.gateway.sock`,
 *   upstream: "https://api.anthropic.com",
 *   flavor: "anthropic",
 *   apiKey: "sk-ant-provider",
 *   prices: { inputPerMillion: 3_000_000n, outputPerMillion: 15_000_000n },
 *   budget: 2_000_000n,
 * });
 * assert.equal(gateway.spend().calls, 0);
 * await gateway.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startAgentGateway(options: AgentGatewayOptions): Promise<AgentGateway> {
  const upstream = options.upstream === undefined ? undefined : upstreamUrl(options.upstream);
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
    maxConnections: options.maxConnections ?? MAX_GATEWAY_CONNECTIONS,
    callTimeoutMs: options.callTimeoutMs ?? 10 * 60_000,
  };
  await Deno.remove(options.socketPath).catch(() => {});
  const closing = new AbortController();
  /** Set once the job's agent is over (or at close): every request after it is refused. */
  let stopped = false;
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
    if (req.method === "POST" && url.pathname === AGENT_OVER_PATH) {
      // The driver, alone in the job once the agent's processes are killed, closes the gateway
      // before the gate runs (skills/agent-task/run): the answer first, then the listener stops
      // (its shutdown waits for this answer); no request is served from now on.
      stopped = true;
      setTimeout(() => void stopListening(), 0);
      return Response.json({ closed: true, gateway: "turnpike" });
    }
    if (!routes.some((r) => r.method === req.method && r.path === url.pathname)) {
      return refuse("forbidden", `${req.method} ${url.pathname} is not an allowed call`);
    }
    if (upstream === undefined) {
      return refuse("no-model", "this agent preset has no model API (no upstream)");
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
      if (failure instanceof SseLineTooLongError) {
        ledger.refuse({
          code: "upstream-line-too-long",
          method: req.method,
          target: url.pathname + url.search,
          message: `${failure.message}: the response was cut there`,
        });
      } else if (failure !== undefined && abort.signal.reason === "timeout") {
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

  // The job's connections are capped at accept, each carries one request, and a failed accept
  // (the provider out of descriptors) is retried, not fatal (transport/http_front.ts).
  let front: HttpFront;
  try {
    front = listenHttpFront({
      path: options.socketPath,
      maxConnections: limits.maxConnections,
      maxConnectionsPerAddress: limits.maxConnections,
      maxPassedThrough: limits.maxConnections,
      headTimeoutMs: HEAD_TIMEOUT_MS,
      // A call may wait for its whole answer as long as the call may last.
      idleTimeoutMs: limits.callTimeoutMs + HEAD_TIMEOUT_MS,
      handler: (req) => stopped ? stoppedAnswer() : handler(req),
      log: options.log,
    });
    // The job may run as another user (nobody, in root mode): it must be able to connect.
    await Deno.chmod(options.socketPath, 0o666);
  } catch (err) {
    throw new AgentGatewayError(`cannot listen on ${options.socketPath}`, { cause: err });
  }

  let listening: Promise<void> | undefined;
  const stopListening = () =>
    listening ??= (async () => {
      stopped = true;
      await front.close();
      await Deno.remove(options.socketPath).catch(() => {});
    })();
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      stopped = true;
      closing.abort();
      await stopListening();
      await Promise.all([...calls]);
    })();
  return {
    socketPath: options.socketPath,
    spend: () => ledger.spend(),
    refusals: () => ledger.refusals(),
    callLog: () => ledger.callLog(),
    get stopped() {
      return stopped;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
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

/** The answer to a request once the gateway stopped: the job's agent is over. */
function stoppedAnswer(): Response {
  return json(503, "gateway-closed", "the job's agent is over: its model gateway is closed");
}

/** A JSON error both flavors' clients read (`error.type`, `error.message`). */
function json(status: number, code: string, message: string): Response {
  return Response.json(
    { type: "error", error: { type: code, code, message }, gateway: "turnpike" },
    { status },
  );
}
