/**
 * The refinery's order (roles/agent_work/refinery/refinery_order.ts): a pure rule, checked on
 * results that differ in one thing at a time.
 */
import { assertEquals } from "../../../../../harness/assert.ts";
import {
  DEFAULT_MAX_WAIT_MS,
  orderQueue,
  type QueuedResult,
} from "../../../../../roles/agent_work/refinery/refinery_order.ts";

const NOW = 10 * DEFAULT_MAX_WAIT_MS;
const jobs = (rs: QueuedResult[], newestFirst = false) =>
  orderQueue(rs, { nowMs: NOW, newestFirst }).map((o) => o.result.job);
const fresh = (job: string, more: Partial<QueuedResult> = {}): QueuedResult => ({
  job,
  deliveredAtMs: NOW - 1000,
  verdict: "pass",
  lines: 10,
  ...more,
});

Deno.test("a result that waited past the bound goes ahead of every other, however low its priority and score; overdue ones oldest first", () => {
  const order = jobs([
    fresh("urgent", { priority: 0, trust: 100 }),
    fresh("late", { priority: 4, lines: 5000, deliveredAtMs: NOW - DEFAULT_MAX_WAIT_MS }),
    fresh("later", { priority: 4, deliveredAtMs: NOW - 2 * DEFAULT_MAX_WAIT_MS }),
  ]);
  assertEquals(order, ["later", "late", "urgent"]);
});

Deno.test("among results not yet due, priority first, then expected success (trust, verdicts, size), then age", () => {
  assertEquals(jobs([fresh("p3", { priority: 3 }), fresh("p1", { priority: 1 })]), ["p1", "p3"]);
  assertEquals(jobs([fresh("unknown"), fresh("trusted", { trust: 90 })]), ["trusted", "unknown"]);
  assertEquals(jobs([fresh("failed-here", { verified: "fail" }), fresh("ok")]), [
    "ok",
    "failed-here",
  ]);
  assertEquals(jobs([fresh("gate-fail", { verdict: "fail" }), fresh("ok")]), ["ok", "gate-fail"]);
  assertEquals(jobs([fresh("large", { lines: 4000 }), fresh("small", { lines: 4 })]), [
    "small",
    "large",
  ]);
  assertEquals(
    jobs([
      fresh("newer", { deliveredAtMs: NOW - 10 }),
      fresh("older", { deliveredAtMs: NOW - 20 }),
    ]),
    ["older", "newer"],
  );
});

Deno.test("the newest-first baseline orders by delivery alone, the overdue result last", () => {
  const order = jobs([
    fresh("late", { deliveredAtMs: NOW - DEFAULT_MAX_WAIT_MS }),
    fresh("new", { priority: 4, deliveredAtMs: NOW - 10 }),
    fresh("mid", { deliveredAtMs: NOW - 500 }),
  ], true);
  assertEquals(order, ["new", "mid", "late"]);
});
