/**
 * A live NIP-01 subscription for a viewer: one REQ kept open, the stored events delivered, then
 * EOSE, then each new event as the relay sends it. Every event is verified (id and signature,
 * JSON or Crosstown TOON form) and matched against the filters before it is handed on; the
 * rest are dropped. No reconnection: the caller sees the close and decides (a viewer starts a
 * fresh subscription, which resends what it missed). A CLOSED `rate-limited:` (a busy town's
 * "retry later") is not a close: the REQ is sent again after 100, 200, 400 ms... up to 5 times.
 *
 * @module
 */
import { backoffDelay } from "../protocol/backoff.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import {
  isRetryLater,
  Nip01MessageError,
  parseRelayMessage,
  serializeClientMessage,
} from "../protocol/nip01_message.ts";
import { matchFilters, type NostrFilter } from "../protocol/nostr_filter.ts";
import { EventValidationError, verifyEvent } from "../protocol/event_verifier.ts";
import { decodeEventToon, ToonDecodeError } from "../protocol/toon_codec.ts";

/** REQs refused `rate-limited:` sent again before the refusal ends the subscription. */
const MAX_BUSY_RETRIES = 5;

/** Options for {@linkcode subscribeRelay}. */
export interface RelaySubscriptionOptions {
  /** Called with each verified, matching event. */
  onEvent: (event: NostrEvent) => void;
  /** Called once the stored events have all been sent. */
  onEose?: () => void;
  /** Called once when the subscription ends, with why (never after `close()`). */
  onClose?: (reason: string) => void;
  /** Largest message accepted, bytes (default 4 MiB). */
  maxMessageBytes?: number;
}

/** An open subscription. */
export interface RelaySubscription {
  /** Ends the subscription and the connection. */
  close(): void;
}

/**
 * Opens a WebSocket to `url` and subscribes with `filters`.
 *
 * @example
 * ```ts
 * const sub = subscribeRelay("ws://127.0.0.1:7100", [{ kinds: [7000] }], {
 *   onEvent: (e) => console.log(e.id),
 * });
 * sub.close();
 * ```
 */
export function subscribeRelay(
  url: string,
  filters: readonly NostrFilter[],
  options: RelaySubscriptionOptions,
): RelaySubscription {
  const subId = `s-${crypto.randomUUID().slice(0, 8)}`;
  const maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  let ended = false;
  const end = (reason: string) => {
    if (ended) return;
    ended = true;
    options.onClose?.(reason);
  };
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch (err) {
    queueMicrotask(() => end(`not a WebSocket URL: ${(err as Error).message}`));
    return { close: () => ended = true };
  }
  socket.binaryType = "arraybuffer";
  const req = serializeClientMessage({ type: "REQ", subId, filters: [...filters] });
  let retries = 0;
  socket.onopen = () => socket.send(req);
  socket.onerror = () => end(`cannot reach ${url}`);
  socket.onclose = () => end(`${url} closed the connection`);
  socket.onmessage = (m) => {
    const data = typeof m.data === "string" ? m.data : new Uint8Array(m.data as ArrayBuffer);
    let msg;
    try {
      msg = parseRelayMessage(data, { maxBytes });
    } catch (err) {
      if (err instanceof Nip01MessageError) return;
      throw err;
    }
    if (!("subId" in msg) || msg.subId !== subId) return;
    if (msg.type === "EOSE") options.onEose?.();
    else if (msg.type === "CLOSED") {
      if (isRetryLater(msg.message) && retries < MAX_BUSY_RETRIES) {
        setTimeout(() => {
          if (!ended && socket.readyState === WebSocket.OPEN) socket.send(req);
        }, backoffDelay(retries++, { initialMs: 100 }));
        return;
      }
      end(`the relay refused the subscription: ${msg.message}`);
      socket.close();
    } else if (msg.type === "EVENT") {
      const event = verified(msg.event ?? msg.toon, maxBytes);
      if (event !== undefined && matchFilters(event, filters)) options.onEvent(event);
    }
  };
  return {
    close() {
      ended = true;
      try {
        socket.close();
      } catch {
        // already closing
      }
    },
  };
}

function verified(raw: NostrEvent | string | undefined, maxBytes: number): NostrEvent | undefined {
  if (raw === undefined) return undefined;
  try {
    if (typeof raw === "string") return decodeEventToon(raw, { maxBytes });
    verifyEvent(raw);
    return raw;
  } catch (err) {
    // A forged or malformed event is the relay's problem, not the viewer's: it is not shown.
    if (err instanceof EventValidationError || err instanceof ToonDecodeError) return undefined;
    throw err;
  }
}
