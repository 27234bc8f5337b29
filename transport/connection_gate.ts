/**
 * Open connections per remote address, per network prefix (IPv4 /24, IPv6 /48) and in total on
 * one listener: one address, or one network's many addresses, cannot take every socket (and
 * file descriptor) the town has.
 *
 * @module
 */

/** Options for {@linkcode ConnectionGate}. */
export interface ConnectionGateOptions {
  maxPerAddress: number;
  /** Most connections from one prefix ({@linkcode addressPrefix}). Default no cap. */
  maxPerPrefix?: number;
  maxTotal: number;
  /**
   * Connections from an address on the other processes of the same service (a town on several
   * processes: state/postgres/postgres_connection_counts.ts); counted against `maxPerAddress` too.
   */
  elsewhere?: (address: string) => number;
}

/** Why a connection was refused. */
export type ConnectionRefusal = "address" | "prefix" | "total";

/**
 * Admits connections while under both caps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionGate } from "./connection_gate.ts";
 *
 * const gate = new ConnectionGate({ maxPerAddress: 1, maxTotal: 4096 });
 * const close = gate.open("10.0.0.7");
 * assert(typeof close === "function"); // call it at the socket's close event
 * assert.equal(gate.open("10.0.0.7"), "address"); // its one connection is open
 * close();
 * assert.equal(gate.size, 0);
 * ```
 */
export class ConnectionGate {
  readonly #o: ConnectionGateOptions;
  readonly #byAddress = new Map<string, number>();
  readonly #byPrefix = new Map<string, number>();
  #total = 0;
  /** Connections refused so far (a counter for `/metrics`). */
  refusedTotal = 0;

  constructor(options: ConnectionGateOptions) {
    this.#o = options;
  }

  /** Open connections. */
  get size(): number {
    return this.#total;
  }

  /** A release function (call it once, on close) or why the connection is refused. */
  open(address: string): (() => void) | ConnectionRefusal {
    const count = this.#byAddress.get(address) ?? 0;
    const prefix = addressPrefix(address);
    const inPrefix = this.#byPrefix.get(prefix) ?? 0;
    // The narrowest cap first: "total" only when the others admit, so a listener that closes
    // a socket to make room for a "total" refusal does not close one for a connection that its
    // address or prefix cap refuses anyway.
    if (count + (this.#o.elsewhere?.(address) ?? 0) >= this.#o.maxPerAddress) {
      return this.#refuse("address");
    }
    if (inPrefix >= (this.#o.maxPerPrefix ?? Infinity)) return this.#refuse("prefix");
    if (this.#total >= this.#o.maxTotal) return this.#refuse("total");
    this.#byAddress.set(address, count + 1);
    this.#byPrefix.set(prefix, inPrefix + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      decrement(this.#byAddress, address);
      decrement(this.#byPrefix, prefix);
    };
  }

  /** Open connections per address, now. */
  addresses(): [string, number][] {
    return [...this.#byAddress];
  }

  /** The HTTP answer to a refused upgrade. */
  refusalResponse(refusal: ConnectionRefusal): Response {
    const text = refusal === "total"
      ? `too many connections (max ${this.#o.maxTotal}); retry later\n`
      : refusal === "prefix"
      ? `too many connections from this network (max ${this.#o.maxPerPrefix})\n`
      : `too many connections from this address (max ${this.#o.maxPerAddress})\n`;
    return new Response(text, { status: 503, headers: { "retry-after": "5" } });
  }

  #refuse(refusal: ConnectionRefusal): ConnectionRefusal {
    this.refusedTotal++;
    return refusal;
  }
}

function decrement(table: Map<string, number>, key: string): void {
  const left = (table.get(key) ?? 1) - 1;
  if (left <= 0) table.delete(key);
  else table.set(key, left);
}

/**
 * The network an address belongs to for the per-prefix cap: an IPv4 address's /24, an IPv6
 * address's /48 (an IPv4-mapped IPv6 address is its IPv4 one); anything else is itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressPrefix } from "./connection_gate.ts";
 *
 * assert.equal(addressPrefix("203.0.113.9"), "203.0.113.0/24");
 * assert.equal(addressPrefix("2001:db8:1:2::7"), "2001:db8:1::/48");
 * ```
 */
export function addressPrefix(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(mapped?.[1] ?? address);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!address.includes(":")) return address;
  const [head, tail] = address.toLowerCase().split("::");
  const front = head ? head.split(":") : [];
  const back = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined
    ? front
    : [...front, ...Array(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  return `${groups.slice(0, 3).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/48`;
}

/**
 * The remote address of a `Deno.serve` request (`"unknown"` for a non-network one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { remoteHost } from "./connection_gate.ts";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (_req, info) => new Response(remoteHost(info)),
 * );
 * const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.equal(await answer.text(), "127.0.0.1");
 * ```
 */
export function remoteHost(info: { remoteAddr: Deno.Addr } | undefined): string {
  const addr = info?.remoteAddr;
  return addr !== undefined && "hostname" in addr ? addr.hostname : "unknown";
}
