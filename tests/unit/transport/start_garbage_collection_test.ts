import { assert, assertEquals } from "../../../harness/assert.ts";
import { StartGarbageCollection } from "../../../transport/start_garbage_collection.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Garbage a start leaves: 32 MiB of objects that were reachable and are no longer. */
function startGarbage(): void {
  let kept: number[][] | null = [];
  for (let i = 0; i < 4096; i++) kept.push(new Array(1024).fill(i + 0.5));
  assertEquals(kept.length, 4096);
  kept = null;
}

Deno.test("an isolate gone quiet after its start collects the start's garbage and gives the heap back", async () => {
  startGarbage();
  const before = Deno.memoryUsage().heapTotal;
  let after = 0;
  const collection = new StartGarbageCollection({
    quietMs: 50,
    afterCollect: () => after = Deno.memoryUsage().heapTotal,
  });
  collection.start();
  while (!collection.collected) await delay(20);
  assert(after > 0 && after < before - 16 * 2 ** 20, `heap ${before} then ${after} bytes`);
});

Deno.test("a start garbage collection waits for quiet: each touch puts it off, stop cancels it", async () => {
  const collection = new StartGarbageCollection({ quietMs: 200 });
  collection.start();
  for (let i = 0; i < 5; i++) {
    await delay(50);
    collection.touch();
  }
  assertEquals(collection.collected, false);
  collection.stop();
  await delay(300);
  assertEquals(collection.collected, false);
  const quiet = new StartGarbageCollection({ quietMs: 10 });
  quiet.start();
  while (!quiet.collected) await delay(10);
  quiet.touch(); // after the collection: nothing more to do
  assertEquals(quiet.collected, true);
});
