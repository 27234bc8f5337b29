/**
 * What a provider takes from plain relays (docs/PROTOCOL.md "Plain relays"): anyone may post
 * there for free, so each request from one passes this gate before its signature is checked or
 * anything is stored. It is refused when its author sent more than `perAuthorPerMinute` requests
 * in the last minute, when its relay sent more than `perRelayPerMinute`, or when `maxOpen` jobs
 * from plain relays are unfinished already. The authors remembered are capped (`maxAuthors`, the
 * oldest forgotten first), so the gate's memory does not grow with the relays' traffic.
 *
 * @module
 */

/** Why the gate refused a request. */
export type PlainRelayRefusal = "author-rate" | "relay-rate" | "queue-full";

/** Options for {@linkcode PlainRelayGate}. */
export interface PlainRelayGateOptions {
  /** Requests one author may send per minute. Default 6. */
  perAuthorPerMinute?: number;
  /** Requests one relay may bring per minute. Default 120. */
  perRelayPerMinute?: number;
  /** Jobs from plain relays unfinished at once. Default 4. */
  maxOpen?: number;
  /** Authors remembered. Default 10,000. */
  maxAuthors?: number;
  /** Whether the job `id` was taken and is not finished. */
  isOpen: (id: string) => boolean;
  /** Milliseconds now. Default `Date.now`. */
  now?: () => number;
}

/** A count within a one-minute window. */
interface Window {
  start: number;
  count: number;
}

/**
 * The gate; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PlainRelayGate } from "./plain_relay_gate.ts";
 *
 * const gate = new PlainRelayGate({ perAuthorPerMinute: 1, isOpen: () => false });
 * assert.equal(gate.admit("ws://relay", "alice", "job-1"), undefined);
 * assert.equal(gate.admit("ws://relay", "alice", "job-2"), "author-rate");
 * assert.equal(gate.admit("ws://relay", "bob", "job-3"), undefined);
 * ```
 */
export class PlainRelayGate {
  #o: PlainRelayGateOptions;
  #authors = new Map<string, Window>();
  #relays = new Map<string, Window>();
  /** Jobs let in, kept while open. */
  #taken = new Set<string>();

  constructor(options: PlainRelayGateOptions) {
    this.#o = options;
  }

  /** Lets the request `id` of `author` from `relay` in (undefined) or says why not. */
  admit(relay: string, author: string, id: string): PlainRelayRefusal | undefined {
    const o = this.#o;
    const now = (o.now ?? Date.now)();
    for (const taken of this.#taken) if (!o.isOpen(taken)) this.#taken.delete(taken);
    if (this.#taken.size >= (o.maxOpen ?? 4)) return "queue-full";
    if (!this.#count(this.#relays, relay, now, o.perRelayPerMinute ?? 120)) return "relay-rate";
    if (!this.#count(this.#authors, author, now, o.perAuthorPerMinute ?? 6)) return "author-rate";
    if (this.#authors.size > (o.maxAuthors ?? 10_000)) {
      this.#authors.delete(this.#authors.keys().next().value!);
    }
    this.#taken.add(id);
    return undefined;
  }

  /** Counts one in `key`'s window; false when the window is full already. */
  #count(windows: Map<string, Window>, key: string, now: number, max: number): boolean {
    let w = windows.get(key);
    if (w === undefined || now - w.start >= 60_000) {
      windows.delete(key); // re-inserted last: the map's order is the least recently counted
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    if (w.count >= max) return false;
    w.count++;
    return true;
  }
}
