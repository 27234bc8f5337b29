/** The event loop's lateness, looked at by one timer while wanted. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { LoopLateness } from "../../../../roles/town/relay/loop_lateness.ts";

Deno.test("loop lateness: a loop held busy is told how late it ran, and the timer stops once not wanted", async () => {
  let late = 0;
  let looks = 0;
  let wanted = true;
  const lateness = new LoopLateness({
    tickMs: 10,
    late: (ms) => late += ms,
    wanted: () => (looks++, wanted),
  });
  lateness.start();
  const until = performance.now() + 100;
  while (performance.now() < until) { /* busy */ }
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert(late >= 80, `told ${late.toFixed(0)} ms late of 100 busy`);
  wanted = false;
  await new Promise((resolve) => setTimeout(resolve, 30));
  const seen = looks;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assertEquals(looks, seen);
});
