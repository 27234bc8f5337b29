/**
 * The writes in doubt a town client remembers (roles/town_client/in_doubt_writes.ts): each is
 * taken once, a write noted again keeps its newest amount, and past the limit the oldest is
 * forgotten first, with a warning.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { InDoubtWrites } from "../../../../roles/town_client/in_doubt_writes.ts";

const write = (id: string, amount: bigint) => ({ event: { id, tags: [] }, amount });

Deno.test("in-doubt writes: taken once, noted again keeps the newest amount, the oldest forgotten past the limit", async () => {
  const warnings: string[] = [];
  const writes = new InDoubtWrites({ limit: 2, warn: (m) => warnings.push(m) });
  await writes.note(write("a", 1n));
  await writes.note(write("b", 2n));
  await writes.note(write("a", 3n)); // "a" is now the newest
  await writes.note(write("c", 4n)); // past the limit: "b", the oldest, goes
  assertEquals(warnings.length, 1);
  assertEquals(writes.take("b"), undefined);
  assertEquals(writes.take("a"), 3n);
  assertEquals(writes.take("a"), undefined);
  assertEquals(writes.take("c"), 4n);
});

Deno.test("in-doubt writes: each new doubt is persisted once before note resolves, and those given at start are remembered", async () => {
  const persisted: string[] = [];
  const writes = new InDoubtWrites({
    initial: [["old", 7n]],
    persist: (w) => {
      persisted.push(`${w.event.id} ${w.amount}`);
      return Promise.resolve();
    },
  });
  await writes.note(write("a", 1n));
  await writes.note(write("a", 1n)); // the same attempt failing on the next uplink
  await writes.note(write("a", 2n));
  assertEquals(persisted, ["a 1", "a 2"]);
  assertEquals(writes.take("old"), 7n);
});
