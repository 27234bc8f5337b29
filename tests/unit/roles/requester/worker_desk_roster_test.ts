/** A Mayor's roster published by its node (roles/requester/worker_desk.ts). */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { generateSecretKey } from "nostr-tools/pure";
import { WorkerDesk } from "../../../../roles/requester/worker_desk.ts";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";

Deno.test("worker desk: a roster is later than the list it was read from, even within that list's second (a town keeps the lower id at a tie)", async () => {
  const stateDir = await Deno.makeTempDir();
  const written: NostrEvent[] = [];
  using signer = localNodeSigner(generateSecretKey());
  const desk = new WorkerDesk({
    signer,
    stateDir,
    town: "ws://127.0.0.1:7100",
    write: (event) => Promise.resolve(written.push(event)),
    feed: () => undefined,
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    const p = "ab".repeat(32);
    // Read from a list of this very second (the add just before), or one ahead of this clock.
    for (const after of [now, now + 30]) {
      await desk.answer({ do: "roster", pubkeys: [p], after });
      assertEquals(written.at(-1)!.created_at, after + 1);
    }
    // No list before, or an older one: now.
    for (const after of [undefined, now - 100, Number.NaN]) {
      await desk.answer({ do: "roster", pubkeys: [p], after });
      const at = written.at(-1)!.created_at;
      assert(at >= now && at < now + 60, `created_at ${at}`);
    }
    assertEquals(written.at(-1)!.tags, [["p", p]]);
  } finally {
    await desk.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
