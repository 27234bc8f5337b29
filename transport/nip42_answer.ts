/**
 * A NIP-01 client's answer to a relay's NIP-42 challenge (transport/nip01_client.ts): the
 * signed kind 22242 event sent as `["AUTH", event]` on the connection that was challenged, the
 * relay's `OK` for it awaited, and the subscription sent again once, after a CLOSED
 * `auth-required:` (docs/PROTOCOL.md "Private events: NIP-42 AUTH").
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";

/**
 * One connection's answer to one challenge.
 *
 * @example
 * ```ts
 * import { Nip42Answer } from "./nip42_answer.ts";
 * import type { NostrEvent } from "../protocol/nostr_event.ts";
 *
 * declare const socket: WebSocket; // challenged with ["AUTH", "c1"]
 * declare function sign(challenge: string, relay: string): Promise<NostrEvent>;
 * const auth = new Nip42Answer(sign, "wss://town.example");
 * auth.answer(socket, "c1");
 * // ... the relay's ["OK", id, true, ""] comes: auth.onOk(id, true)
 * const ok = await auth.retry(); // true: send the REQ again
 * ```
 */
export class Nip42Answer {
  readonly #sign: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  readonly #url: string;
  #outcome: Promise<boolean> | undefined;
  #onOk: ((eventId: string, accepted: boolean) => void) | undefined;
  #retried = false;

  constructor(sign: (challenge: string, relayUrl: string) => Promise<NostrEvent>, url: string) {
    this.#sign = sign;
    this.#url = url;
  }

  /** Signs the answer and sends it on `socket` (still open); its `OK` settles the outcome. */
  answer(socket: WebSocket, challenge: string): void {
    this.#outcome = new Promise<boolean>((resolve) => {
      this.#sign(challenge, this.#url).then((event) => {
        this.#onOk = (id, accepted) => {
          if (id === event.id) resolve(accepted);
        };
        if (socket.readyState !== WebSocket.OPEN) return resolve(false);
        socket.send(JSON.stringify(["AUTH", event]));
      }, () => resolve(false));
    });
  }

  /** The relay's `OK` for an event (settles the outcome when it is the answer's). */
  onOk(eventId: string, accepted: boolean): void {
    this.#onOk?.(eventId, accepted);
  }

  /**
   * After a CLOSED `auth-required:`: whether the relay took the answer (then send the REQ
   * again); undefined when there is no answer or the REQ was sent again already.
   */
  retry(): Promise<boolean> | undefined {
    if (this.#outcome === undefined || this.#retried) return undefined;
    this.#retried = true;
    return this.#outcome;
  }
}
