/**
 * Crosstown peer info (kind 10032, replaceable): how to reach a node over ILP and settle with
 * it. Content is JSON:
 *
 * ```json
 * { "ilpAddress": "g.town.alice", "btpEndpoint": "wss://town.example:3000",
 *   "assetCode": "USD", "assetScale": 6,
 *   "supportedChains": ["evm:base:84532"],
 *   "settlementAddresses": { "evm:base:84532": "0x..." },
 *   "tokenNetworks": { "evm:base:84532": "0x..." },
 *   "preferredTokens": { "evm:base:84532": "0x..." } }
 * ```
 *
 * The three maps are keyed by chain id (`<family>:<network>:<chain id>`), and every key must be
 * one of `supportedChains`. On `evm:` chains the values are 0x-prefixed 20-byte addresses.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** Kind of peer info events. */
export const PEER_INFO_KIND = 10032;
/** Largest peer info content accepted, in characters. */
export const MAX_PEER_INFO_CONTENT = 64 * 1024;
/** Most chains one peer may list. */
export const MAX_SUPPORTED_CHAINS = 64;

/** Peer info content. */
export interface PeerInfo {
  /** The node's ILP address (RFC 15), e.g. `g.town.alice`. */
  ilpAddress: string;
  /** Where to connect over BTP: a ws://, wss://, btp+ws:// or btp+wss:// URL. */
  btpEndpoint: string;
  /** ILP asset code, 1-16 letters or digits (e.g. `USD`). */
  assetCode: string;
  /** ILP asset scale, 0-255: base units per unit are 10^scale. */
  assetScale: number;
  /** Settlement chains (`<family>:<network>:<chain id>`), no duplicates, at most 64. */
  supportedChains: string[];
  /** The node's settlement address per chain (on `evm:` chains 0x + 40 hex). */
  settlementAddresses: Record<string, string>;
  /** The TokenNetwork contract per chain. */
  tokenNetworks: Record<string, string>;
  /** The token the node prefers to settle in, per chain. */
  preferredTokens: Record<string, string>;
  /**
   * The largest ILP PREPARE amount the node takes (base units, decimal), when it says: a town
   * refuses a higher one F08 (docs/PROTOCOL.md).
   */
  maxPacketAmount?: string;
}

/** Peer info that is malformed; `field` names the first bad field. */
export class PeerInfoError extends ProtocolError {
  /** `"PeerInfoError"`: explicit so it survives bundling. */
  override name = "PeerInfoError";
  /**
   * `field`: the first bad field (`content`, `kind`, or a {@linkcode PeerInfo} key); `tooLarge`:
   * the content is over its bound (so a caller tells it from a bad value without the message).
   */
  constructor(readonly field: string, message: string, readonly tooLarge = false) {
    super(`peer info ${field}: ${message}`);
  }
}

// RFC 15 address: allocation scheme, then dot-separated segments, at most 1023 bytes.
const ILP_ADDRESS = /^(g|private|example|peer|self|test[1-3]?|local)(\.[a-zA-Z0-9_~-]+)+$/;
const CHAIN = /^[a-z][a-z0-9]*:[a-z0-9-]+:[0-9]+$/;
const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const ASSET_CODE = /^[A-Za-z0-9]{1,16}$/;

/**
 * True for a valid ILP address (RFC 15).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isIlpAddress("g.town.alice"), true);
 * assert.equal(isIlpAddress("not an address"), false);
 * ```
 */
export function isIlpAddress(value: unknown): value is string {
  return typeof value === "string" && value.length <= 1023 && ILP_ADDRESS.test(value);
}

/**
 * Checks peer info and returns it with only the known fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const info = validatePeerInfo({ ...{ ilpAddress: "g.town", btpEndpoint: "ws://127.0.0.1:3000", assetCode: "USD",
 *   assetScale: 6, supportedChains: ["evm:base:31337"], settlementAddresses: {},
 *   tokenNetworks: {}, preferredTokens: {} }, extra: 1 });
 * assert.equal(info.ilpAddress, "g.town");
 * assert.equal("extra" in info, false);
 * assert.throws(() => validatePeerInfo({ ilpAddress: "not an address" }), PeerInfoError);
 * ```
 */
export function validatePeerInfo(value: unknown): PeerInfo {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PeerInfoError("content", "is not a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (!isIlpAddress(v.ilpAddress)) throw new PeerInfoError("ilpAddress", "is not an ILP address");
  if (!isBtpEndpoint(v.btpEndpoint)) {
    throw new PeerInfoError("btpEndpoint", "is not a ws://, wss://, btp+ws:// or btp+wss:// URL");
  }
  if (typeof v.assetCode !== "string" || !ASSET_CODE.test(v.assetCode)) {
    throw new PeerInfoError("assetCode", "is not 1-16 letters or digits");
  }
  const scale = v.assetScale;
  if (typeof scale !== "number" || !Number.isInteger(scale) || scale < 0 || scale > 255) {
    throw new PeerInfoError("assetScale", "is not an integer 0..255");
  }
  const chains = v.supportedChains;
  if (!Array.isArray(chains) || chains.length > MAX_SUPPORTED_CHAINS) {
    throw new PeerInfoError(
      "supportedChains",
      `is not an array of at most ${MAX_SUPPORTED_CHAINS}`,
    );
  }
  for (const c of chains) {
    if (typeof c !== "string" || !CHAIN.test(c)) {
      throw new PeerInfoError(
        "supportedChains",
        `has "${String(c).slice(0, 40)}", not family:network:id`,
      );
    }
  }
  if (new Set(chains).size !== chains.length) {
    throw new PeerInfoError("supportedChains", "has duplicates");
  }
  return {
    ilpAddress: v.ilpAddress,
    btpEndpoint: v.btpEndpoint,
    assetCode: v.assetCode,
    assetScale: scale,
    supportedChains: [...chains],
    settlementAddresses: chainMap(v, "settlementAddresses", chains),
    tokenNetworks: chainMap(v, "tokenNetworks", chains),
    preferredTokens: chainMap(v, "preferredTokens", chains),
    ...(v.maxPacketAmount === undefined ? {} : { maxPacketAmount: amountField(v.maxPacketAmount) }),
  };
}

function amountField(v: unknown): string {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]{0,38})$/.test(v)) {
    throw new PeerInfoError("maxPacketAmount", "is not a decimal amount of base units");
  }
  return v;
}

function isBtpEndpoint(v: unknown): v is string {
  if (typeof v !== "string" || v.length > 2048) return false;
  try {
    return ["ws:", "wss:", "btp+ws:", "btp+wss:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

function chainMap(
  v: Record<string, unknown>,
  field: string,
  chains: string[],
): Record<string, string> {
  const map = v[field] ?? {};
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new PeerInfoError(field, "is not an object keyed by chain");
  }
  const out: Record<string, string> = {};
  for (const [chain, address] of Object.entries(map)) {
    if (!chains.includes(chain)) {
      throw new PeerInfoError(field, `names unsupported chain "${chain.slice(0, 40)}"`);
    }
    if (typeof address !== "string" || (chain.startsWith("evm:") && !EVM_ADDRESS.test(address))) {
      throw new PeerInfoError(field, `value for ${chain} is not an address`);
    }
    out[chain] = address;
  }
  return out;
}

/** Options for {@linkcode buildPeerInfo}. */
export interface BuildPeerInfoOptions {
  /** Event `created_at`, unix seconds. Default now. */
  createdAt?: number;
}

/**
 * Builds a kind 10032 template (validating the info first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const template = buildPeerInfo({ ilpAddress: "g.town", btpEndpoint: "ws://127.0.0.1:3000", assetCode: "USD",
 *   assetScale: 6, supportedChains: ["evm:base:31337"], settlementAddresses: {},
 *   tokenNetworks: {}, preferredTokens: {} });
 * assert.equal(template.kind, PEER_INFO_KIND); // 10032, the info as JSON content
 * ```
 */
export function buildPeerInfo(info: PeerInfo, options: BuildPeerInfoOptions = {}): EventTemplate {
  return {
    kind: PEER_INFO_KIND,
    created_at: options.createdAt ?? Math.floor(Date.now() / 1000),
    tags: [],
    content: JSON.stringify(validatePeerInfo(info)),
  };
}

/**
 * Reads the peer info of a kind 10032 event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const event = buildPeerInfo({ ilpAddress: "g.town", btpEndpoint: "ws://127.0.0.1:3000", assetCode: "USD",
 *   assetScale: 6, supportedChains: ["evm:base:31337"], settlementAddresses: {},
 *   tokenNetworks: {}, preferredTokens: {} });
 * assert.equal(parsePeerInfo(event).btpEndpoint, "ws://127.0.0.1:3000");
 * assert.throws(() => parsePeerInfo({ ...event, kind: 1 }), PeerInfoError);
 * ```
 */
export function parsePeerInfo(event: Pick<NostrEvent, "kind" | "content">): PeerInfo {
  if (event.kind !== PEER_INFO_KIND) throw new PeerInfoError("kind", `${event.kind} is not 10032`);
  if (event.content.length > MAX_PEER_INFO_CONTENT) {
    throw new PeerInfoError("content", `is over ${MAX_PEER_INFO_CONTENT} characters`, true);
  }
  let value: unknown;
  try {
    value = JSON.parse(event.content);
  } catch {
    throw new PeerInfoError("content", "is not JSON");
  }
  return validatePeerInfo(value);
}

/**
 * Chains both sides support, best first: in the order of `preference`, then the remaining
 * common chains in `mine` order. The first element is the chain to settle on; an empty result
 * means the peers cannot settle with each other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(negotiateSettlementChain(["evm:base:31337", "evm:base:84532"], ["evm:base:84532"], ["evm:base:84532"]), ["evm:base:84532"]);
 * ```
 */
export function negotiateSettlementChain(
  mine: readonly string[],
  theirs: readonly string[],
  preference: readonly string[] = [],
): string[] {
  const theirSet = new Set(theirs);
  const common = mine.filter((c, i) => theirSet.has(c) && mine.indexOf(c) === i);
  const rank = (c: string) => {
    const i = preference.indexOf(c);
    return i === -1 ? preference.length : i;
  };
  // Array.prototype.sort is stable: equal ranks keep `mine` order.
  return common.sort((a, b) => rank(a) - rank(b));
}
