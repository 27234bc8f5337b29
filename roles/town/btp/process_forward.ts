/**
 * Packets between the processes of one town on a shared store (docs/OPERATIONS.md "A town on
 * several machines", "Payments to a peer on another process"). A peer's BTP connection lands on
 * one process; a PREPARE for it (`<town>.<account>...`) that reaches another process is sent to
 * the holder as ILP over HTTP: `POST <private listener>/ilp`, the body the PREPARE's bytes, the
 * answer `200` with the FULFILL's or REJECT's bytes (docs/PROTOCOL.md "Routing").
 *
 * - **Authenticated** with `turnpike-forward-mac: hex(HMAC-SHA256(key, body))`, the key derived
 *   from the town's key (`derivedSecret("turnpike town process forward v1")`), so every process
 *   of the town has it and nothing is shared or configured; a body without the right MAC is
 *   `401`. The MAC binds the packet (its expiry included): a captured request can only be sent
 *   again as it was, and the holder's books refuse a packet already forwarded (state/payments/peer_ledger.ts).
 * - **Bounded**: a body of at most {@linkcode MAX_FORWARD_BYTES} (`413` beyond), read within
 *   `bodyTimeoutMs` (`408`), at most `maxInFlight` packets at once on each side (`503` on the
 *   listener, `T03` on the sender); the answer is awaited until the packet's expiry (less the
 *   router's margin) and no longer.
 * - **Once**: the holder routes a forwarded packet only to a peer connected to itself (the router's
 *   `process` source), never to another process or the parent: no loops.
 * - **Looked up** in the database (state/postgres/postgres_peer_routes.ts); a live holder is remembered
 *   for `holderCacheMs` (1 s) and forgotten at its first answer other than a FULFILL. When a
 *   remembered holder answers F02 (the peer left it; nothing was forwarded, no money moved) the
 *   database is asked once more and the packet sent to the process holding the peer now.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { decodeIlpReply, ILP_ERROR } from "../../../protocol/ilp_packet.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { ElsewhereRoute, IlpNextHop } from "./btp_router.ts";

/** The label the forward key is derived under from the town's key. */
export const FORWARD_KEY_LABEL = "turnpike town process forward v1";
/** The header carrying the body's MAC. */
export const FORWARD_MAC_HEADER = "turnpike-forward-mac";
/** Largest body: an ILP PREPARE is at most about 33 KiB (32,767 bytes of data). */
export const MAX_FORWARD_BYTES = 65_536;

/** A forwarded packet could not be delivered to the other process. */
export class ProcessForwardError extends RoleError {
  override name = "ProcessForwardError";
}

/**
 * The key the town's processes authenticate forwarded packets with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { deriveForwardKey } from "./process_forward.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 *
 * using town = localNodeSigner(generateSecretKey());
 * const key = await deriveForwardKey(town);
 * assert.equal(key.length, 32);
 * assert.deepEqual(await deriveForwardKey(town), key); // every process of the town derives the same
 * ```
 */
export async function deriveForwardKey(town: NodeSigner): Promise<Uint8Array> {
  return await town.derivedSecret(FORWARD_KEY_LABEL);
}

/**
 * The MAC of a body (hex), sent in {@linkcode FORWARD_MAC_HEADER}: what the town's processes
 * authenticate what they send each other with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardMac, forwardMacMatches } from "./process_forward.ts";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const body = new TextEncoder().encode("a packet");
 * assert.equal(forwardMacMatches(key, body, forwardMac(key, body)), true);
 * assert.equal(forwardMacMatches(key, body, "00".repeat(32)), false);
 * ```
 */
export function forwardMac(key: Uint8Array, body: Uint8Array): string {
  return bytesToHex(hmac(sha256, key, body));
}

/** Whether `mac` (hex, as sent) is the body's MAC under the key; see {@linkcode forwardMac}. */
export function forwardMacMatches(key: Uint8Array, body: Uint8Array, mac: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(hexToBytes(mac), hmac(sha256, key, body));
}

/** Where the holder of an account's connection takes packets (state/postgres/postgres_peer_routes.ts). */
export interface ForwardHolder {
  /** Its private listener. */
  url: string;
  /** Heard from lately. */
  fresh: boolean;
  /** Since its last heartbeat (ms). */
  silentMs: number;
}

/** Options for {@linkcode createProcessForwarder}. */
export interface ProcessForwarderOptions {
  /** From {@linkcode deriveForwardKey}. */
  key: Uint8Array;
  /** The other process holding an account's connection, if any. */
  holder: (account: string) => Promise<ForwardHolder | undefined>;
  /** Packets at once to the other processes. Default 256. */
  maxInFlight?: number;
  /**
   * How long a live holder found is used without asking again; dropped at once when it answers
   * anything but a FULFILL, or cannot be reached. Default 1 s; 0: ask for every packet.
   */
  holderCacheMs?: number;
  /** Clock (tests). Default Date.now. */
  now?: () => number;
}

/** The first byte of an ILP FULFILL (RFC 27). */
const FULFILL_TYPE = 13;

/**
 * The sending side: the router's `elsewhere` (roles/town/btp/btp_router.ts). Undefined when no
 * other process holds the account (the router answers F02 as for a peer connected nowhere); a
 * T-code REJECT when the holder is not heard from, the database cannot say, or too many packets
 * are on their way already; otherwise the hop to the holder.
 *
 * It needs the town's other processes: no example that runs here:
 * tests/unit/roles/town/process_forward_test.ts.
 */
export function createProcessForwarder(
  options: ProcessForwarderOptions,
): (account: string) => Promise<ElsewhereRoute | undefined> {
  const maxInFlight = options.maxInFlight ?? 256;
  const cacheMs = options.holderCacheMs ?? 1_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { holder: ForwardHolder; until: number }>();
  let inFlight = 0;
  const lookUp = async (
    account: string,
  ): Promise<{ holder?: ForwardHolder; cached: boolean }> => {
    const cached = cache.get(account);
    if (cached !== undefined && cached.until > now()) {
      return { holder: cached.holder, cached: true };
    }
    cache.delete(account);
    const holder = await options.holder(account);
    if (holder?.fresh && cacheMs > 0) {
      // Bounded: the entries of accounts not asked for again lately go first.
      if (cache.size >= 10_000) cache.delete(cache.keys().next().value!);
      cache.set(account, { holder, until: now() + cacheMs });
    }
    return { holder, cached: false };
  };
  return async (account) => {
    let holder: ForwardHolder | undefined;
    let cached = false;
    try {
      ({ holder, cached } = await lookUp(account));
    } catch (err) {
      return {
        code: ILP_ERROR.internalError,
        message: `cannot look up which town process holds ${account}: ${(err as Error).message}`,
      };
    }
    if (holder === undefined) return undefined;
    if (!holder.fresh) {
      const silent = Number.isFinite(holder.silentMs)
        ? `not heard from for ${Math.round(holder.silentMs / 1000)} s`
        : "no longer running";
      return {
        code: ILP_ERROR.peerUnreachable,
        message: `${account} is connected to a town process ${silent}; try again`,
      };
    }
    if (inFlight >= maxInFlight) {
      return {
        code: ILP_ERROR.connectorBusy,
        message: `${maxInFlight} packets already on their way to the town's other processes`,
      };
    }
    const first = holder.url;
    const hop: IlpNextHop = {
      async request(packet, timeoutMs) {
        inFlight++;
        const started = now();
        let url = first;
        let reply: Uint8Array | undefined;
        try {
          reply = await postPacket(url, options.key, packet, timeoutMs);
          if (cached && isUnreachable(reply)) {
            // The peer left the process remembered (an F02 there moved no money): ask the
            // database once more, and send it to the process that holds the peer now.
            cache.delete(account);
            const current = await lookUp(account).catch(() => undefined);
            const left = timeoutMs - (now() - started);
            if (current?.holder?.fresh && current.holder.url !== first && left > 0) {
              url = current.holder.url;
              reply = await postPacket(url, options.key, packet, left);
            }
          }
          return reply;
        } finally {
          inFlight--;
          // The peer may have left that process: ask the database again next time.
          if (reply?.[0] !== FULFILL_TYPE && cache.get(account)?.holder.url === url) {
            cache.delete(account);
          }
        }
      },
    };
    return { hop };
  };
}

/** An F02 REJECT. */
function isUnreachable(reply: Uint8Array): boolean {
  try {
    const decoded = decodeIlpReply(reply);
    return decoded.type === "reject" && decoded.code === ILP_ERROR.unreachable;
  } catch {
    return false;
  }
}

async function postPacket(
  url: string,
  key: Uint8Array,
  packet: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await fetch(`${url}/ilp`, {
    method: "POST",
    body: asBody(packet),
    headers: {
      "content-type": "application/octet-stream",
      [FORWARD_MAC_HEADER]: forwardMac(key, packet),
    },
    signal,
  });
  if (response.status !== 200) {
    const text = (await response.text().catch(() => "")).trim().slice(0, 160);
    throw new ProcessForwardError(`town process ${url} answered ${response.status} ${text}`);
  }
  const body = await readBounded(response.body, MAX_FORWARD_BYTES);
  if (body === undefined) {
    throw new ProcessForwardError(`town process ${url} answered over ${MAX_FORWARD_BYTES} bytes`);
  }
  return body;
}

/** Options for {@linkcode createForwardHandler}. */
export interface ForwardHandlerOptions {
  /** From {@linkcode deriveForwardKey}. */
  key: Uint8Array;
  /** Routes a forwarded packet (the router with the `process` source); never throws. */
  route: (packet: Uint8Array) => Promise<Uint8Array>;
  /** Packets at once. Default 256. */
  maxInFlight?: number;
  /** Time to read a body. Default 5 s. */
  bodyTimeoutMs?: number;
}

/**
 * The receiving side: answers `POST /ilp` on the private listener
 * (roles/town/blobs/blob_peer_listener.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createForwardHandler } from "./process_forward.ts";
 *
 * // A forward without the processes' shared key is refused before any routing.
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const handle = createForwardHandler({ key, route: () => Promise.reject(new Error("not routed")) });
 * const response = await handle(new Request("http://127.0.0.1/ilp", { method: "POST", body: "x" }));
 * assert.equal(response.status, 401);
 * await response.body?.cancel();
 * ```
 */
export function createForwardHandler(
  options: ForwardHandlerOptions,
): (request: Request) => Promise<Response> {
  const maxInFlight = options.maxInFlight ?? 256;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 5_000;
  let inFlight = 0;
  const text = (status: number, body: string) => new Response(`${body}\n`, { status });
  return async (request) => {
    if (request.method !== "POST") return text(405, "POST /ilp only");
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > MAX_FORWARD_BYTES) {
      await request.body?.cancel().catch(() => {});
      return text(413, `a forwarded packet is at most ${MAX_FORWARD_BYTES} bytes`);
    }
    const mac = request.headers.get(FORWARD_MAC_HEADER) ?? "";
    if (!/^[0-9a-f]{64}$/.test(mac)) {
      await request.body?.cancel().catch(() => {});
      return text(401, `missing or malformed ${FORWARD_MAC_HEADER}`);
    }
    if (inFlight >= maxInFlight) {
      await request.body?.cancel().catch(() => {});
      return text(503, `${maxInFlight} forwarded packets in flight here; retry`);
    }
    inFlight++;
    try {
      const timer = AbortSignal.timeout(bodyTimeoutMs);
      let body: Uint8Array | undefined;
      try {
        body = await readBounded(request.body, MAX_FORWARD_BYTES, timer);
      } catch {
        return text(408, `body not read within ${bodyTimeoutMs} ms`);
      }
      if (body === undefined) {
        return text(413, `a forwarded packet is at most ${MAX_FORWARD_BYTES} bytes`);
      }
      if (!forwardMacMatches(options.key, body, mac)) {
        return text(401, "forward MAC does not match: not a process of this town");
      }
      const reply = await options.route(body);
      return new Response(asBody(reply), {
        headers: { "content-type": "application/octet-stream" },
      });
    } finally {
      inFlight--;
    }
  };
}

/**
 * Reads a stream whole; undefined when it is longer than `max` (the rest is cancelled). Throws
 * the signal's reason once it aborts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBounded } from "./process_forward.ts";
 *
 * const body = () => new Response("0123456789").body;
 * assert.equal((await readBounded(body(), 16))?.length, 10);
 * assert.equal(await readBounded(body(), 4), undefined);
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array> | null,
  max: number,
  signal?: AbortSignal,
): Promise<Uint8Array | undefined> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      if (signal?.aborted) throw signal.reason;
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal?.aborted) throw signal.reason;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** The bytes as a fetch body (a copy only when they are not over a plain ArrayBuffer). */
function asBody(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
