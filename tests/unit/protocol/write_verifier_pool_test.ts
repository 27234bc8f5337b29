import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { WriteVerifierPool } from "../../../roles/town/write/write_verifier_pool.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { EventValidationError } from "../../../protocol/event_verifier.ts";

const key = generateSecretKey();

function signed(i: number): NostrEvent {
  return finalizeEvent({ kind: 1, created_at: 1_700_000_000 + i, tags: [], content: `e${i}` }, key);
}

Deno.test("verifier pool: with the system's libsecp256k1, every event inline and no worker", async () => {
  const pool = new WriteVerifierPool({ workers: 1 });
  try {
    const forged = { ...signed(2), content: "changed" };
    const burst = [signed(3), signed(4), forged, signed(5)].map((e) => pool.verify(e));
    await Promise.all([burst[0], burst[1], burst[3]]);
    await assertRejects(() => burst[2], EventValidationError);
    assertEquals(pool.started, 0, "no worker isolate");
    assertEquals(pool.verifiedInline, 4);
  } finally {
    pool.close();
  }
});

Deno.test("verifier pool: with others under way, libsecp256k1 checks on the thread pool, same answers", async () => {
  const pool = new WriteVerifierPool({ workers: 1 });
  try {
    const forged = { ...signed(12), sig: signed(15).sig }; // its id right, its signature not
    const badId = { ...signed(13), content: "changed" };
    const events = [signed(10), forged, signed(11), badId];
    const outcomes = await Promise.allSettled(
      events.map((e) => pool.verify(e, { concurrent: true })),
    );
    assertEquals(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled", "rejected"]);
    const reasons = outcomes.map((o) =>
      o.status === "rejected" ? (o.reason as EventValidationError).reason : "ok"
    );
    assertEquals(reasons, ["ok", "bad-sig", "ok", "bad-id"]);
    assertEquals(pool.verifiedOffThread, 4);
    assertEquals(pool.verifiedInline, 0);
    assertEquals(pool.started, 0, "no worker isolate");
  } finally {
    pool.close();
  }
});

Deno.test("verifier pool: no worker while idle or one write at a time; the first burst starts them", async () => {
  const pool = new WriteVerifierPool({ workers: 1, inlineWhenNative: false });
  try {
    assertEquals(pool.size, 1);
    assertEquals(pool.started, 0, "an idle pool holds no worker isolate");
    await pool.verify(signed(0));
    await pool.verify(signed(1));
    assertEquals(pool.started, 0, "lone writes are verified inline");
    assertEquals(pool.verifiedInline, 2);
    // A burst: several events in one turn, one of them forged.
    const forged = { ...signed(2), content: "changed" };
    const burst = [signed(3), signed(4), forged, signed(5)].map((e) => pool.verify(e));
    assertEquals(pool.started, 0, "started on dispatch, not on queueing");
    await Promise.all([burst[0], burst[1], burst[3]]);
    await assertRejects(() => burst[2], EventValidationError);
    assertEquals(pool.started, 1, "the burst started the worker");
    // Once loaded, bursts go to it (until then they are verified inline).
    const deadline = Date.now() + 60_000;
    for (let i = 0; pool.batches === 0; i++) {
      if (Date.now() > deadline) throw new Error("hang guard: no batch reached the worker");
      await Promise.all(Array.from({ length: 8 }, (_, j) => pool.verify(signed(100 + i * 8 + j))));
      await new Promise((r) => setTimeout(r, 10));
    }
    await assertRejects(
      () => Promise.all([signed(6), forged].map((e) => pool.verify(e))),
      EventValidationError,
    );
  } finally {
    pool.close();
  }
});
