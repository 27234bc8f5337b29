/**
 * Blossom authorization events (BUD-01, BUD-02): kind 24242, a `t` verb (`get`, `upload`,
 * `list`, `delete`), NIP-40 `expiration`, `x` tags naming blobs, sent base64 in the HTTP header
 * `Authorization: Nostr <base64 of the event JSON>`.
 *
 * turnpike adds one tag of its own, `["size", "<bytes>"]`, to upload authorizations: the same
 * event is the data of the ILP PREPARE that pays for the upload (docs/PROTOCOL.md "Blobs"), and
 * the town prices it by that size before a byte is sent.
 *
 * Checks here are the spec's, in its order (kind, created_at in the past, expiration in the
 * future, verb, `x` for the blob at hand); the signature is the caller's (it has the verifier).
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** Kind of a Blossom authorization event. */
export const BLOB_AUTH_KIND = 24242;

/** What an authorization allows. */
export type BlobVerb = "get" | "upload" | "list" | "delete";

/** Largest `Authorization` header read (an event with a few tags is well under 2 KiB). */
export const MAX_AUTH_HEADER_BYTES = 16 * 1024;

/** How far in the future `created_at` may be (clock skew). */
const CLOCK_SKEW_S = 60;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** An authorization that does not allow what is asked; `reason` is for the HTTP answer. */
export class BlobAuthorizationError extends ProtocolError {
  override name = "BlobAuthorizationError";
}

/** Options for {@linkcode buildBlobAuthorization}. */
export interface BlobAuthorizationOptions {
  verb: BlobVerb;
  /** Blobs it is for (`x` tags); required for `upload` and `delete`. */
  sha256?: readonly string[];
  /** Size of the blob to upload, bytes (turnpike's `size` tag). */
  size?: number;
  /** Unix seconds; default now + 10 minutes. */
  expiresAt?: number;
  /** Human-readable purpose (BUD-01 asks for one). */
  content?: string;
  /** Unix seconds; default now. */
  createdAt?: number;
}

/**
 * Builds an unsigned authorization event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildBlobAuthorization } from "./blob_authorization.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const hash = "b".repeat(64);
 * const template = buildBlobAuthorization({ verb: "upload", sha256: [hash], size: 1024 });
 * const auth = finalizeEvent(template, generateSecretKey());
 * assert(auth.tags.some(([name, value]) => name === "x" && value === hash));
 * ```
 */
export function buildBlobAuthorization(o: BlobAuthorizationOptions): EventTemplate {
  const now = Math.floor(Date.now() / 1000);
  const hashes = o.sha256 ?? [];
  for (const h of hashes) {
    if (!SHA256_HEX.test(h)) throw new BlobAuthorizationError(`not a sha256: ${h}`);
  }
  if ((o.verb === "upload" || o.verb === "delete") && hashes.length === 0) {
    throw new BlobAuthorizationError(`a ${o.verb} authorization names its blob (x tag)`);
  }
  const tags = [
    ["t", o.verb],
    ...hashes.map((h) => ["x", h]),
    ...(o.size === undefined ? [] : [["size", String(o.size)]]),
    ["expiration", String(o.expiresAt ?? now + 600)],
  ];
  return {
    kind: BLOB_AUTH_KIND,
    created_at: o.createdAt ?? now,
    tags,
    content: o.content ?? `${o.verb[0].toUpperCase()}${o.verb.slice(1)} blob`,
  };
}

/** What a checked authorization allows. */
export interface BlobAuthorization {
  pubkey: string;
  verb: BlobVerb;
  /** The `x` tags. */
  sha256: string[];
  /** The `size` tag, when present. */
  size?: number;
  /** Unix seconds. */
  expiresAt: number;
}

/** Options for {@linkcode checkBlobAuthorization}. */
export interface CheckBlobAuthorizationOptions {
  verb: BlobVerb;
  /** The blob the request is about; it must be among the `x` tags. */
  sha256?: string;
  /** Unix seconds; default now. */
  now?: number;
}

/**
 * Checks an authorization event against what a request wants (not its signature).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildBlobAuthorization, checkBlobAuthorization } from "./blob_authorization.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 *
 * const hash = "b".repeat(64);
 * const event = finalizeEvent(
 *   buildBlobAuthorization({ verb: "upload", sha256: [hash], size: 1024 }),
 *   generateSecretKey(),
 * );
 * const auth = checkBlobAuthorization(event, { verb: "upload", sha256: hash });
 * assert(auth.size === 1024 && auth.pubkey === event.pubkey);
 * ```
 * @throws {BlobAuthorizationError} with the first check that failed.
 */
export function checkBlobAuthorization(
  event: NostrEvent,
  o: CheckBlobAuthorizationOptions,
): BlobAuthorization {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if (event.kind !== BLOB_AUTH_KIND) {
    throw new BlobAuthorizationError(`authorization must be kind ${BLOB_AUTH_KIND}`);
  }
  if (event.created_at > now + CLOCK_SKEW_S) {
    throw new BlobAuthorizationError("authorization created_at is in the future");
  }
  const tag = (name: string) => event.tags.find((t) => t[0] === name)?.[1];
  const expiration = Number(tag("expiration"));
  if (!Number.isSafeInteger(expiration)) {
    throw new BlobAuthorizationError("authorization has no expiration tag");
  }
  if (expiration <= now) throw new BlobAuthorizationError("authorization expired");
  const verb = tag("t");
  if (verb !== o.verb) {
    throw new BlobAuthorizationError(`authorization is for "${verb}", not "${o.verb}"`);
  }
  const hashes = event.tags.filter((t) => t[0] === "x" && SHA256_HEX.test(t[1] ?? ""))
    .map((t) => t[1]);
  if (o.sha256 !== undefined && !hashes.includes(o.sha256)) {
    throw new BlobAuthorizationError(`authorization has no x tag for ${o.sha256}`);
  }
  const sizeText = tag("size");
  const size = sizeText === undefined ? undefined : Number(sizeText);
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0 || !/^\d+$/.test(sizeText!))) {
    throw new BlobAuthorizationError(`authorization size tag is not a byte count: ${sizeText}`);
  }
  return { pubkey: event.pubkey, verb: o.verb, sha256: hashes, size, expiresAt: expiration };
}

/**
 * The `Authorization` header value for an event.
 *
 * @example
 * ```ts
 * import { authorizationHeader } from "./blob_authorization.ts";
 * import type { NostrEvent } from "./nostr_event.ts";
 *
 * async function upload(url: string, auth: NostrEvent, body: Blob): Promise<Response> {
 *   return await fetch(url, {
 *     method: "PUT",
 *     headers: { authorization: authorizationHeader(auth) },
 *     body,
 *   });
 * }
 * ```
 */
export function authorizationHeader(event: NostrEvent): string {
  const bytes = new TextEncoder().encode(JSON.stringify(event));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Nostr ${btoa(binary)}`;
}

/**
 * Reads the event out of an `Authorization: Nostr <base64>` header (shape only: the caller
 * verifies the signature and calls {@linkcode checkBlobAuthorization}).
 *
 * @example
 * ```ts
 * import { parseAuthorizationHeader } from "./blob_authorization.ts";
 *
 * function uploader(request: Request): string {
 *   const event = parseAuthorizationHeader(request.headers.get("authorization"));
 *   return event.pubkey;
 * }
 * ```
 * @throws {BlobAuthorizationError} when absent, oversized, not base64 JSON or not event-shaped.
 */
export function parseAuthorizationHeader(header: string | null): NostrEvent {
  if (header === null) throw new BlobAuthorizationError("missing Authorization header");
  if (header.length > MAX_AUTH_HEADER_BYTES) {
    throw new BlobAuthorizationError(`Authorization header over ${MAX_AUTH_HEADER_BYTES} bytes`);
  }
  const m = /^Nostr\s+([A-Za-z0-9+/=_-]+)$/.exec(header.trim());
  if (m === null) throw new BlobAuthorizationError("Authorization scheme must be Nostr <base64>");
  let event: unknown;
  try {
    const binary = atob(m[1].replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    event = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new BlobAuthorizationError("Authorization is not base64 of an event's JSON");
  }
  if (!isEventShaped(event)) {
    throw new BlobAuthorizationError("Authorization event is missing fields");
  }
  return event;
}

function isEventShaped(v: unknown): v is NostrEvent {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.id === "string" && typeof e.pubkey === "string" &&
    typeof e.sig === "string" && typeof e.content === "string" &&
    Number.isSafeInteger(e.kind) && Number.isSafeInteger(e.created_at) &&
    Array.isArray(e.tags) &&
    e.tags.every((t) => Array.isArray(t) && t.every((s) => typeof s === "string"));
}
