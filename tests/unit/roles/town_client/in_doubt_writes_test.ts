/**
 * The writes in doubt a town client remembers (roles/town_client/in_doubt_writes.ts): each is
 * taken once, a write noted again keeps its newest amount, and past the limit the oldest is
 * forgotten first.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { InDoubtWrites } from "../../../../roles/town_client/in_doubt_writes.ts";

Deno.test("in-doubt writes: taken once, noted again keeps the newest amount, the oldest forgotten past the limit", () => {
  const writes = new InDoubtWrites(2);
  writes.note("a", 1n);
  writes.note("b", 2n);
  writes.note("a", 3n); // "a" is now the newest
  writes.note("c", 4n); // past the limit: "b", the oldest, goes
  assertEquals(writes.take("b"), undefined);
  assertEquals(writes.take("a"), 3n);
  assertEquals(writes.take("a"), undefined);
  assertEquals(writes.take("c"), 4n);
});
