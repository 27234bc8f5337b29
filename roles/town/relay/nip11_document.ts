/**
 * The town's NIP-11 relay information document.
 *
 * @module
 */
import type { TownLimits } from "../../../config/town_limits.ts";

/** What the NIP-11 document says about the town. */
export interface Nip11Info {
  name?: string;
  description?: string;
  /** Hex pubkey of the town's owner. */
  pubkey?: string;
  /**
   * Hex pubkey of the town itself (NIP-11 `self`): what SPSP requests (kind 23194) are
   * encrypted to and what signs its 23195 answers.
   */
  self?: string;
  contact?: string;
  software?: string;
  version?: string;
  /** Price per TOON byte, base units (for `fees`). */
  pricePerByte?: bigint;
  /** Asset code and scale of the price (for `fees`). */
  assetCode?: string;
  assetScale?: number;
  /** ILP address paid writes go to. */
  ilpAddress?: string;
  /** Most one PREPARE paying the town may carry (larger is refused F08). */
  maxPacketAmount?: bigint;
  /** The blob store's price and limits (Blossom on the same port). */
  blobs?: {
    pricePerMiB: bigint;
    maxBlobBytes: number;
    quotaBytes: number;
    retentionMs: number;
  };
}

/**
 * NIPs the town implements (read side: 1, 11, 40, 45; 42: AUTH for private kinds, not for every
 * read, so `auth_required` stays false; 89 and 90 events are stored/served).
 */
export const TOWN_SUPPORTED_NIPS: readonly number[] = [1, 9, 11, 40, 42, 45, 89, 90];

/**
 * The NIP-11 document (served for `Accept: application/nostr+json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildNip11Document } from "./nip11_document.ts";
 * import { DEFAULT_TOWN_LIMITS } from "../../../config/town_limits.ts";
 *
 * const pubkey = "ab".repeat(32);
 * const doc = buildNip11Document({ name: "my town", pubkey }, DEFAULT_TOWN_LIMITS);
 * assert.deepEqual([doc.name, doc.pubkey], ["my town", pubkey]);
 * ```
 */
export function buildNip11Document(info: Nip11Info, limits: TownLimits): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    name: info.name ?? "turnpike town",
    description: info.description ??
      "Crosstown town: reads are free over NIP-01; writes are paid per TOON byte with ILP.",
    supported_nips: TOWN_SUPPORTED_NIPS,
    software: info.software ?? "https://github.com/turnpike/turnpike",
    version: info.version ?? "0.1.0",
    limitation: {
      max_message_length: limits.maxMessageBytes,
      max_subscriptions: limits.maxSubscriptions,
      max_filters: limits.maxFilters,
      max_limit: limits.maxLimit,
      default_limit: limits.maxLimit,
      max_subid_length: 64,
      messages_per_second: limits.messagesPerSecond,
      created_at_lower_limit: limits.createdAtMaxAgeSeconds,
      created_at_upper_limit: limits.createdAtMaxFutureSeconds,
      max_connections_per_address: limits.maxConnectionsPerAddress,
      auth_required: false,
      payment_required: true,
      restricted_writes: true,
    },
  };
  if (info.pubkey) doc.pubkey = info.pubkey;
  if (info.self) doc.self = info.self;
  if (info.contact) doc.contact = info.contact;
  const fees: Record<string, unknown[]> = {};
  if (info.pricePerByte !== undefined) {
    fees.publication = [{
      amount: Number(info.pricePerByte),
      unit: info.assetCode ?? "base units",
      per: "TOON byte",
      asset_scale: info.assetScale,
      ilp_address: info.ilpAddress,
      ...(info.maxPacketAmount !== undefined
        ? { max_packet_amount: info.maxPacketAmount.toString() }
        : {}),
    }];
  }
  if (info.blobs !== undefined) {
    // A Blossom server on this port: uploads paid per MiB kept for the retention period.
    fees.blob = [{
      amount: Number(info.blobs.pricePerMiB),
      unit: info.assetCode ?? "base units",
      per: "MiB",
      period: Math.round(info.blobs.retentionMs / 1000),
      asset_scale: info.assetScale,
      ilp_address: info.ilpAddress,
    }];
    Object.assign(doc.limitation as Record<string, unknown>, {
      max_blob_bytes: info.blobs.maxBlobBytes,
      blob_quota_bytes: info.blobs.quotaBytes,
      blob_retention_seconds: Math.round(info.blobs.retentionMs / 1000),
    });
  }
  if (Object.keys(fees).length > 0) doc.fees = fees;
  return doc;
}
