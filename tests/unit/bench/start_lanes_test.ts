/** The scale hosts start their agents in lanes (bench/start_lanes.ts). */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { startInLanes } from "../../../bench/start_lanes.ts";

Deno.test("startInLanes: at most N at once, and a slow start holds only its own lane", async () => {
  let inFlight = 0;
  let most = 0;
  const ended: string[] = [];
  let releaseSlow: () => void = () => {};
  const slow = new Promise<void>((r) => releaseSlow = r);
  const items = ["slow", "a", "b", "c", "d"];
  const all = startInLanes(items, 2, async (item) => {
    inFlight++;
    most = Math.max(most, inFlight);
    if (item === "slow") await slow;
    else await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    ended.push(item);
    // Every other start ended while the slow one still held its lane: then it may end.
    if (ended.length === 4) releaseSlow();
  });
  await all;
  assertEquals(most, 2);
  assertEquals(ended, ["a", "b", "c", "d", "slow"]);
});

Deno.test("startInLanes: the first failure rejects, and no new start begins after it", async () => {
  const started: number[] = [];
  await assertRejects(
    () =>
      startInLanes([1, 2, 3, 4, 5], 1, (n) => {
        started.push(n);
        return n === 2 ? Promise.reject(new Error("no")) : Promise.resolve();
      }),
    Error,
    "no",
  );
  assertEquals(started, [1, 2]);
});
