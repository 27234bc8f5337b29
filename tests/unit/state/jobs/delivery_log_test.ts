/** The delivery log: at most once per event, across reopen; deliveries cut off are reported. */
import { openDeliveryLog } from "../../../../state/jobs/delivery_log.ts";
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";

Deno.test("delivery log: a claim is exclusive and durable; recover marks cut-off ones interrupted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await openDeliveryLog({ stateDir: dir });
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    assertEquals(await log.claim({ eventId: a, kind: 1059, skill: "encrypted-dm" }), true);
    assertEquals(await log.claim({ eventId: a, kind: 1059, skill: "encrypted-dm" }), false);
    await log.claim({ eventId: b, kind: 1059, skill: "encrypted-dm" });
    const done = await log.finish(a, { status: "done", sender: "c".repeat(64) });
    assertEquals([done.status, done.sender], ["done", "c".repeat(64)]);
    assertEquals((await Deno.stat(`${dir}/deliveries/${a}.json`)).mode! & 0o777, 0o600);
    // A restart: b was running when the node stopped.
    const again = await openDeliveryLog({ stateDir: dir });
    assertEquals((await again.recover()).map((r) => [r.eventId, r.status]), [[b, "interrupted"]]);
    assertEquals(await again.claim({ eventId: b, kind: 1059, skill: "encrypted-dm" }), false);
    assertEquals((await again.read(a))?.status, "done");
    await assertRejects(() => again.claim({ eventId: "../x", kind: 1, skill: "s" }), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
