/**
 * Private messages: NIP-17 direct messages (a kind 14 rumor), sealed (kind 13, NIP-44 v2,
 * signed by the sender) and gift-wrapped (kind 1059, NIP-59, signed by a throwaway key, `p`-tagged
 * to the recipient). The crypto is nostr-tools'; the seal is made and opened through the node's
 * {@linkcode NodeSigner} (its key may live in a worker), the wrap with nostr-tools' throwaway key.
 * This module adds what a node facing strangers needs around it: size limits, the recipient
 * check before any decryption, the rumor's id checked against its content, and one named error
 * with a reason per way a wrap can be bad.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { getEventHash, nip44, nip59, verifyEvent } from "nostr-tools";
import { encode as encodeToon } from "@toon-format/toon";
import type { NostrEvent } from "./nostr_event.ts";
import { type NodeSigner, NodeSignerError } from "./node_signer.ts";

/** Kind of a gift wrap. */
export const GIFT_WRAP_KIND = 1059;
/** Kind of a seal. */
export const SEAL_KIND = 13;
/** Kind of a NIP-17 chat message (the rumor of a DM). */
export const DIRECT_MESSAGE_KIND = 14;
/**
 * Largest wrap content read, characters. A DM's text is at most {@linkcode MAX_DM_TEXT}; sealed
 * and wrapped, NIP-44 padding and base64 take it to about 4x.
 */
export const MAX_WRAP_CONTENT = 256 * 1024;
/** Largest DM text sent or accepted, characters. */
export const MAX_DM_TEXT = 32 * 1024;

/** Why a wrap was refused. */
export type GiftWrapRefusal =
  | "not-a-wrap"
  | "too-large"
  | "not-for-me"
  | "bad-signature"
  | "undecryptable"
  | "forged-sender"
  | "bad-rumor";

/** A gift wrap that cannot be accepted; `reason` says why. */
export class GiftWrapError extends ProtocolError {
  override name = "GiftWrapError";
  constructor(readonly reason: GiftWrapRefusal, detail: string) {
    super(`${reason}: ${detail}`);
  }
}

/** An unwrapped message: the rumor and its verified author. */
export interface UnwrappedMessage {
  /** The rumor (unsigned; its id checked against its content). */
  rumor: {
    id: string;
    pubkey: string;
    kind: number;
    created_at: number;
    tags: string[][];
    content: string;
  };
  /** The sender: the seal's signer, which the rumor's pubkey matches. */
  sender: string;
  /** The wrap's id (what "at most once" is counted by). */
  wrapId: string;
}

/** Options for {@linkcode unwrapGiftWrap}. */
export interface UnwrapOptions {
  /** The recipient's key; the wrap's `p` tag must name its pubkey before anything is decrypted. */
  signer: NodeSigner;
}

/**
 * Unwraps a kind 1059 gift wrap addressed to `pubkey`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { unwrapGiftWrap, wrapDirectMessage } from "./gift_wrap.ts";
 *
 * const alice = localNodeSigner(generateSecretKey());
 * const signer = localNodeSigner(generateSecretKey());
 * const wrap = await wrapDirectMessage({ signer: alice, recipient: signer.pubkey, text: "hi" });
 * const { rumor, sender } = await unwrapGiftWrap(wrap, { signer });
 * assert.deepEqual([sender, rumor.content], [alice.pubkey, "hi"]);
 * ```
 * @throws {GiftWrapError} with the reason when it is not a wrap for this key, too large, badly
 * signed, undecryptable, or its rumor claims another author than the seal's signer.
 */
export async function unwrapGiftWrap(
  wrap: NostrEvent,
  o: UnwrapOptions,
): Promise<UnwrappedMessage> {
  if (wrap.kind !== GIFT_WRAP_KIND) {
    throw new GiftWrapError("not-a-wrap", `kind ${wrap.kind} is not ${GIFT_WRAP_KIND}`);
  }
  if (typeof wrap.content !== "string") {
    throw new GiftWrapError("not-a-wrap", "its content is not a string");
  }
  if (wrap.content.length > MAX_WRAP_CONTENT) {
    throw new GiftWrapError("too-large", `content over ${MAX_WRAP_CONTENT} characters`);
  }
  const tags: unknown[] = Array.isArray(wrap.tags) ? wrap.tags : [];
  if (!tags.some((t) => Array.isArray(t) && t[0] === "p" && t[1] === o.signer.pubkey)) {
    throw new GiftWrapError("not-for-me", "no p tag names this key");
  }
  if (!verifies(wrap)) throw new GiftWrapError("bad-signature", "the wrap's signature");
  const seal = await openSealed(wrap, o.signer) as NostrEvent;
  if (typeof seal !== "object" || seal === null || seal.kind !== SEAL_KIND) {
    throw new GiftWrapError("undecryptable", `the wrap holds no kind ${SEAL_KIND} seal`);
  }
  if (!verifies(seal)) throw new GiftWrapError("bad-signature", "the seal's");
  const rumor = await openSealed(seal, o.signer) as UnwrappedMessage["rumor"];
  if (typeof rumor === "object" && rumor !== null && rumor.pubkey !== seal.pubkey) {
    throw new GiftWrapError("forged-sender", "the rumor's author is not the seal's signer");
  }
  checkRumor(rumor);
  return { rumor, sender: rumor.pubkey, wrapId: wrap.id };
}

/** The JSON inside a wrap or seal, decrypted with the conversation key of its signer and us. */
async function openSealed(outer: NostrEvent, signer: NodeSigner): Promise<unknown> {
  try {
    const key = await signer.conversationKey(outer.pubkey);
    return JSON.parse(nip44.v2.decrypt(outer.content, key));
  } catch (err) {
    if (err instanceof NodeSignerError) throw err; // the node's trouble, not the sender's
    throw new GiftWrapError("undecryptable", (err as Error).message.slice(0, 200));
  }
}

/** A signature check that says no, rather than throwing, for a malformed event. */
function verifies(e: NostrEvent): boolean {
  try {
    return verifyEvent(plainCopy(e));
  } catch {
    return false;
  }
}

/**
 * The event's own fields only: nostr-tools caches a verification on the object under a symbol,
 * which a copy made with `{...event}` carries along with a changed signature.
 */
function plainCopy(e: NostrEvent): NostrEvent {
  const { id, pubkey, created_at, kind, tags, content, sig } = e;
  return { id, pubkey, created_at, kind, tags, content, sig };
}

function checkRumor(rumor: UnwrappedMessage["rumor"]): void {
  const ok = typeof rumor === "object" && rumor !== null &&
    typeof rumor.content === "string" && Array.isArray(rumor.tags) &&
    rumor.tags.every((t) => Array.isArray(t) && t.every((x) => typeof x === "string")) &&
    typeof rumor.kind === "number" && typeof rumor.created_at === "number" &&
    /^[0-9a-f]{64}$/.test(rumor.pubkey ?? "");
  if (!ok) throw new GiftWrapError("bad-rumor", "not an event");
  let hash: string;
  try {
    hash = getEventHash(rumor);
  } catch {
    throw new GiftWrapError("bad-rumor", "its tags are not lists of strings");
  }
  if (rumor.id !== hash) {
    throw new GiftWrapError("bad-rumor", "its id is not the hash of its content");
  }
}

/** Options for {@linkcode wrapDirectMessage}. */
export interface WrapDirectMessageOptions {
  /** The sender's key (signs the seal). */
  signer: NodeSigner;
  /** The recipient's pubkey (hex). */
  recipient: string;
  text: string;
  /** The message this one answers (an `e` tag in the rumor). */
  replyTo?: string;
}

/**
 * A NIP-17 direct message, sealed and gift-wrapped to its recipient: the event to publish.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { GIFT_WRAP_KIND, wrapDirectMessage } from "./gift_wrap.ts";
 *
 * const signer = localNodeSigner(generateSecretKey());
 * const providerPubkey = localNodeSigner(generateSecretKey()).pubkey;
 * const wrap = await wrapDirectMessage({ signer, recipient: providerPubkey, text: "build main" });
 * assert.equal(wrap.kind, GIFT_WRAP_KIND);
 * ```
 */
export async function wrapDirectMessage(o: WrapDirectMessageOptions): Promise<NostrEvent> {
  if (o.text.length > MAX_DM_TEXT) {
    throw new GiftWrapError("too-large", `text over ${MAX_DM_TEXT} characters`);
  }
  const tags = [["p", o.recipient]];
  if (o.replyTo !== undefined) tags.push(["e", o.replyTo, "", "reply"]);
  const rumor = {
    kind: DIRECT_MESSAGE_KIND,
    created_at: Math.ceil(Date.now() / 1000),
    tags,
    content: o.text,
    pubkey: o.signer.pubkey,
  };
  const sealed = nip44.v2.encrypt(
    JSON.stringify({ ...rumor, id: getEventHash(rumor) }),
    await o.signer.conversationKey(o.recipient),
  );
  // NIP-59: the seal's time is randomized up to two days back so it does not date the message.
  const seal = await o.signer.signEvent({
    kind: SEAL_KIND,
    content: sealed,
    created_at: Math.round(Date.now() / 1000 - Math.random() * TWO_DAYS_S),
    tags: [],
  });
  const wrap = nip59.createWrap(seal, o.recipient) as NostrEvent;
  // Escaping can grow a short text past what a receiver reads (32K control characters make
  // about 437K): never send what we would refuse ourselves.
  if (wrap.content.length > MAX_WRAP_CONTENT) {
    throw new GiftWrapError(
      "too-large",
      `the wrapped message is over ${MAX_WRAP_CONTENT} characters`,
    );
  }
  return wrap;
}

const TWO_DAYS_S = 2 * 24 * 60 * 60;

/**
 * An unwrapped message as the TOON a skill reads on stdin: the rumor's fields in NIP-01 order
 * with `pubkey` the verified sender, then `wrap`, the gift wrap's id. No signature: a rumor has
 * none (that is what makes it deniable); the node checked the seal's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "@turnpike/turnpike";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { encodeMessageToon, unwrapGiftWrap, wrapDirectMessage } from "./gift_wrap.ts";
 *
 * const alice = localNodeSigner(generateSecretKey());
 * const signer = localNodeSigner(generateSecretKey());
 * const wrap = await wrapDirectMessage({ signer: alice, recipient: signer.pubkey, text: "hi" });
 * const toon = encodeMessageToon(await unwrapGiftWrap(wrap, { signer }));
 * assert(toon.includes(`pubkey: ${alice.pubkey}\n`) && toon.includes("content: hi\n"));
 * ```
 */
export function encodeMessageToon(m: UnwrappedMessage): string {
  const r = m.rumor;
  return encodeToon({
    id: r.id,
    pubkey: m.sender,
    created_at: r.created_at,
    kind: r.kind,
    tags: r.tags,
    content: r.content,
    wrap: m.wrapId,
  });
}
