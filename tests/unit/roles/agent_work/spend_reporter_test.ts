/**
 * An agent-task's live spend (roles/agent_work/provider/spend_reporter.ts, protocol/agent_spend.ts): a report
 * only when the spend changed, at most `max` a job, none after `stop()`; the `spend` tag read back
 * as written, a malformed one not at all.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { startSpendReporter } from "../../../../roles/agent_work/provider/spend_reporter.ts";
import type { GatewaySpend } from "../../../../roles/agent_work/provider/gateway_ledger.ts";
import { type AgentSpend, parseSpendTag, spendTag } from "../../../../protocol/agent_spend.ts";

const spendOf = (cost: bigint, calls: number): GatewaySpend => ({
  calls,
  unmeteredCalls: 0,
  refused: 0,
  inputTokens: calls * 1000,
  outputTokens: calls * 200,
  cost,
  budget: 100n,
  exhausted: false,
});

Deno.test("spend reporter: once per change, at most max, nothing after stop", async () => {
  let current = spendOf(0n, 0);
  let asked = 0;
  let waiter: { at: number; resolve: () => void } | undefined;
  const reports: AgentSpend[] = [];
  /** Resolves once the reporter has looked at the spend `n` more times. */
  const ticks = (n: number) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiter = { at: asked + n, resolve };
    return promise;
  };
  const reporter = startSpendReporter({
    spend: () => {
      asked++;
      if (waiter && asked >= waiter.at) waiter.resolve();
      return current;
    },
    report: (s) => reports.push(s),
    everyMs: 1,
    max: 2,
  });
  try {
    await ticks(3);
    assertEquals(reports.length, 0, "no call yet: nothing to report");
    current = spendOf(2n, 1);
    await ticks(5);
    assertEquals(reports.map((r) => [r.cost, r.calls, r.budget]), [["2", 1, "100"]]);
    current = spendOf(4n, 2);
    await ticks(1);
    assertEquals(reports.length, 2);
    // The most is reached: the reporter stops looking, whatever the spend does.
    const before = asked;
    current = spendOf(6n, 3);
    await new Promise((r) => setTimeout(r, 20));
    assertEquals([asked, reports.length], [before, 2]);
  } finally {
    reporter.stop();
  }
});

Deno.test("spend tag: written and read back; a malformed one is no spend", () => {
  const spend = { cost: "12", budget: "1000", calls: 3, inputTokens: 3000, outputTokens: 600 };
  assertEquals(parseSpendTag([["status", "processing"], spendTag(spend)]), spend);
  assertEquals(parseSpendTag([["spend", "12", "1000", "3", "3000"]]), undefined);
  assertEquals(parseSpendTag([["spend", "-1", "1000", "3", "3000", "600"]]), undefined);
  assertEquals(parseSpendTag([["spend", "1", "2", "9".repeat(20), "0", "0"]]), undefined);
  assertEquals(parseSpendTag([["status", "processing"]]), undefined);
});

Deno.test("spend reporter with a beat: an unchanged spend goes again once per beat, past the most reports of a change", async () => {
  let clock = 0;
  let asked = 0;
  let waiter: { at: number; resolve: () => void } | undefined;
  const reports: AgentSpend[] = [];
  const ticks = (n: number) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiter = { at: asked + n, resolve };
    return promise;
  };
  let current = spendOf(0n, 0);
  const reporter = startSpendReporter({
    spend: () => {
      asked++;
      if (waiter && asked >= waiter.at) waiter.resolve();
      return current;
    },
    report: (s) => reports.push(s),
    everyMs: 1,
    max: 1,
    beatMs: 1000,
    now: () => clock,
  });
  try {
    await ticks(3);
    assertEquals(reports.length, 0, "within the first beat, no call: nothing");
    clock = 1000;
    await ticks(3);
    assertEquals(reports.map((r) => r.cost), ["0"], "a beat with nothing spent");
    current = spendOf(2n, 1);
    await ticks(3);
    assertEquals(reports.map((r) => r.cost), ["0", "2"], "the change, at once");
    current = spendOf(4n, 2);
    await ticks(3);
    assertEquals(reports.length, 2, "the most changes reached: none until the next beat");
    clock = 2000;
    await ticks(3);
    clock = 3000;
    await ticks(3);
    assertEquals(reports.map((r) => r.cost), ["0", "2", "4", "4"], "beats go on past the most");
  } finally {
    reporter.stop();
  }
});
