/**
 * Stage `ilp-prepare-sink`: sends ILP PREPAREs over BTP and reports each outcome.
 *
 * Input: `prepare` chunks (fully specified packets), or `toon` chunks when `destination`,
 * `pricePerByte` and `sharedSecret` are set: the packet data is then the TOON bytes, the amount
 * `pricePerByte x byte length`, the condition SHA-256 of the STREAM-style fulfillment
 * (`protocol/ilp_fulfillment.ts`). Output: one `fulfill` / `reject` chunk per input (or a
 * `failed` chunk for input that cannot become a packet), **in input order**: up to `window`
 * packets are in flight at once, and a slow packet holds back the outcomes behind it (but never
 * more than `window` sends). Keeping order lets a caller zip outcomes with inputs.
 *
 * Retries: a T-class reject (or a connection lost with the packet in flight, reported as T01) is
 * retried at most `maxRetries` times (default 3) with exponential backoff and a fresh expiry of
 * the same lifetime (the connector answers an identical repeated PREPARE from its cache). F- and
 * R-class rejects are final and never retried.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
// The stage's worker has no read access: the packet libraries come by static import.
import "../protocol/packet_libraries_static.ts";
import { backoffDelay, type BackoffOptions, sleep } from "../protocol/backoff.ts";
import type { FailedChunk, PrepareChunk, PrepareOutcomeChunk, ToonChunk } from "./chunks.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  type StageFlags,
  StageOptionsError,
  type StagePermissions,
  type TransformStage,
} from "./stage.ts";
import { NO_PERMISSIONS } from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import {
  BtpAuthError,
  BtpClient,
  BtpConnectionError,
  BtpRemoteError,
  BtpTimeoutError,
} from "../transport/btp_client.ts";
import {
  ILP_ERROR,
  IlpPacketError,
  type IlpPrepare,
  type IlpReply,
  isIlpErrorCode,
  isTemporaryError,
  isValidIlpAddress,
  MAX_UINT64,
} from "../protocol/ilp_packet.ts";
import {
  checkFulfillment,
  fulfillmentFor,
  type FulfillmentKey,
  importFulfillmentKey,
} from "../protocol/ilp_fulfillment.ts";

/** Options of the ILP PREPARE sink. */
export interface IlpPrepareSinkOptions {
  /** BTP endpoint, e.g. `btp+ws://127.0.0.1:3000`. */
  btpUrl: string;
  /** BTP `auth_token`. */
  authToken: string;
  /** BTP `auth_username`. Default "". */
  authUsername?: string;
  /** Packets in flight at once. Default 16. */
  window?: number;
  /** Lifetime of a PREPARE built from TOON, and of each retry. Default 30 s. */
  expiryMs?: number;
  /** For TOON input: ILP address of the receiver (from SPSP). */
  destination?: string;
  /** For TOON input: base units per TOON byte. */
  pricePerByte?: bigint;
  /** For TOON input: the 32-byte SPSP shared secret, base64 (RFC 9) or 64 hex digits. */
  sharedSecret?: string;
  /** Retries on T-class rejects. Default 3. */
  maxRetries?: number;
  /** First retry delay; doubles per retry, +-20% jitter. Default 250 ms. */
  retryBaseDelayMs?: number;
  /** First BTP reconnect delay (the client doubles it up to 30 s). Default 1 s. */
  reconnectInitialDelayMs?: number;
}

/** Input the sink cannot turn into a packet (wrong chunk type, missing TOON options). */
export class IlpPrepareSinkInputError extends StagesError {
  override name = "IlpPrepareSinkInputError";
}

const STAGE_NAME = "ilp-prepare-sink";

/** What the ILP PREPARE sink takes: a ready PREPARE, or a TOON event to pay for. */
export type SinkInput = PrepareChunk | ToonChunk;
/** What the ILP PREPARE sink emits: one outcome per input, or a FailedChunk. */
export type SinkOutput = PrepareOutcomeChunk | FailedChunk;

/**
 * Decodes a shared secret given as base64 or hex; throws StageOptionsError unless 32 bytes.
 *
 * @example
 * ```ts
 * decodeSharedSecret("00".repeat(32)).byteLength; // 32
 * ```
 */
export function decodeSharedSecret(text: string): Uint8Array {
  let bytes: Uint8Array;
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    bytes = Uint8Array.from(text.match(/../g)!, (h) => parseInt(h, 16));
  } else {
    try {
      bytes = Uint8Array.from(
        atob(text.replace(/-/g, "+").replace(/_/g, "/")),
        (c) => c.charCodeAt(0),
      );
    } catch {
      throw new StageOptionsError("sharedSecret is neither hex nor base64");
    }
  }
  if (bytes.byteLength !== 32) {
    throw new StageOptionsError(`sharedSecret must be 32 bytes, got ${bytes.byteLength}`);
  }
  return bytes;
}

function hexOf(hex: string, what: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new IlpPacketError(`${what} is not hex`);
  return hexToBytes(hex);
}

function base64ToBytes(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw new IlpPacketError("data is not base64");
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A packet ready to send, and how long each attempt may live. */
interface Planned {
  prepare: IlpPrepare;
  lifetimeMs: number;
  ref?: string;
}

function planFromPrepareChunk(chunk: PrepareChunk): Planned {
  const expiresAt = new Date(chunk.expiresAt);
  if (Number.isNaN(expiresAt.getTime())) throw new IlpPacketError("expiresAt is not ISO 8601");
  if (!isValidIlpAddress(chunk.destination)) {
    throw new IlpPacketError(`invalid destination "${chunk.destination}"`);
  }
  const condition = hexOf(chunk.executionCondition, "executionCondition");
  if (condition.byteLength !== 32) throw new IlpPacketError("executionCondition must be 32 bytes");
  return {
    prepare: {
      amount: chunk.amount,
      destination: chunk.destination,
      executionCondition: condition,
      expiresAt,
      data: base64ToBytes(chunk.data),
    },
    lifetimeMs: Math.max(0, expiresAt.getTime() - Date.now()),
    ref: chunk.ref,
  };
}

async function planFromToon(
  chunk: ToonChunk,
  options: IlpPrepareSinkOptions,
  key: Promise<FulfillmentKey> | undefined,
): Promise<Planned> {
  if (!options.destination || options.pricePerByte === undefined || !key) {
    throw new IlpPrepareSinkInputError(
      "toon input needs the destination, pricePerByte and sharedSecret options",
    );
  }
  const lifetimeMs = options.expiryMs ?? 30_000;
  const { prepare } = await paidPrepareOf({
    toon: chunk.toon,
    destination: options.destination,
    pricePerByte: options.pricePerByte,
    key: await key,
    expiryMs: lifetimeMs,
  });
  return { prepare, lifetimeMs };
}

/** Options for {@linkcode paidPrepareOf}. */
export interface PaidPrepareOptions {
  /** The TOON text of the signed event (the packet data). */
  toon: string;
  /** ILP address of the receiver (the SPSP grant's destination). */
  destination: string;
  /** Base units per TOON byte. */
  pricePerByte: bigint;
  /** The SPSP shared secret: its 32 bytes, or the key {@linkcode importFulfillmentKey} made. */
  key: Uint8Array | FulfillmentKey;
  /** Overrides the amount (a blob payment; tests of underpayment). */
  amount?: bigint;
  /** Lifetime of the PREPARE. Default 30 s. */
  expiryMs?: number;
}

/**
 * The PREPARE that pays a receiver for TOON bytes: the bytes as data, amount = price per byte x
 * byte length (flat: per-kind prices belong to a pricer upstream, see protocol/relay_pricing.ts),
 * condition from the shared secret (protocol/ilp_fulfillment.ts). The sink builds its packets
 * from `toon` chunks with it, and so does every role's paid write (roles/town_client/).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { prepare } = await paidPrepareOf({ toon: "kind: 1", destination: "g.town.relay.x",
 *   pricePerByte: 10n, key: new Uint8Array(32) });
 * assert.equal(prepare.amount, "70"); // 7 bytes of TOON at 10 per byte
 * ```
 * @throws {IlpPacketError} when the amount does not fit an uint64.
 */
export async function paidPrepareOf(
  options: PaidPrepareOptions,
): Promise<{ prepare: IlpPrepare; fulfillment: Uint8Array }> {
  const data = new TextEncoder().encode(options.toon);
  const amount = options.amount ?? options.pricePerByte * BigInt(data.byteLength);
  if (amount > MAX_UINT64) throw new IlpPacketError(`amount ${amount} exceeds uint64`);
  const { fulfillment, condition } = await fulfillmentFor(options.key, data);
  return {
    fulfillment,
    prepare: {
      amount: amount.toString(),
      destination: options.destination,
      executionCondition: condition,
      expiresAt: new Date(Date.now() + (options.expiryMs ?? 30_000)),
      data,
    },
  };
}

function failed(error: Error, input: unknown): FailedChunk {
  const text = JSON.stringify(input) ?? "";
  return {
    type: "failed",
    stage: STAGE_NAME,
    error: error.name,
    message: error.message,
    input: text.length <= 4096 ? input : text.slice(0, 4096),
  };
}

/** Turns a transport failure into the reject an ILP sender would see, when there is one. */
function transportReject(err: unknown): IlpReply | undefined {
  const reject = (code: string, message: string): IlpReply => ({
    type: "reject",
    code,
    triggeredBy: "",
    message,
    data: new Uint8Array(0),
  });
  if (err instanceof BtpConnectionError) return reject(ILP_ERROR.peerUnreachable, err.message);
  if (err instanceof BtpTimeoutError) return reject(ILP_ERROR.transferTimedOut, err.message);
  if (err instanceof BtpRemoteError) {
    return reject(isIlpErrorCode(err.code) ? err.code : ILP_ERROR.internalError, err.message);
  }
  return undefined;
}

/** Anything that sends a PREPARE and returns the reply (a BtpClient does). */
export interface PrepareSender {
  sendPrepare(prepare: IlpPrepare): Promise<IlpReply>;
}

/** Options for {@linkcode sendPrepareWithRetries}: the one retry policy of a paid PREPARE. */
export interface PrepareRetryOptions extends Pick<BackoffOptions, "maxMs"> {
  /** Retries on T-class rejects (and transport failures, seen as T01/R00). Default 3. */
  maxRetries?: number;
  /** First retry delay; doubles per retry, +-20% jitter (protocol/backoff.ts). Default 250 ms. */
  initialMs?: number;
  /** Lifetime of each retry's PREPARE (a fresh expiry). Default: the first one's. */
  lifetimeMs?: number;
  /** Cuts the waits short (the last reply is returned). */
  signal?: AbortSignal;
  /**
   * A BTP transport failure (connection lost or never up, no reply in time): `"retry"` reports it
   * as the reject a sender would see (T01, R00) under the same rules (default); `"throw"` lets the
   * error through at once, for a caller that moves to another uplink itself.
   */
  transportErrors?: "retry" | "throw";
}

/**
 * Sends `prepare` by `sender` and retries T-class rejects (and a connection lost with the packet
 * in flight, seen as T01) with exponential backoff and a fresh expiry of the same lifetime; F-
 * and R-class rejects are final. A FULFILL whose fulfillment does not match the condition is
 * reported as an F05 reject, never as paid. The ILP PREPARE sink runs every packet through it,
 * and so does every role's paid write (roles/town_client/).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const fulfillment = new Uint8Array(32).fill(1), data = new Uint8Array(0), replies = ["T04", "fulfill"];
 * const sender = { sendPrepare: () => Promise.resolve(replies.shift() === "T04" ? { type: "reject" as const, code: "T04", triggeredBy: "g.town", message: "", data } : { type: "fulfill" as const, fulfillment, data }) }; // a BtpClient, first busy
 * const prepare = { amount: "10", destination: "g.town", expiresAt: new Date(Date.now() + 30_000), executionCondition: new Uint8Array(await crypto.subtle.digest("SHA-256", fulfillment)), data };
 * const { reply, attempts } = await sendPrepareWithRetries(sender, prepare, { maxRetries: 2 });
 * assert.deepEqual([reply.type, attempts], ["fulfill", 2]);
 * ```
 * @throws what `sender` throws that is not a BTP transport failure (e.g. BtpAuthError, a closed
 * client).
 */
export async function sendPrepareWithRetries(
  sender: PrepareSender,
  first: IlpPrepare,
  options: PrepareRetryOptions = {},
): Promise<{ reply: IlpReply; attempts: number; prepare: IlpPrepare }> {
  const maxRetries = options.maxRetries ?? 3;
  const lifetimeMs = options.lifetimeMs ?? Math.max(0, first.expiresAt.getTime() - Date.now());
  let prepare = first;
  for (let attempt = 1;; attempt++) {
    let reply: IlpReply;
    try {
      reply = await sender.sendPrepare(prepare);
    } catch (err) {
      const mapped = options.transportErrors === "throw" ? undefined : transportReject(err);
      if (!mapped) throw err;
      reply = mapped;
    }
    if (
      reply.type === "fulfill" &&
      !(await checkFulfillment(reply.fulfillment, prepare.executionCondition))
    ) {
      // A direct peer (no connector in between) could answer nonsense; never report it paid.
      reply = {
        type: "reject",
        code: ILP_ERROR.wrongCondition,
        triggeredBy: "",
        message: "fulfillment does not match the condition",
        data: new Uint8Array(0),
      };
    }
    const retry = reply.type === "reject" && isTemporaryError(reply.code) &&
      attempt <= maxRetries && !options.signal?.aborted;
    if (!retry) return { reply, attempts: attempt, prepare };
    await sleep(
      backoffDelay(attempt - 1, { initialMs: options.initialMs ?? 250, maxMs: options.maxMs }),
      options.signal,
    );
    prepare = { ...prepare, expiresAt: new Date(Date.now() + lifetimeMs) };
  }
}

/**
 * Creates the sink: a TransformStream from prepare/toon chunks to outcome chunks. It connects
 * on start; a refused auth (BtpAuthError) or an unreachable peer errors the stream. It needs a
 * BTP peer, so it has no example that runs here: tests/interop/connector_ilp_prepare_sink_test.ts
 * pipes prepare chunks through it to a real connector.
 */
export function createIlpPrepareSink(
  options: IlpPrepareSinkOptions,
): TransformStream<SinkInput, SinkOutput> {
  const window = options.window ?? 16;
  const maxRetries = options.maxRetries ?? 3;
  const retryBase = options.retryBaseDelayMs ?? 250;
  if (!Number.isInteger(window) || window < 1) throw new StageOptionsError("window must be >= 1");
  const key = options.sharedSecret !== undefined
    ? importFulfillmentKey(decodeSharedSecret(options.sharedSecret))
    : undefined;
  key?.catch(() => {}); // reported when a toon chunk needs it
  const client = new BtpClient({
    url: options.btpUrl,
    authToken: options.authToken,
    authUsername: options.authUsername,
    reconnectInitialDelayMs: options.reconnectInitialDelayMs,
  });
  const queue: Promise<SinkOutput>[] = [];

  const policy = { maxRetries, initialMs: retryBase };
  const sendWithRetries = async (plan: Planned): Promise<PrepareOutcomeChunk> => {
    const started = performance.now();
    const { reply, attempts } = await sendPrepareWithRetries(client, plan.prepare, {
      ...policy,
      lifetimeMs: plan.lifetimeMs,
    });
    return outcome(reply, attempts, started, plan.ref);
  };

  const handle = async (chunk: SinkInput): Promise<SinkOutput> => {
    let plan: Planned;
    try {
      if (chunk.type === "prepare") plan = planFromPrepareChunk(chunk);
      else if (chunk.type === "toon") plan = await planFromToon(chunk, options, key);
      else {
        throw new IlpPrepareSinkInputError(
          `expected a prepare or toon chunk, got "${(chunk as { type: unknown }).type}"`,
        );
      }
    } catch (err) {
      return failed(err as Error, chunk);
    }
    try {
      return await sendWithRetries(plan);
    } catch (err) {
      // Refused credentials are a stage-level fault: error the stream rather than fail chunks.
      if (err instanceof BtpAuthError) throw err;
      // Closed client (BtpClosedError) or a reply we could not decode (IlpPacketError,
      // BtpMessageError): the outcome is unknown, so it is reported as failed, never guessed.
      return failed(err instanceof Error ? err : new Error(String(err)), chunk);
    }
  };

  return new TransformStream<SinkInput, SinkOutput>({
    async start() {
      await client.connect();
    },
    async transform(chunk, controller) {
      queue.push(handle(chunk));
      while (queue.length >= window) controller.enqueue(await queue.shift()!);
    },
    async flush(controller) {
      while (queue.length > 0) controller.enqueue(await queue.shift()!);
      await client.close();
    },
    async cancel() {
      await client.close();
      await Promise.allSettled(queue);
    },
  });
}

function outcome(
  reply: IlpReply,
  attempts: number,
  started: number,
  ref: string | undefined,
): PrepareOutcomeChunk {
  const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
  const out: PrepareOutcomeChunk = reply.type === "fulfill"
    ? { type: "fulfill", fulfillment: bytesToHex(reply.fulfillment), attempts, latencyMs }
    : {
      type: "reject",
      code: reply.code,
      message: reply.message,
      triggeredBy: reply.triggeredBy,
      attempts,
      latencyMs,
    };
  if (reply.data.byteLength > 0) out.data = bytesToBase64(reply.data);
  if (ref !== undefined) out.ref = ref;
  return out;
}

function intFlag(flags: StageFlags, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new StageOptionsError(`--${name} must be a whole number`);
  return Number(v);
}

function btpHostPort(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.startsWith("btp+") ? url.slice(4) : url);
  } catch {
    throw new StageOptionsError(`invalid BTP URL "${url}"`);
  }
  const port = parsed.port || (parsed.protocol === "wss:" ? "443" : "80");
  return `${parsed.hostname}:${port}`;
}

/** The stage: `deno run --allow-net=<host:port> stages/ilp_prepare_sink.ts --btp btp+ws://... --token ...`. */
export const ilpPrepareSinkStage: TransformStage<SinkInput, SinkOutput, IlpPrepareSinkOptions> = {
  name: STAGE_NAME,
  role: "sink",
  description:
    "Sends ILP PREPAREs (prepare chunks, or toon chunks priced per byte) over BTP; outputs fulfill/reject outcomes in input order",
  parseOptions(flags: StageFlags): IlpPrepareSinkOptions {
    const btpUrl = flags.btp;
    if (!btpUrl) throw new StageOptionsError("--btp <btp+ws://host:port> is required");
    btpHostPort(btpUrl);
    const price = flags["price-per-byte"];
    if (price !== undefined && !/^[0-9]+$/.test(price)) {
      throw new StageOptionsError("--price-per-byte must be a whole number");
    }
    if (flags["shared-secret"] !== undefined) decodeSharedSecret(flags["shared-secret"]);
    if (flags.destination !== undefined && !isValidIlpAddress(flags.destination)) {
      throw new StageOptionsError(`--destination "${flags.destination}" is not an ILP address`);
    }
    return {
      btpUrl,
      authToken: flags.token ?? "",
      authUsername: flags.username,
      window: intFlag(flags, "window"),
      expiryMs: intFlag(flags, "expiry-ms"),
      destination: flags.destination,
      pricePerByte: price === undefined ? undefined : BigInt(price),
      sharedSecret: flags["shared-secret"],
      maxRetries: intFlag(flags, "max-retries"),
    };
  },
  permissions(options: IlpPrepareSinkOptions): StagePermissions {
    return { ...NO_PERMISSIONS, net: [btpHostPort(options.btpUrl)] };
  },
  create: createIlpPrepareSink,
};

if (import.meta.main) await stageMain(ilpPrepareSinkStage);
