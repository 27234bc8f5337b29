/** The town-wide gate on the pages of stored events read at once. */
import { assertEquals } from "../../../../harness/assert.ts";
import { PageGate } from "../../../../roles/town/relay/page_gate.ts";

Deno.test("page gate: no more pages run at once than its maximum, and waiters run in the order they asked", async () => {
  const gate = new PageGate({ maxPages: 2 });
  let running = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 6 }, (_, i) =>
    gate.run(async () => {
      running++;
      most = Math.max(most, running);
      order.push(i);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
    })));
  assertEquals(most, 2);
  assertEquals(order, [0, 1, 2, 3, 4, 5]);
  assertEquals(gate.reading, 0);
});

Deno.test("page gate: a page that throws gives its slot to the next", async () => {
  const gate = new PageGate({ maxPages: 1 });
  const failed = gate.run(() => Promise.reject(new Error("query failed")));
  const next = gate.run(() => Promise.resolve("sent"));
  await failed.catch(() => {});
  assertEquals(await next, "sent");
  assertEquals(gate.reading, 0);
});

Deno.test("page gate: a page asked first runs before the pages that waited longer without it", async () => {
  const gate = new PageGate({ maxPages: 1 });
  const order: string[] = [];
  const page = (name: string) => async () => {
    order.push(name);
    await new Promise((resolve) => setTimeout(resolve, 2));
  };
  await Promise.all([
    gate.run(page("running")),
    gate.run(page("flood 1")),
    gate.run(page("flood 2")),
    gate.run(page("honest"), true),
  ]);
  assertEquals(order, ["running", "honest", "flood 1", "flood 2"]);
});
