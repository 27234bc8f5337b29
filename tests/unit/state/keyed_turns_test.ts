/** One call at a time per key (state/keyed_turns.ts): in order, keys side by side, a failure its caller's. */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { KeyedTurns } from "../../../state/keyed_turns.ts";

Deno.test("keyed turns: a key's calls run one at a time in order, other keys alongside; a failed call does not stop the next; a key is let go once idle", async () => {
  const turns = new KeyedTurns();
  const log: string[] = [];
  const gate = Promise.withResolvers<void>();
  const first = turns.run("a", async () => {
    log.push("a1 start");
    await gate.promise;
    log.push("a1 end");
    throw new Error("a1 failed");
  });
  const second = turns.run("a", () => Promise.resolve(void log.push("a2")));
  const other = turns.run("b", () => Promise.resolve(void log.push("b1")));
  await other;
  assertEquals(log, ["a1 start", "b1"], "b ran while a1 was running; a2 waits");
  await new Promise((resolve) => setTimeout(resolve, 0)); // b's queue let go
  assertEquals(turns.size, 1);
  gate.resolve();
  await assertRejects(() => first, Error, "a1 failed");
  await second;
  await turns.idle();
  assertEquals(log, ["a1 start", "b1", "a1 end", "a2"]);
  assertEquals(turns.size, 0);
});
