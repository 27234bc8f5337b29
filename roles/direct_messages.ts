/**
 * Reading this node's private messages (NIP-17 in NIP-59 gift wraps) from a relay: one query for
 * the kind 1059 events `p`-tagged with the signer's pubkey, each opened with the signer as the
 * provider opens them (protocol/gift_wrap.ts), so a forged or foreign wrap is listed as refused
 * with its reason, never shown as a message. What `dm list` and `dm read` print.
 *
 * Reads are bounded as any network input (transport/relay_query.ts: events, bytes, time). The
 * wraps' own `created_at` is randomised by NIP-59; messages are ordered by their rumor's.
 *
 * @module
 */
import type { NodeSigner } from "../protocol/node_signer.ts";
import { authenticateWith } from "../protocol/nip42_auth.ts";
import {
  GIFT_WRAP_KIND,
  GiftWrapError,
  type GiftWrapRefusal,
  unwrapGiftWrap,
} from "../protocol/gift_wrap.ts";
import { queryRelay } from "../transport/relay_query.ts";

/** Options for {@linkcode readDirectMessages}. */
export interface ReadDirectMessagesOptions {
  /** The relay (the town) the wraps are stored at, ws:// or wss://. */
  relayUrl: string;
  /** This node's key: names the recipient and opens the wraps. */
  signer: NodeSigner;
  /** Only wraps stored since this unix second (the wrap's time, which NIP-59 skews by up to 2 days). */
  since?: number;
  /** Most wraps read. Default 100. */
  limit?: number;
  /** Give up on the relay after this long. Default 5000 ms. */
  timeoutMs?: number;
}

/** One opened message. */
export interface DirectMessage {
  /** The wrap's event id (what `dm read <id>` names). */
  id: string;
  /** The sender's pubkey, verified (the seal's signer). */
  sender: string;
  /** The rumor's time, unix seconds. */
  createdAt: number;
  text: string;
  /** The message this one answers (its rumor's `e` tag), when given. */
  replyTo?: string;
}

/** A wrap addressed to this node that could not be opened. */
export interface RefusedDirectMessage {
  id: string;
  reason: GiftWrapRefusal;
  detail: string;
}

/** What the relay held for this node. */
export interface DirectMessages {
  /** Oldest first. */
  messages: DirectMessage[];
  refused: RefusedDirectMessage[];
}

/**
 * Reads and opens the gift wraps addressed to the signer.
 *
 * It reads a town's relay with a NIP-42 answer, so it has no example here:
 * tests/e2e/dm_read_test.ts reads the messages a sender stored there (`turnpike dm list`, `dm read`).
 * @throws {RelayQueryError} when the relay cannot be read.
 */
export async function readDirectMessages(
  options: ReadDirectMessagesOptions,
): Promise<DirectMessages> {
  const limit = options.limit ?? 100;
  const { events } = await queryRelay(options.relayUrl, [{
    kinds: [GIFT_WRAP_KIND],
    "#p": [options.signer.pubkey],
    limit,
    ...(options.since === undefined ? {} : { since: options.since }),
  }], {
    timeoutMs: options.timeoutMs,
    maxEvents: limit,
    maxBytes: 8 * 1024 * 1024,
    // Towns serve gift wraps to their recipient only (NIP-42).
    authenticate: authenticateWith(options.signer),
  });
  const messages: DirectMessage[] = [];
  const refused: RefusedDirectMessage[] = [];
  const seen = new Set<string>();
  for (const wrap of events) {
    if (seen.has(wrap.id)) continue;
    seen.add(wrap.id);
    try {
      const { rumor, sender } = await unwrapGiftWrap(wrap, { signer: options.signer });
      const replyTo = rumor.tags.find((t) => t[0] === "e" && /^[0-9a-f]{64}$/.test(t[1] ?? ""));
      messages.push({
        id: wrap.id,
        sender,
        createdAt: rumor.created_at,
        text: rumor.content,
        ...(replyTo ? { replyTo: replyTo[1] } : {}),
      });
    } catch (err) {
      if (!(err instanceof GiftWrapError)) throw err;
      refused.push({ id: wrap.id, reason: err.reason, detail: err.message });
    }
  }
  messages.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  return { messages, refused };
}
