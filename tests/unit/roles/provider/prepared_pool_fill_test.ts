/**
 * The prepared-sandbox pool's refills with a sandbox made asynchronously
 * (roles/provider/sandbox/sandbox_pool.ts): a sandbox being made counts against the limits, and
 * one still being made when the pool closes is discarded, not kept.
 * The entries are the pool's own bookkeeping type with a discard that records; the real
 * sandboxes behind it are tests/unit/roles/provider/sandbox_pool_test.ts's.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import {
  type PreparedEntry,
  PreparedSandboxPool,
} from "../../../../roles/provider/sandbox/sandbox_pool.ts";

interface Entry extends PreparedEntry {
  discarded: boolean;
}

function entry(key: string): Entry {
  const e: Entry = {
    key,
    exited: new Promise(() => {}),
    discarded: false,
    discard: () => {
      e.discarded = true;
      return Promise.resolve();
    },
  };
  return e;
}

Deno.test("prepared pool: sandboxes being made count against the limits; close discards one made after", async () => {
  const pool = new PreparedSandboxPool<Entry>({ perSkill: 1, maxTotal: 2 });
  const gates: PromiseWithResolvers<void>[] = [];
  const made: Entry[] = [];
  const make = (key: string) => async () => {
    const gate = Promise.withResolvers<void>();
    gates.push(gate);
    await gate.promise;
    const e = entry(key);
    made.push(e);
    return e;
  };
  const fills = [
    pool.fill("a", make("a")),
    pool.fill("a", make("a")), // "a" has one being made: perSkill reached
    pool.fill("b", make("b")),
    pool.fill("c", make("c")), // two being made: maxTotal reached
  ];
  assertEquals(gates.length, 2);
  gates[0].resolve();
  await Promise.all(fills.slice(0, 2));
  assertEquals(pool.ready.map((e) => e.key), ["a"]);
  // Closed while "b" is being made: it is discarded once made, and close waits for that.
  const closed = pool.close();
  gates[1].resolve();
  await closed;
  assertEquals(made.map((e) => [e.key, e.discarded]), [["a", true], ["b", true]]);
  assertEquals(pool.ready.length, 0);
  await Promise.all(fills);
});
