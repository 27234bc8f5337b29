/**
 * Open connections per remote address and in total on one listener: one address cannot take
 * every socket (and file descriptor) the town has.
 *
 * @module
 */

/** Options for {@linkcode ConnectionGate}. */
export interface ConnectionGateOptions {
  maxPerAddress: number;
  maxTotal: number;
}

/** Why a connection was refused. */
export type ConnectionRefusal = "address" | "total";

/**
 * Admits connections while under both caps.
 *
 * @example
 * ```ts
 * const gate = new ConnectionGate({ maxPerAddress: 64, maxTotal: 4096 });
 * const admitted = gate.open("10.0.0.7");
 * if (typeof admitted === "function") socket.addEventListener("close", admitted);
 * ```
 */
export class ConnectionGate {
  readonly #o: ConnectionGateOptions;
  readonly #byAddress = new Map<string, number>();
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
    if (this.#total >= this.#o.maxTotal) return this.#refuse("total");
    if (count >= this.#o.maxPerAddress) return this.#refuse("address");
    this.#byAddress.set(address, count + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
    };
  }

  /** The HTTP answer to a refused upgrade. */
  refusalResponse(refusal: ConnectionRefusal): Response {
    const text = refusal === "total"
      ? `too many connections (max ${this.#o.maxTotal}); retry later\n`
      : `too many connections from this address (max ${this.#o.maxPerAddress})\n`;
    return new Response(text, { status: 503, headers: { "retry-after": "5" } });
  }

  #refuse(refusal: ConnectionRefusal): ConnectionRefusal {
    this.refusedTotal++;
    return refusal;
  }
}

/**
 * The remote address of a `Deno.serve` request (`"unknown"` for a non-network one).
 *
 * @example
 * ```ts
 * Deno.serve((req, info) => new Response(remoteHost(info)));
 * ```
 */
export function remoteHost(info: { remoteAddr: Deno.Addr } | undefined): string {
  const addr = info?.remoteAddr;
  return addr !== undefined && "hostname" in addr ? addr.hostname : "unknown";
}
