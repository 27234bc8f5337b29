/** Giving the C allocator's freed memory back while the town reads (transport/freed_memory_trim.ts). */
import { assert, assertEquals } from "../../../harness/assert.ts";
import { FreedMemoryTrim } from "../../../transport/freed_memory_trim.ts";

Deno.test({
  name:
    "freed memory trim: glibc's malloc_trim runs at each look while wanted and once after, none once idle or stopped",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const answers = [true, true, false, false, false];
    let looks = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => done = resolve);
    const trim = new FreedMemoryTrim({
      intervalMs: 5,
      wanted: () => {
        const wanted = answers[looks++] ?? false;
        if (looks === answers.length) done();
        return wanted;
      },
    });
    assert(trim.available, "glibc's malloc_trim is there (Linux, -A)");
    trim.start();
    // The trim's timer does not keep a process alive: this one does, meanwhile.
    const alive = setInterval(() => {}, 1000);
    await finished;
    trim.stop();
    clearInterval(alive);
    // Two looks wanted, the first not wanted (once after), then idle.
    assertEquals(trim.trims, 3);
    const stoppedAt = looks;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assertEquals(looks, stoppedAt);
  },
});
