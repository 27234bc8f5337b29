/**
 * Fetches a relay's NIP-11 information document, e.g. to learn a town's own pubkey (`self`)
 * without the operator having to copy it around.
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import { trustedClient, untrustedCertificate } from "./tls_trust.ts";

/** Largest NIP-11 document read (network input). */
export const MAX_RELAY_INFO_BYTES = 64 * 1024;

/** Options for {@linkcode fetchRelayInfo}. */
export interface FetchRelayInfoOptions {
  /** Give up after this long. Default 5000 ms. */
  timeoutMs?: number;
}

/** The fields of a NIP-11 document turnpike reads. */
export interface RelayInfo {
  name?: string;
  /** The owner's pubkey. */
  pubkey?: string;
  /** The relay's own pubkey. */
  self?: string;
  supported_nips?: number[];
  [key: string]: unknown;
}

/** Why a relay's information could not be had. */
export type RelayInfoErrorReason =
  /** Not a ws/wss/http/https URL. */
  | "bad-url"
  /** Nothing answered (refused, timed out). */
  | "unreachable"
  /** Something answered, but not a usable NIP-11 document (HTTP error, too large, not JSON...). */
  | "bad-document";

/** The relay did not answer with a usable NIP-11 document. */
export class RelayInfoError extends TransportError {
  override name = "RelayInfoError";
  reason: RelayInfoErrorReason;
  constructor(
    message: string,
    reason: RelayInfoErrorReason = "bad-document",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * `ws://host:port/path` -> `http://host:port/path` (and `wss` -> `https`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relayHttpUrl } from "./relay_info.ts";
 *
 * assert.equal(relayHttpUrl("ws://127.0.0.1:7100"), "http://127.0.0.1:7100/");
 * ```
 */
export function relayHttpUrl(relayUrl: string): string {
  const url = new URL(relayUrl);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  else if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RelayInfoError(`not a relay URL: ${relayUrl}`, "bad-url");
  }
  return url.toString();
}

/**
 * Reads the relay's NIP-11 document (`Accept: application/nostr+json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getPublicKey, generateSecretKey } from "nostr-tools/pure";
 * import { fetchRelayInfo } from "./relay_info.ts";
 *
 * // A town stand-in that answers the NIP-11 request with its pubkey.
 * const self = getPublicKey(generateSecretKey());
 * await using town = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => Response.json({ name: "town", self }),
 * );
 * const info = await fetchRelayInfo(`ws://127.0.0.1:${town.addr.port}`);
 * assert.equal(info.self, self); // the town's pubkey
 * ```
 */
export async function fetchRelayInfo(
  relayUrl: string,
  options: FetchRelayInfoOptions = {},
): Promise<RelayInfo> {
  const url = relayHttpUrl(relayUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "application/nostr+json" },
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      ...trustedClient(),
    });
  } catch (err) {
    // A refused certificate stays the cause: the CLI's suggestion names ca_file for it.
    const trust = untrustedCertificate(err, url);
    const message = trust?.message ?? (err as Error).message;
    throw new RelayInfoError(`cannot reach ${url}: ${message}`, "unreachable", {
      cause: trust ?? err,
    });
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (!response.ok) throw new RelayInfoError(`${url} answered HTTP ${response.status}`);
  if (body.length > MAX_RELAY_INFO_BYTES) {
    throw new RelayInfoError(`NIP-11 document over ${MAX_RELAY_INFO_BYTES} bytes`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new RelayInfoError(`${url} did not answer with a JSON NIP-11 document`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new RelayInfoError(`${url} did not answer with a JSON object`);
  }
  return doc as RelayInfo;
}

/**
 * The town's own pubkey, from its NIP-11 `self` field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getPublicKey, generateSecretKey } from "nostr-tools/pure";
 * import { fetchTownPubkey } from "./relay_info.ts";
 *
 * // A town stand-in that answers the NIP-11 request with its pubkey.
 * const self = getPublicKey(generateSecretKey());
 * await using town = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => Response.json({ name: "town", self }),
 * );
 * assert.equal(await fetchTownPubkey(`ws://127.0.0.1:${town.addr.port}`), self);
 * ```
 */
export async function fetchTownPubkey(
  relayUrl: string,
  options: FetchRelayInfoOptions = {},
): Promise<string> {
  const info = await fetchRelayInfo(relayUrl, options);
  if (typeof info.self !== "string" || !/^[0-9a-f]{64}$/.test(info.self)) {
    throw new RelayInfoError(`${relayUrl} does not publish its pubkey (NIP-11 "self")`);
  }
  return info.self;
}

/**
 * The town's blob price, base units per MiB (NIP-11 `fees.blob`), when it publishes one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townBlobPrice } from "./relay_info.ts";
 *
 * // A NIP-11 document as fetchRelayInfo reads it from the town.
 * assert.equal(townBlobPrice({ fees: { blob: [{ amount: 2000, unit: "msats" }] } }), 2000n);
 * assert.equal(townBlobPrice({}), undefined); // DEFAULT_BLOB_PRICE_PER_MIB then
 * ```
 */
export function townBlobPrice(info: RelayInfo): bigint | undefined {
  const fees = info.fees as { blob?: unknown[] } | undefined;
  const fee = fees?.blob?.[0] as Record<string, unknown> | undefined;
  return typeof fee?.amount === "number" && Number.isSafeInteger(fee.amount) && fee.amount >= 0
    ? BigInt(fee.amount)
    : undefined;
}

/**
 * The town's price per TOON byte of a write, base units (NIP-11 `fees.publication`), when it
 * publishes one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townPublicationPrice } from "./relay_info.ts";
 *
 * assert.equal(townPublicationPrice({ fees: { publication: [{ amount: 10 }] } }), 10n);
 * assert.equal(townPublicationPrice({ fees: { publication: [{ amount: -1 }] } }), undefined);
 * ```
 */
export function townPublicationPrice(info: RelayInfo): bigint | undefined {
  const fees = info.fees as { publication?: unknown[] } | undefined;
  const fee = fees?.publication?.[0] as Record<string, unknown> | undefined;
  return typeof fee?.amount === "number" && Number.isSafeInteger(fee.amount) && fee.amount >= 0
    ? BigInt(fee.amount)
    : undefined;
}

/**
 * The town's Blossom server: its HTTP URL, without a trailing slash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blobServerOf } from "./relay_info.ts";
 *
 * assert.equal(blobServerOf("ws://127.0.0.1:7100"), "http://127.0.0.1:7100");
 * ```
 */
export function blobServerOf(relayUrl: string): string {
  return relayHttpUrl(relayUrl).replace(/\/+$/, "");
}
