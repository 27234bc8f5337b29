import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import { UnpaidPool } from "../../../../roles/provider/payments/unpaid_pool.ts";

Deno.test("unpaid pool: a requester holds at most its share", () => {
  const pool = new UnpaidPool({ max: 8, maxPerRequester: 2 });
  assertEquals(pool.reserve("j1", "alice"), { ok: true, displaced: undefined });
  assertEquals(pool.reserve("j2", "alice"), { ok: true, displaced: undefined });
  const third = pool.reserve("j3", "alice");
  assertEquals(third.ok, false);
  assertEquals(!third.ok && third.reason, "over-requester-unpaid");
  assertEquals(pool.countOf("alice"), 2);
  pool.release("j1");
  assertEquals(pool.reserve("j3", "alice").ok, true);
});

Deno.test("unpaid pool: a full pool gives up its oldest job to the newest request", () => {
  const pool = new UnpaidPool({ max: 3, maxPerRequester: 2 });
  for (const [job, who] of [["a1", "a"], ["b1", "b"], ["c1", "c"]]) pool.reserve(job, who);
  assertEquals(pool.reserve("payer1", "payer"), { ok: true, displaced: "a1" });
  assertEquals(pool.reserve("d1", "d"), { ok: true, displaced: "b1" });
  assertEquals(pool.size, 3);
  assertEquals(pool.release("payer1"), true);
  assertEquals(pool.release("payer1"), false);
});

Deno.test("unpaid pool: restored jobs may run over the size without displacing anyone", () => {
  const pool = new UnpaidPool({ max: 1, maxPerRequester: 1 });
  pool.restore("r1", "a");
  pool.restore("r2", "b");
  assertEquals(pool.size, 2);
  assertEquals(pool.reserve("n1", "c"), { ok: true, displaced: "r1" });
  assertThrows(() => new UnpaidPool({ max: 0, maxPerRequester: 1 }), RangeError);
});
