/**
 * Publishes one signed event to a plain Nostr relay (NIP-01 `EVENT`, answered by `OK`): no
 * payment, no TOON, the event as JSON. Bounded as every network input here: one socket per
 * call, closed at the answer or after `timeoutMs`; each message the relay sends is read up to
 * `maxMessageBytes`, and messages other than the `OK` for this event are ignored (a relay may
 * send NOTICE or AUTH first). Where plain relays fit: docs/PROTOCOL.md "Plain relays".
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";
import { parseRelayMessage, serializeClientMessage } from "../protocol/nip01_message.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import { trustedClient } from "./tls_trust.ts";

/** Options for {@linkcode publishToPlainRelay}. */
export interface PlainRelayPublishOptions {
  /** Give up when no `OK` came by then. Default 10 s. */
  timeoutMs?: number;
  /** Largest relay message read. Default 64 KiB (an `OK` is far smaller). */
  maxMessageBytes?: number;
}

/** Why a plain relay did not store an event. */
export type PlainRelayPublishReason = "refused" | "timeout" | "unreachable";

/** The relay did not store the event: it said no, did not answer in time, or was not reached. */
export class PlainRelayPublishError extends TransportError {
  /** `"PlainRelayPublishError"`: explicit so it survives bundling. */
  override name = "PlainRelayPublishError";
  /** Why, one token. */
  readonly reason: PlainRelayPublishReason;
  /** `reason` and the details in words. */
  constructor(reason: PlainRelayPublishReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Sends `event` to the relay at `url`; resolves once it answered `OK true` (a duplicate is
 * stored too, NIP-01 `duplicate:`).
 *
 * @example
 * ```ts
 * import { publishToPlainRelay, PlainRelayPublishError } from "./plain_relay_publish.ts";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools";
 *
 * const event = finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "hi" }, generateSecretKey());
 * // Nothing listens on port 9: the call ends unreachable.
 * await publishToPlainRelay("ws://127.0.0.1:9", event, { timeoutMs: 500 }).catch((err) => {
 *   if (!(err instanceof PlainRelayPublishError)) throw err;
 * });
 * ```
 * @throws {PlainRelayPublishError} when the relay did not store it.
 */
export function publishToPlainRelay(
  url: string,
  event: NostrEvent,
  options: PlainRelayPublishOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, trustedClient());
    } catch (err) {
      return reject(new PlainRelayPublishError("unreachable", `${url}: ${(err as Error).message}`));
    }
    let settled = false;
    const end = (error?: PlainRelayPublishError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.onopen =
        socket.onmessage =
        socket.onerror =
        socket.onclose =
          null;
      try {
        socket.close();
      } catch { /* closed already */ }
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(
      () => end(new PlainRelayPublishError("timeout", `${url}: no OK within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.onopen = () => socket.send(serializeClientMessage({ type: "EVENT", event }));
    socket.onmessage = (m: MessageEvent) => {
      if (typeof m.data !== "string") return;
      let message;
      try {
        message = parseRelayMessage(m.data, { maxBytes: maxMessageBytes });
      } catch {
        return; // not NIP-01, or too large: not the answer
      }
      if (message.type !== "OK" || message.eventId !== event.id) return;
      end(
        message.accepted
          ? undefined
          : new PlainRelayPublishError("refused", `${url} refused: ${message.message}`),
      );
    };
    socket.onerror = () =>
      end(new PlainRelayPublishError("unreachable", `${url}: the connection failed`));
    socket.onclose = () =>
      end(new PlainRelayPublishError("unreachable", `${url}: closed before its OK`));
  });
}
