/** CoalescedWriter: newest value wins, nobody is told "written" before their value is. */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { CoalescedWriter } from "../../../state/coalesced_writer.ts";

Deno.test("coalesced writer: one write in flight, then only the newest value", async () => {
  const written: number[] = [];
  const gates: (() => void)[] = [];
  const writer = new CoalescedWriter<number>({
    write: (n) =>
      new Promise<void>((resolve) => {
        gates.push(() => {
          written.push(n);
          resolve();
        });
      }),
  });
  const done: number[] = [];
  const p1 = writer.save(1).then(() => done.push(1));
  await Promise.resolve();
  await Promise.resolve();
  const p2 = writer.save(2).then(() => done.push(2));
  const p3 = writer.save(3).then(() => done.push(3));
  assertEquals(gates.length, 1, "the first write runs alone");
  gates[0]();
  await p1;
  assertEquals(done, [1], "2 and 3 are not written yet");
  while (gates.length < 2) await new Promise((r) => setTimeout(r, 0));
  gates[1]();
  await Promise.all([p2, p3]);
  await writer.durable();
  assertEquals(written, [1, 3]);
  assertEquals(writer.writes, 2);
});

Deno.test("coalesced writer: a failed write rejects its callers, the next one still runs", async () => {
  let fail = true;
  const writer = new CoalescedWriter<string>({
    write: (v) => fail ? Promise.reject(new Error(`disk full at ${v}`)) : Promise.resolve(),
  });
  await assertRejects(() => writer.save("a"), Error, "disk full at a");
  fail = false;
  await writer.save("b");
  await writer.durable();
  assertEquals(writer.writes, 2);
});
