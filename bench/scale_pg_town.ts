/**
 * The scale harness's town on PostgreSQL (`--postgres`, docs/SCALE.md): several town processes
 * with the same key, sharing one PostgreSQL store and the same public ports (SO_REUSEPORT, as
 * docs/OPERATIONS.md "A town on several machines" runs them on one host), each with its own
 * state dir. The chaos schedule SIGKILLs one of them at a time: {@linkcode probeTownServes}
 * checks that the town still answers on its public port meanwhile, from the others.
 *
 * @module
 */

/**
 * The state dir of process `slot` of town `index` (its audit trail and channel files; the
 * claim books are in the shared store).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { townProcessStateDir } from "./scale_pg_town.ts";
 *
 * assert.equal(townProcessStateDir("/tmp/run", 0, 1), "/tmp/run/town0-state-p1");
 * assert.equal(townProcessStateDir("/tmp/run", 0, 0), "/tmp/run/town0-state");
 * ```
 */
export function townProcessStateDir(root: string, index: number, slot: number): string {
  return slot === 0 ? `${root}/town${index}-state` : `${root}/town${index}-state-p${slot}`;
}

/** What {@linkcode probeTownServes} saw. */
export interface TownServes {
  tries: number;
  /** NIP-11 answers (HTTP 200 with the town's document). */
  answered: number;
}

/**
 * Asks the town's public HTTP port for its NIP-11 document `tries` times, each on a new
 * connection (the kernel spreads them over the processes still listening), 10 s at most each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeTownServes } from "./scale_pg_town.ts";
 *
 * // A stand-in for a town's NIP-11 document on port 0.
 * await using town = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   Response.json({ name: "town", self: "ab".repeat(32) }));
 * assert.deepEqual(await probeTownServes(town.addr.port, 3), { tries: 3, answered: 3 });
 * ```
 */
export async function probeTownServes(httpPort: number, tries = 5): Promise<TownServes> {
  let answered = 0;
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/`, {
        headers: { accept: "application/nostr+json", connection: "close" },
        signal: AbortSignal.timeout(10_000),
      });
      const doc = await res.json() as { self?: unknown };
      if (res.ok && typeof doc.self === "string") answered++;
    } catch { /* not answered */ }
  }
  return { tries, answered };
}
