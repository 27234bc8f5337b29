/**
 * A NIP-01 client's answer to a relay's NIP-42 challenge (transport/nip01_client.ts): the
 * signed kind 22242 event sent as `["AUTH", event]` on the connection that was challenged, the
 * relay's `OK` for it awaited, and the subscription sent again once the relay took it: after a
 * CLOSED `auth-required:`, or for a REQ naming no kind, which the relay served less the private
 * events (docs/PROTOCOL.md "Private events: NIP-42 AUTH").
 *
 * @module
 */
import type { NostrEvent } from "../protocol/nostr_event.ts";

/**
 * One connection's answer to one challenge: `answer(socket, challenge)` sends the signed event,
 * `sendAgain(req, ...)` after the relay's CLOSED `auth-required:`, and the relay's `OK` for the
 * event (`onOk(id, true)`) sends the REQ again. It needs a relay that challenges, so it has no
 * example that runs here: tests/interop/town_auth_relay_middle_test.ts
 */
export class Nip42Answer {
  readonly #sign: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  readonly #url: string;
  #socket: WebSocket | undefined;
  #outcome: Promise<boolean> | undefined;
  #onOk: ((eventId: string, accepted: boolean) => void) | undefined;
  /** The REQ sent again: not yet, awaiting the relay's OK, or done. */
  #resend: "none" | "waiting" | "sent" = "none";
  /** The CLOSED `auth-required:` the REQ awaits the answer for, and who hears it refused. */
  #closed: { message: string; onRefused: (message: string) => void } | undefined;

  constructor(sign: (challenge: string, relayUrl: string) => Promise<NostrEvent>, url: string) {
    this.#sign = sign;
    this.#url = url;
  }

  /** Signs the answer and sends it on `socket` (still open); its `OK` settles the outcome. */
  answer(socket: WebSocket, challenge: string): void {
    this.#socket = socket;
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
   * Sends `req` again on the challenged connection once the relay took the answer, once. With
   * `closed` (the relay's CLOSED `auth-required:`), a refused answer is told to `onRefused`;
   * without (a REQ naming no kind), a refused answer leaves the REQ as it was served. False when
   * there is no answer or the REQ went again already: a CLOSED then is the relay's last word.
   */
  sendAgain(req: string, closed?: string, onRefused?: (message: string) => void): boolean {
    const outcome = this.#outcome;
    if (outcome === undefined || this.#resend === "sent") return false;
    if (closed !== undefined && onRefused !== undefined) {
      this.#closed ??= { message: closed, onRefused };
    }
    if (this.#resend === "waiting") return true; // the REQ goes once the outcome is in
    this.#resend = "waiting";
    void outcome.then((ok) => {
      const socket = this.#socket;
      // A connection closed meanwhile is its client's (reconnect or end).
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
      if (ok) {
        this.#resend = "sent";
        return socket.send(req);
      }
      this.#closed?.onRefused(this.#closed.message);
    });
    return true;
  }
}
