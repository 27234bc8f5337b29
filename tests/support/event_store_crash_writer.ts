/**
 * Test helper for the event store's crash-safety test: opens the store at `Deno.args[0]` and
 * inserts synthetic events forever, one transaction each, printing each id on stdout only after
 * `insert` has returned. The test SIGKILLs this process and checks that every printed id is
 * present after reopening.
 *
 * @module
 */
import { openEventStore } from "../../state/events/event_store.ts";

const store = openEventStore({ path: Deno.args[0] });
const encoder = new TextEncoder();
const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
const run = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
for (let i = 0;; i++) {
  const id = run + hex(i, 48);
  store.insert({
    id,
    pubkey: "ab".repeat(32),
    created_at: 1_700_000_000 + i,
    kind: 1,
    tags: [["t", "crash"]],
    content: `event ${i}`,
    sig: "cd".repeat(64),
  });
  // writeSync: a line printed is a line the parent can read even after SIGKILL.
  Deno.stdout.writeSync(encoder.encode(id + "\n"));
}
