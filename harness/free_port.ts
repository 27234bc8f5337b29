/**
 * Ports for processes a test starts on a port it names.
 *
 * A port picked by binding port 0 comes from the kernel's ephemeral range (32768-60999 here),
 * the range every outgoing connection also takes its local port from: between the pick and the
 * child's bind, a connection to anvil or a relay can take it (a fresh-clone CI run saw a town
 * fail with EADDRINUSE that way). These ports come from below that range, at random, each
 * checked free by binding it.
 *
 * @module
 */

const LOW = 20_000;
/** The first port of the kernel's ephemeral range, read once (Linux; the default elsewhere). */
const EPHEMERAL_START = (() => {
  try {
    const range = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    const first = Number(range.trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOW + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
})();

/**
 * Finds `count` distinct free TCP ports on 127.0.0.1, outside the ephemeral range (each is
 * closed again; the caller binds it soon after).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freePorts } from "./free_port.ts";
 *
 * const [town, btp] = freePorts(2);
 * assert.notEqual(town, btp);
 * ```
 */
export function freePorts(count: number): number[] {
  const held: Deno.Listener[] = [];
  try {
    for (let tries = 0; held.length < count; tries++) {
      if (tries > 1_000) throw new Error(`no ${count} free ports in ${LOW}-${EPHEMERAL_START}`);
      const port = LOW + Math.floor(Math.random() * (EPHEMERAL_START - LOW));
      try {
        held.push(Deno.listen({ hostname: "127.0.0.1", port }));
      } catch (err) {
        if (!(err instanceof Deno.errors.AddrInUse)) throw err;
      }
    }
    return held.map((l) => (l.addr as Deno.NetAddr).port);
  } finally {
    for (const l of held) l.close();
  }
}

/**
 * Finds one free TCP port on 127.0.0.1 (see {@linkcode freePorts}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freePort } from "./free_port.ts";
 *
 * const port = freePort();
 * assert(port > 0 && port < 65536);
 * ```
 */
export function freePort(): number {
  return freePorts(1)[0];
}
