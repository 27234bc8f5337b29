/**
 * The town's SPSP shared secrets, derived so that a restart does not break a sender
 * mid-stream (nothing to store, nothing to lose):
 *
 * - seed = HMAC-SHA256(town secret key, "turnpike town spsp seed v1");
 * - each SPSP response gets a fresh random tag (16 bytes, base64url, 22 characters) and the
 *   destination `<town address>.relay.<tag>`;
 * - shared secret = HMAC-SHA256(seed, "turnpike spsp secret v1:" + tag).
 *
 * So the town recomputes the secret of any packet from its destination alone, exactly as a
 * STREAM server (RFC 29) does with the token in its address; a sender that did not get the tag
 * from the town cannot know the secret. Fulfillments follow docs/PROTOCOL.md:
 * HMAC(HMAC(secret, "ilp_stream_fulfillment"), data).
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { NodeSigner } from "../../../protocol/node_signer.ts";

const encoder = new TextEncoder();
const SEED_LABEL = "turnpike town spsp seed v1";
const SECRET_LABEL = "turnpike spsp secret v1:";
const FULFILLMENT_LABEL = encoder.encode("ilp_stream_fulfillment");
const TAG_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** The address segment under the town's address that paid writes go to. */
export const RELAY_SEGMENT = "relay";

/** Options for {@linkcode SpspSecrets}. */
export interface SpspSecretsOptions {
  /** 32-byte seed, see {@linkcode deriveSpspSeed}. */
  seed: Uint8Array;
  /** Most per-tag fulfillment keys kept in memory. Default 10,000. */
  maxCachedKeys?: number;
}

/** What the town hands a sender over SPSP. */
export interface SpspGrant {
  tag: string;
  /** `<town>.relay.<tag>` */
  destinationAccount: string;
  sharedSecret: Uint8Array;
}

/** Where a PREPARE to the town is addressed. */
export type WriteDestination =
  /** The town's address itself, or `<town>.relay` without a tag. */
  | { kind: "town" }
  /** `<town>.relay.<tag>[.more]`: a tag from an SPSP grant. */
  | { kind: "relay"; tag: string };

/**
 * Derives the SPSP seed from the town's key (the same at every start, so grants outlive a
 * restart).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deriveSpspSeed } from "./spsp_secrets.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * using townSigner = localNodeSigner(generateSecretKey());
 * const seed = await deriveSpspSeed(townSigner);
 * assert(seed.length === 32);
 * ```
 */
export async function deriveSpspSeed(town: NodeSigner): Promise<Uint8Array> {
  return await town.derivedSecret(SEED_LABEL);
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Classifies a destination at or under the town's address; undefined when it is neither the
 * town nor its relay (then it belongs to a child, or is unknown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWriteDestination } from "./spsp_secrets.ts";
 *
 * assert.deepEqual(parseWriteDestination("g.town.relay.abcdefghijklmnop", "g.town"),
 *   { kind: "relay", tag: "abcdefghijklmnop" });
 * ```
 */
export function parseWriteDestination(
  destination: string,
  townAddress: string,
): WriteDestination | undefined {
  if (destination === townAddress) return { kind: "town" };
  const relay = `${townAddress}.${RELAY_SEGMENT}`;
  if (destination === relay) return { kind: "town" };
  if (!destination.startsWith(relay + ".")) return undefined;
  const tag = destination.slice(relay.length + 1).split(".")[0];
  return TAG_PATTERN.test(tag) ? { kind: "relay", tag } : { kind: "town" };
}

/**
 * Issues and recomputes the town's shared secrets; fulfillments are computed synchronously.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { sha256 } from "@noble/hashes/sha2.js";
 * import { deriveSpspSeed, SpspSecrets } from "./spsp_secrets.ts";
 * import { localNodeSigner } from "../../../identity/local_node_signer.ts";
 *
 * using townSigner = localNodeSigner(generateSecretKey());
 * const secrets = new SpspSecrets({ seed: await deriveSpspSeed(townSigner) });
 * const grant = secrets.grant("g.town"); // sent to the sender over SPSP
 * assert(grant.destinationAccount.startsWith("g.town."));
 * const data = new TextEncoder().encode("a TOON event"); // a PREPARE's data
 * // The sender's condition hashes from the same fulfillment, derived from the shared secret.
 * const fulfillment = secrets.fulfillment(grant.tag, data);
 * assert.deepEqual(secrets.fulfillment(grant.tag, data), fulfillment);
 * assert.equal(sha256(fulfillment).length, 32);
 * ```
 */
export class SpspSecrets {
  readonly #seed: Uint8Array;
  readonly #max: number;
  // tag -> an HMAC keyed with HMAC(secret, "ilp_stream_fulfillment"), its key blocks absorbed:
  // a packet costs part of one HMAC, not three.
  readonly #keys = new Map<string, ReturnType<typeof hmac.create>>();

  constructor(options: SpspSecretsOptions) {
    if (options.seed.byteLength !== 32) throw new RangeError("SPSP seed must be 32 bytes");
    this.#seed = Uint8Array.from(options.seed);
    this.#max = options.maxCachedKeys ?? 10_000;
  }

  /** A fresh tag, its destination under `townAddress` and its shared secret. */
  grant(townAddress: string): SpspGrant {
    const tag = base64url(crypto.getRandomValues(new Uint8Array(16)));
    return {
      tag,
      destinationAccount: `${townAddress}.${RELAY_SEGMENT}.${tag}`,
      sharedSecret: this.secretForTag(tag),
    };
  }

  /** The shared secret of a tag. */
  secretForTag(tag: string): Uint8Array {
    return hmac(sha256, this.#seed, encoder.encode(SECRET_LABEL + tag));
  }

  /**
   * The fulfillment for `data` sent under `tag`. Hand-written with noble's synchronous HMAC
   * instead of protocol/ilp_fulfillment.ts (WebCrypto, async): on the town's hot path the two
   * awaits per packet cost more than the hashing. node:crypto's createHmac is native but slower
   * at this size (an op per call: about 45 us against 20). The HMAC's inner and outer key blocks
   * are hashed once per tag and the state cloned: two of its four SHA-256 blocks saved a packet.
   */
  fulfillment(tag: string, data: Uint8Array): Uint8Array {
    let keyed = this.#keys.get(tag);
    if (!keyed) {
      keyed = hmac.create(sha256, hmac(sha256, this.secretForTag(tag), FULFILLMENT_LABEL));
      if (this.#keys.size >= this.#max) this.#keys.clear();
      this.#keys.set(tag, keyed);
    }
    return keyed.clone().update(data).digest();
  }
}

/**
 * SHA-256 of a fulfillment compared with a condition, in constant time over the 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conditionMatches, SpspSecrets } from "./spsp_secrets.ts";
 * import { sha256 } from "@noble/hashes/sha2.js";
 *
 * const secrets = new SpspSecrets({ seed: crypto.getRandomValues(new Uint8Array(32)) });
 * const { tag } = secrets.grant("g.town");
 * const data = new TextEncoder().encode("a TOON event");
 * const fulfillment = secrets.fulfillment(tag, data);
 * const executionCondition = sha256(fulfillment); // what the sender puts in its PREPARE
 * assert(conditionMatches(fulfillment, executionCondition));
 * ```
 */
export function conditionMatches(fulfillment: Uint8Array, condition: Uint8Array): boolean {
  if (condition.byteLength !== 32) return false;
  const actual = sha256(fulfillment);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= actual[i] ^ condition[i];
  return diff === 0;
}
