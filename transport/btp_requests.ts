/**
 * The requests in flight on one BTP socket, by requestId (RFC 23): a fresh id for each, the
 * answer (RESPONSE or ERROR frame) handed to the request it names, a timeout, and every request
 * failed at once when the socket closes. Both ends of a BTP link keep one: the client
 * (transport/btp_client.ts) and the town's side of each peer (roles/town/btp/btp_peer_connection.ts).
 *
 * @module
 */
import type { BtpFrame } from "../protocol/btp_message.ts";

interface Pending {
  resolve(frame: BtpFrame): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The table of one socket's requests in flight.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtpRequests } from "./btp_requests.ts";
 *
 * const requests = new BtpRequests();
 * const requestId = requests.allocate();
 * const answer = requests.wait(requestId, 30_000, () => new Error("no answer in time"));
 * // ... send the MESSAGE frame with this requestId; the socket's reader calls:
 * requests.settle({ type: "response", requestId, protocolData: [] });
 * const frame = await answer; // the RESPONSE
 * assert.equal(frame.requestId, requestId);
 * ```
 */
export class BtpRequests {
  readonly #pending = new Map<number, Pending>();
  #nextId = crypto.getRandomValues(new Uint32Array(1))[0];

  /** Requests sent and not yet answered. */
  get size(): number {
    return this.#pending.size;
  }

  /** A request id no request in flight holds (ids wrap at 2^32). */
  allocate(): number {
    do this.#nextId = (this.#nextId + 1) >>> 0; while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  /** The RESPONSE or ERROR answering `requestId`; rejects with `timeout()` after `timeoutMs`. */
  wait(requestId: number, timeoutMs: number, timeout: () => Error): Promise<BtpFrame> {
    return new Promise<BtpFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(timeout());
      }, timeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer });
    });
  }

  /** Hands a RESPONSE or ERROR to the request it answers; false when none waits (a late answer). */
  settle(frame: BtpFrame): boolean {
    const pending = this.#take(frame.requestId);
    pending?.resolve(frame);
    return pending !== undefined;
  }

  /** Fails one request (e.g. its answer did not decode); false when none waits. */
  fail(requestId: number, err: Error): boolean {
    const pending = this.#take(requestId);
    pending?.reject(err);
    return pending !== undefined;
  }

  /** Drops one request without settling it (its frame never left: the sender throws instead). */
  forget(requestId: number): void {
    this.#take(requestId);
  }

  /** Fails every request in flight (the socket closed). */
  failAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  #take(requestId: number): Pending | undefined {
    const pending = this.#pending.get(requestId);
    if (pending === undefined) return undefined;
    this.#pending.delete(requestId);
    clearTimeout(pending.timer);
    return pending;
  }
}
