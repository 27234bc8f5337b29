/** The town's read budget: caps on queries and queued bytes, a time bucket whose burst is capped. */
import { assert, assertEquals } from "../support/assert.ts";
import { type QueryTicket, ReadBudget } from "../../roles/town/relay/read_budget.ts";

function clocked(options: { rate: number; burst: number }) {
  let now = 0;
  const budget = new ReadBudget({
    maxConcurrentQueries: 10,
    maxQueuedBytes: 1 << 20,
    queryMillisPerSecond: options.rate,
    queryBurstMillis: options.burst,
    now: () => now,
  });
  return { budget, advance: (ms: number) => now += ms };
}

function ticket(t: QueryTicket | string): QueryTicket {
  if (typeof t === "string") throw new Error(`refused: ${t}`);
  return t;
}

Deno.test("read budget: a burst is capped by queryBurstMillis, not by the per-second rate", () => {
  const { budget, advance } = clocked({ rate: 400, burst: 40 });
  budget.charge(39);
  assertEquals(budget.precheck(), undefined);
  budget.charge(2);
  assertEquals(budget.precheck(), "time");
  // A long idle spell refills up to the burst only: 41 ms of work again exhausts it.
  advance(10_000);
  budget.charge(41);
  assertEquals(budget.precheck(), "time");
  assertEquals(budget.refusedTotal, 2);
});

Deno.test("read budget: time refills at the per-second rate", () => {
  const { budget, advance } = clocked({ rate: 400, burst: 40 });
  budget.charge(60); // 20 ms in deficit
  assertEquals(budget.precheck(), "time");
  advance(40); // 16 ms refilled: still in deficit
  assertEquals(budget.precheck(), "time");
  advance(20); // 24 ms refilled: 4 ms left
  assertEquals(budget.precheck(), undefined);
});

Deno.test("read budget: the burst never exceeds one second's rate", () => {
  const { budget } = clocked({ rate: 10, burst: 40 });
  budget.charge(11);
  assertEquals(budget.precheck(), "time");
});

Deno.test("read budget: pace waits out the deficit, and yields even when there is time", async () => {
  const budget = new ReadBudget({
    maxConcurrentQueries: 10,
    maxQueuedBytes: 1 << 20,
    queryMillisPerSecond: 1000,
    queryBurstMillis: 40,
  });
  let yielded = false;
  const paced = budget.pace().then(() => assert(yielded, "pace resolved in the same macrotask"));
  yielded = true;
  await paced;
  budget.charge(70); // 30 ms in deficit at 1000 ms/s
  const t0 = performance.now();
  await budget.pace();
  assert(performance.now() - t0 >= 29, "pace did not wait for the refill");
  assertEquals(budget.precheck(), undefined);
});

Deno.test("read budget: bytes and queries are capped; end() gives back what was not sent", () => {
  const budget = new ReadBudget({
    maxConcurrentQueries: 2,
    maxQueuedBytes: 100,
    queryMillisPerSecond: 400,
    queryBurstMillis: 40,
  });
  const a = ticket(budget.admit(80));
  assertEquals(budget.admit(30), "bytes");
  a.sent(50);
  const b = ticket(budget.admit(30));
  assertEquals(budget.admit(1), "queries");
  a.end();
  a.end();
  b.end();
  assertEquals([budget.queries, budget.queuedBytes], [0, 0]);
});

Deno.test("read budget: under a flood a client below its fair share is still admitted, flooders are not", () => {
  const { budget, advance } = clocked({ rate: 400, burst: 20 });
  const flooders = Array.from({ length: 50 }, () => ({}));
  const honest = {};
  let honestAdmitted = 0;
  let honestAsked = 0;
  let floodAdmitted = 0;
  let floodAsked = 0;
  // 10 s of 50 clients x 9 REQs a second, each query 2 ms; the honest client asks every 300 ms.
  for (let ms = 0; ms < 10_000; ms += 111) {
    advance(111);
    for (const c of flooders) {
      floodAsked++;
      if (budget.precheck(c) !== undefined) continue;
      floodAdmitted++;
      budget.charge(2, c);
      ticket(budget.admit(1000, c)).end();
    }
    if (ms % 333 < 111) {
      honestAsked++;
      const busy = budget.precheck(honest);
      if (busy === undefined) {
        honestAdmitted++;
        budget.charge(1, honest);
        ticket(budget.admit(1000, honest)).end();
      }
    }
  }
  // The flood got about the budget's rate (400 ms/s = 200 two-ms queries a second), not more
  // than the overdraft allows; the honest client was never refused.
  assert(floodAdmitted < floodAsked / 2, `${floodAdmitted} of ${floodAsked} flood queries`);
  assertEquals(honestAdmitted, honestAsked);
  assert(budget.fairShareAdmittedTotal > 0);
});

Deno.test("read budget: a client at its share is refused like any other once the budget is spent", () => {
  const { budget } = clocked({ rate: 100, burst: 20 });
  const a = {};
  budget.charge(200, a);
  assertEquals(budget.precheck(a), "time");
  assertEquals(budget.precheck(), "time");
});
