/**
 * SPSP over Nostr: the RFC 9 exchange (ask a receiver for a destination ILP address and a
 * shared secret) carried in encrypted Nostr events instead of HTTPS.
 *
 * - Request, kind 23194, `p` tag = the receiver, content NIP-44 v2 encrypted JSON
 *   `{"spsp": "request", "request_id"?: string, "amount"?: "<base units>"}`.
 * - Response, kind 23195, `p` tag = the requester, `e` tag = the request id, content NIP-44 v2
 *   encrypted JSON with the RFC 9 fields `destination_account` (ILP address) and
 *   `shared_secret` (32 bytes, base64), plus these optional fields of ours:
 *   `expires_at` (ISO 8601; use the secret only until then), `asset_code`, `asset_scale` (the
 *   receiver's asset), `receipts_enabled` (RFC 9), `request_id` (echoed).
 *
 * Parsers also decrypt NIP-04 content (the `?iv=` form). NIP-47 wallet requests use the same
 * kinds (23194 request, 23195 response): after decryption their JSON has `method` or
 * `result_type`, and is rejected with {@linkcode SpspNip47MessageError}, not mistaken for SPSP.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";
import { type NodeSigner, NodeSignerError } from "./node_signer.ts";
import { isIlpAddress } from "./peer_info.ts";

/** SPSP request kind. */
export const SPSP_REQUEST_KIND = 23194;
/** SPSP response kind. */
export const SPSP_RESPONSE_KIND = 23195;
/** Largest encrypted content accepted, in characters. */
export const MAX_SPSP_CONTENT = 16 * 1024;

/** A malformed, misaddressed or undecryptable SPSP message. */
export class SpspMessageError extends ProtocolError {
  /** `"SpspMessageError"`: explicit so it survives bundling. */
  override name = "SpspMessageError";
}

/** The event is a NIP-47 wallet message that shares SPSP's kind numbers. */
export class SpspNip47MessageError extends SpspMessageError {
  /** `"SpspNip47MessageError"`: explicit so it survives bundling. */
  override name = "SpspNip47MessageError";
}

/** A decrypted SPSP request. */
export interface SpspRequest {
  /** Pubkey of the requester (the response goes to it). */
  from: string;
  /** Event id of the request (the response's `e` tag). */
  eventId: string;
  /** The requester's own correlation id (`request_id`), echoed in the response. */
  requestId?: string;
  /** Amount the sender intends to pay, base units, decimal string (informative). */
  amount?: string;
}

/** SPSP response fields. */
export interface SpspResponse {
  /** ILP address to send STREAM packets to (`destination_account`). */
  destinationAccount: string;
  /** 32 bytes. */
  sharedSecret: Uint8Array;
  /** ISO 8601 time after which the shared secret must not be used. */
  expiresAt?: string;
  /** Code of the receiver's asset, e.g. `USD`. */
  assetCode?: string;
  /** Decimal places of the receiver's asset base unit (its ILP asset scale). */
  assetScale?: number;
  /** Whether the receiver issues STREAM receipts (RFC 9). */
  receiptsEnabled?: boolean;
  /** The request's `request_id`, echoed. */
  requestId?: string;
}

/** Options for {@linkcode buildSpspRequest}. */
export interface SpspRequestOptions {
  /** Our key (encrypts the content). */
  signer: NodeSigner;
  /** The receiver's pubkey. */
  receiverPubkey: string;
  /** Correlation id echoed in the response; default none. */
  requestId?: string;
  /** Amount the sender intends to pay, base units (informative). */
  amount?: string;
  /** Unix seconds; default now. */
  createdAt?: number;
}

/**
 * Builds an encrypted SPSP request template.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const requester = localNodeSigner(generateSecretKey());
 * const town = localNodeSigner(generateSecretKey());
 * const template = await buildSpspRequest({ signer: requester, receiverPubkey: town.pubkey, requestId: "r1" });
 * const request = await parseSpspRequest(await requester.signEvent(template), town);
 * assert.deepEqual([request.from, request.requestId], [requester.pubkey, "r1"]);
 * ```
 */
export async function buildSpspRequest(options: SpspRequestOptions): Promise<EventTemplate> {
  const body: Record<string, string> = { spsp: "request" };
  if (options.requestId !== undefined) body.request_id = options.requestId;
  if (options.amount !== undefined) {
    if (!/^\d+$/.test(options.amount)) {
      throw new SpspMessageError("amount is not an integer string");
    }
    body.amount = options.amount;
  }
  return {
    kind: SPSP_REQUEST_KIND,
    created_at: options.createdAt ?? now(),
    tags: [["p", options.receiverPubkey]],
    content: await encrypt(JSON.stringify(body), options.signer, options.receiverPubkey),
  };
}

/** Options for {@linkcode buildSpspResponse}. */
export interface SpspResponseOptions extends SpspResponse {
  /** Our key (encrypts the content). */
  signer: NodeSigner;
  /** The request answered (its id and author). */
  request: Pick<NostrEvent, "id" | "pubkey">;
  /** Unix seconds; default now. */
  createdAt?: number;
}

/**
 * Builds an encrypted SPSP response template.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const requester = localNodeSigner(generateSecretKey());
 * const town = localNodeSigner(generateSecretKey());
 * const request = await requester.signEvent(await buildSpspRequest({ signer: requester, receiverPubkey: town.pubkey }));
 * const template = await buildSpspResponse({ signer: town, request, destinationAccount: "g.town.alice",
 *   sharedSecret: crypto.getRandomValues(new Uint8Array(32)) });
 * const response = await parseSpspResponse(await town.signEvent(template), requester);
 * assert.equal(response.destinationAccount, "g.town.alice");
 * ```
 */
export async function buildSpspResponse(options: SpspResponseOptions): Promise<EventTemplate> {
  if (!isIlpAddress(options.destinationAccount)) {
    throw new SpspMessageError("destination_account is not an ILP address");
  }
  if (options.sharedSecret.length !== 32) {
    throw new SpspMessageError("shared_secret is not 32 bytes");
  }
  const body: Record<string, unknown> = {
    destination_account: options.destinationAccount,
    shared_secret: toBase64(options.sharedSecret),
  };
  if (options.expiresAt !== undefined) body.expires_at = options.expiresAt;
  if (options.assetCode !== undefined) body.asset_code = options.assetCode;
  if (options.assetScale !== undefined) body.asset_scale = options.assetScale;
  if (options.receiptsEnabled !== undefined) body.receipts_enabled = options.receiptsEnabled;
  if (options.requestId !== undefined) body.request_id = options.requestId;
  checkResponseBody(body);
  return {
    kind: SPSP_RESPONSE_KIND,
    created_at: options.createdAt ?? now(),
    tags: [["p", options.request.pubkey], ["e", options.request.id]],
    content: await encrypt(JSON.stringify(body), options.signer, options.request.pubkey),
  };
}

/**
 * Decrypts and reads an SPSP request addressed to `signer`'s pubkey.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const requester = localNodeSigner(generateSecretKey());
 * const town = localNodeSigner(generateSecretKey());
 * const event = await requester.signEvent(await buildSpspRequest({ signer: requester, receiverPubkey: town.pubkey, amount: "500" }));
 * assert.equal((await parseSpspRequest(event, town)).amount, "500");
 * await assert.rejects(parseSpspRequest({ ...event, kind: 1 }, town), SpspMessageError);
 * ```
 */
export async function parseSpspRequest(
  event: NostrEvent,
  signer: NodeSigner,
): Promise<SpspRequest> {
  if (event.kind !== SPSP_REQUEST_KIND) {
    throw new SpspMessageError(`kind ${event.kind} is not 23194`);
  }
  const body = await decryptBody(event, signer);
  if (body.spsp !== "request") {
    throw new SpspMessageError('request content has no "spsp": "request"');
  }
  const request: SpspRequest = { from: event.pubkey, eventId: event.id };
  if (body.request_id !== undefined) {
    if (typeof body.request_id !== "string") {
      throw new SpspMessageError("request_id is not a string");
    }
    request.requestId = body.request_id;
  }
  if (body.amount !== undefined) {
    if (typeof body.amount !== "string" || !/^\d+$/.test(body.amount)) {
      throw new SpspMessageError("amount is not an integer string");
    }
    request.amount = body.amount;
  }
  return request;
}

/**
 * Decrypts and reads an SPSP response addressed to `signer`'s pubkey.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const requester = localNodeSigner(generateSecretKey());
 * const town = localNodeSigner(generateSecretKey());
 * const request = await requester.signEvent(await buildSpspRequest({ signer: requester, receiverPubkey: town.pubkey }));
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * const template = await buildSpspResponse({ signer: town, request, destinationAccount: "g.town.alice", sharedSecret: secret });
 * const { destinationAccount, sharedSecret } = await parseSpspResponse(await town.signEvent(template), requester);
 * assert.deepEqual([destinationAccount, sharedSecret], ["g.town.alice", secret]);
 * ```
 */
export async function parseSpspResponse(
  event: NostrEvent,
  signer: NodeSigner,
): Promise<SpspResponse> {
  if (event.kind !== SPSP_RESPONSE_KIND) {
    throw new SpspMessageError(`kind ${event.kind} is not 23195`);
  }
  const body = await decryptBody(event, signer);
  checkResponseBody(body);
  const response: SpspResponse = {
    destinationAccount: body.destination_account as string,
    sharedSecret: fromBase64(body.shared_secret as string),
  };
  if (body.expires_at !== undefined) response.expiresAt = body.expires_at as string;
  if (body.asset_code !== undefined) response.assetCode = body.asset_code as string;
  if (body.asset_scale !== undefined) response.assetScale = body.asset_scale as number;
  if (body.receipts_enabled !== undefined) {
    response.receiptsEnabled = body.receipts_enabled as boolean;
  }
  if (body.request_id !== undefined) response.requestId = body.request_id as string;
  return response;
}

function checkResponseBody(body: Record<string, unknown>): void {
  if (!isIlpAddress(body.destination_account)) {
    throw new SpspMessageError("destination_account is not an ILP address");
  }
  if (typeof body.shared_secret !== "string" || fromBase64(body.shared_secret).length !== 32) {
    throw new SpspMessageError("shared_secret is not 32 bytes of base64");
  }
  const e = body.expires_at;
  if (e !== undefined && (typeof e !== "string" || Number.isNaN(Date.parse(e)))) {
    throw new SpspMessageError("expires_at is not an ISO 8601 date");
  }
  if (body.asset_code !== undefined && typeof body.asset_code !== "string") {
    throw new SpspMessageError("asset_code is not a string");
  }
  const s = body.asset_scale;
  if (s !== undefined && (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s > 255)) {
    throw new SpspMessageError("asset_scale is not an integer 0..255");
  }
  if (body.receipts_enabled !== undefined && typeof body.receipts_enabled !== "boolean") {
    throw new SpspMessageError("receipts_enabled is not a boolean");
  }
  if (body.request_id !== undefined && typeof body.request_id !== "string") {
    throw new SpspMessageError("request_id is not a string");
  }
}

async function decryptBody(
  event: NostrEvent,
  signer: NodeSigner,
): Promise<Record<string, unknown>> {
  const me = signer.pubkey;
  if (!event.tags.some((t) => t[0] === "p" && t[1] === me)) {
    throw new SpspMessageError("message is not addressed to this key (no matching p tag)");
  }
  if (event.content.length > MAX_SPSP_CONTENT) {
    throw new SpspMessageError(`content over ${MAX_SPSP_CONTENT} characters`);
  }
  let plain: string;
  try {
    plain = event.content.includes("?iv=")
      ? await signer.nip04Decrypt(event.pubkey, event.content)
      : (await nip44()).decrypt(event.content, await signer.conversationKey(event.pubkey));
  } catch (err) {
    if (err instanceof NodeSignerError) throw err; // the node's trouble, not the sender's
    throw new SpspMessageError(`cannot decrypt content: ${(err as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(plain);
  } catch {
    throw new SpspMessageError("decrypted content is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SpspMessageError("decrypted content is not a JSON object");
  }
  const obj = body as Record<string, unknown>;
  if ("method" in obj || "result_type" in obj) {
    throw new SpspNip47MessageError(
      `kind ${event.kind} carries a NIP-47 wallet ${
        "method" in obj ? "request" : "response"
      }, not SPSP`,
    );
  }
  return obj;
}

async function encrypt(plain: string, signer: NodeSigner, pubkey: string): Promise<string> {
  return (await nip44()).encrypt(plain, await signer.conversationKey(pubkey));
}

/** NIP-44 v2, loaded at the first SPSP message (an idle town has none; docs/OPERATIONS.md "Memory"). */
async function nip44(): Promise<typeof import("nostr-tools/nip44").v2> {
  return (await import("nostr-tools/nip44")).v2;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** Standard or URL-safe base64, padded or not; an invalid string decodes to no bytes. */
function fromBase64(text: string): Uint8Array {
  if (text.length > 128 || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return new Uint8Array();
  const std = text.replaceAll("-", "+").replaceAll("_", "/");
  try {
    return Uint8Array.from(
      atob(std.padEnd(Math.ceil(std.length / 4) * 4, "=")),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return new Uint8Array();
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
