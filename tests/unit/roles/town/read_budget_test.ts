/** The town's read budget: caps on queries and queued bytes, a time bucket whose burst is capped. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { type QueryTicket, ReadBudget } from "../../../../roles/town/relay/read_budget.ts";

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

/**
 * 30 clients flooding REQs whose answers stay in flight for a second (as a paced answer of 1 MB
 * does), and one asking every 500 ms for a small answer; 10 s of it, then 10 s more of the
 * honest client alone while the flooders' last answers finish.
 */
function floodWithAnswersInFlight(budget: ReadBudget, advance: (ms: number) => number) {
  const flooders = Array.from({ length: 30 }, () => ({}));
  const honest = {};
  const inFlight: { ticket: QueryTicket; endsAt: number }[] = [];
  let now = 0;
  const outcome = { honestAsked: 0, honestAdmitted: 0, floodAsked: 0, floodAdmitted: 0 };
  const ask = (client: object): boolean => {
    if (budget.precheck(client) !== undefined) return false;
    budget.charge(1, client);
    const t = budget.admit(1000, client);
    if (typeof t === "string") return false;
    inFlight.push({ ticket: t, endsAt: now + (client === honest ? 0 : 1000) });
    return true;
  };
  for (let ms = 0; ms < 20_000; ms += 50) {
    now = advance(50);
    for (const f of inFlight.filter((f) => f.endsAt <= now)) f.ticket.end();
    inFlight.splice(0, inFlight.length, ...inFlight.filter((f) => f.endsAt > now));
    if (ms < 10_000) {
      for (const c of flooders) {
        outcome.floodAsked++;
        if (ask(c)) outcome.floodAdmitted++;
      }
    }
    // The honest client starts once the flood is on (its first second: fresh flooders, light
    // until refused, take the overdraft as anyone asking first would).
    if (ms >= 1000 && ms % 500 === 0) {
      outcome.honestAsked++;
      if (ask(honest)) outcome.honestAdmitted++;
    }
  }
  return {
    ...outcome,
    flooderHeavy: budget.isHeavy(flooders[0]),
    honestHeavy: budget.isHeavy(honest),
  };
}

Deno.test("read budget: refused flooders stay heavy and leave the overdraft to a client asking once in a while", () => {
  const { budget, advance } = clocked({ rate: 400, burst: 20 });
  const r = floodWithAnswersInFlight(budget, advance);
  // Every honest REQ admitted, during the flood and after it; the flood held to the caps.
  assertEquals([r.honestAdmitted, r.honestAsked], [r.honestAsked, 38]);
  assert(r.floodAdmitted < r.floodAsked / 10, `${r.floodAdmitted} of ${r.floodAsked}`);
  assertEquals([r.flooderHeavy, r.honestHeavy], [true, false]);
});

Deno.test("read budget: a flooder stays heavy for the decay period after its flood, then is light again", () => {
  const { budget, advance } = clocked({ rate: 400, burst: 20 });
  const flooder = {};
  const other = {};
  budget.charge(500); // the budget spent
  ticket(budget.admit(10, other)); // a query in flight elsewhere
  // 20 REQs in a second, each refused while the client has one in flight: 20 strikes.
  const held = ticket(budget.admit(10, flooder));
  for (let i = 0; i < 20; i++) {
    advance(50);
    assertEquals(budget.precheck(flooder), "time");
  }
  held.end();
  assert(budget.isHeavy(flooder));
  advance(5_000); // strikes x e^-0.5: still heavy, and refused past a spent cap
  budget.charge(2000);
  assert(budget.isHeavy(flooder));
  assertEquals(budget.precheck(flooder), "time");
  advance(30_000); // decayed below the threshold
  assert(!budget.isHeavy(flooder));
});

Deno.test("read budget: a light client gets one query past the cap even when a tenth of the cap is none", () => {
  const budget = new ReadBudget({
    maxConcurrentQueries: 4,
    maxQueuedBytes: 1 << 20,
    queryMillisPerSecond: 400,
    queryBurstMillis: 20,
  });
  const busy = Array.from({ length: 4 }, () => ticket(budget.admit(10, {})));
  const light = {};
  assertEquals(budget.precheck(light), undefined);
  const extra = ticket(budget.admit(10, light));
  assertEquals(budget.admit(10, {}), "queries");
  for (const t of [...busy, extra]) t.end();
});

Deno.test("read budget: a query is charged its own time, not the time of queries that ran before its continuation", async () => {
  const { budget, advance } = clocked({ rate: 100, burst: 100 });
  const a = {};
  const b = {};
  // Two synchronous queries of 30 ms each: the second runs before the first's continuation.
  const first = budget.timeQuery(() => {
    advance(30);
    return Promise.resolve(1);
  }, a);
  const second = budget.timeQuery(() => {
    advance(30);
    return Promise.resolve(2);
  }, b);
  assertEquals(await Promise.all([first, second]), [1, 2]);
  // 60 ms of work, 3 ms refilled (the bucket was full at first): 43 left, where the wall times
  // (60 and 30) would leave 13.
  budget.charge(42);
  assertEquals(budget.precheck(), undefined);
  budget.charge(2);
  assertEquals(budget.precheck(), "time");
});

Deno.test("read budget: a light client's batches skip the wait for time that a heavy client's wait out", async () => {
  const budget = new ReadBudget({
    maxConcurrentQueries: 10,
    maxQueuedBytes: 1 << 20,
    queryMillisPerSecond: 100,
    queryBurstMillis: 20,
  });
  const heavy = {};
  budget.charge(80, heavy); // 60 ms in debt: 0.6 s at 100 ms/s; over its share (100 / 2)
  const light = {};
  const t0 = performance.now();
  await budget.pace(light);
  assert(performance.now() - t0 < 300, "the light client waited for the refill");
  await budget.pace(heavy);
  assert(performance.now() - t0 >= 590, "the heavy client did not wait for the refill");
});

Deno.test("read budget: queries waiting on another process are charged the cost of their rows, not their wait", async () => {
  const { budget, advance } = clocked({ rate: 100, burst: 100 });
  // Eight queries wait on a database whose pool answers one every 25 ms: 200 ms of wall time in
  // which the event loop was free but for reading each answer (1 ms each, by its cost).
  const answers: (() => void)[] = [];
  const queries = Array.from({ length: 8 }, (_, i) =>
    budget.timeQuery(
      () => new Promise<number>((resolve) => answers.push(() => resolve(i))),
      {},
      () => 1,
    ));
  for (const answer of answers) {
    advance(25);
    answer();
    await Promise.resolve();
  }
  assertEquals(await Promise.all(queries), [0, 1, 2, 3, 4, 5, 6, 7]);
  // 8 ms charged: the bucket (100) is far from spent, where the waits (200 ms) would be 80 in debt.
  budget.charge(90);
  assertEquals(budget.precheck(), undefined);
});

Deno.test("read budget: an event loop kept busy by work no query was charged for empties the time bucket while queries are in flight, without a debt", async () => {
  const budget = new ReadBudget({
    maxConcurrentQueries: 10,
    maxQueuedBytes: 1 << 20,
    queryMillisPerSecond: 100,
    queryBurstMillis: 50,
  });
  const query = ticket(budget.admit(0, {}));
  // 200 ms of work out of the budget's sight (a PostgreSQL answer decoded in its socket's handler).
  const until = performance.now() + 200;
  while (performance.now() < until) { /* busy */ }
  // The look that was due meanwhile runs first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(budget.precheck(), "time");
  // Emptied, not in debt: a client that asks now and then is still admitted.
  assertEquals(budget.precheck({}), undefined);
  query.end();
  await new Promise((resolve) => setTimeout(resolve, 60));
});

Deno.test("read budget: a light client's REQ is admitted however deep the time debt, to wait for time; a heavy client's is refused", () => {
  const { budget } = clocked({ rate: 400, burst: 20 });
  const flooder = {};
  // Fresh connections of a flood took the overdraft: the bucket is over a second in debt.
  budget.charge(1500, flooder);
  assertEquals(budget.precheck(flooder), "time");
  assertEquals(budget.precheck({}), undefined);
});
