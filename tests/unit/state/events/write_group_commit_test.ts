/**
 * The town's group commit in its off-thread mode (a worker with its own connection to the
 * SQLite file): concurrent inserts share transactions and each resolves only after its commit
 * (visible to the main connection by then), a bad item fails alone, close() drains the queue,
 * and later inserts are refused.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { openEventStore } from "../../../../state/events/event_store.ts";
import {
  GroupCommitError,
  GroupCommitter,
} from "../../../../roles/town/write/write_group_commit.ts";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";

const key = generateSecretKey();
const note = (i: number) =>
  finalizeEvent(
    { kind: 1, created_at: 1_700_000_000 + i, tags: [], content: `n${i}` },
    key,
  ) as NostrEvent;

async function withCommitter(
  fn: (c: GroupCommitter, store: ReturnType<typeof openEventStore>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "group_commit_test_" });
  const path = `${dir}/events.sqlite`;
  const store = openEventStore({ path });
  const committer = new GroupCommitter({ store, databasePath: path });
  try {
    await committer.startWorker();
    assert(committer.workerStarted && committer.offThread, "the commit worker runs");
    await fn(committer, store);
  } finally {
    await committer.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("group commit (worker): concurrent inserts share commits, each durable when resolved", async () => {
  await withCommitter(async (committer, store) => {
    assert(committer.offThread);
    const events = Array.from({ length: 200 }, (_, i) => note(i));
    const results = await Promise.all(events.map((event) => committer.insert({ event })));
    assert(results.every((r) => r.status === "stored"));
    assertEquals(store.size(), 200);
    assert(committer.batches < 50, `${committer.batches} transactions for 200 inserts`);
    // Each resolved insert is visible at once to the main connection, with its outcome.
    const again = await committer.insert({ event: events[0] });
    assertEquals(again.status, "duplicate");
    const lone = note(1000);
    assertEquals((await committer.insert({ event: lone })).status, "stored");
    assertEquals(store.query([{ ids: [lone.id] }]).length, 1);
  });
});

Deno.test("group commit (worker): a bad item fails alone, its batch-mates are stored", async () => {
  await withCommitter(async (committer, store) => {
    // A pubkey SQLite cannot bind fails inside the transaction (see event_store_test.ts).
    const bad = { ...note(1), pubkey: {} } as unknown as NostrEvent;
    const outcomes = await Promise.allSettled([
      committer.insert({ event: note(0) }),
      committer.insert({ event: bad, toon: "not used" }),
      committer.insert({ event: note(2) }),
    ]);
    assertEquals(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
    assertEquals(store.size(), 2);
  });
});

Deno.test("group commit: no worker until the first burst; that burst commits inline meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "group_commit_test_" });
  const path = `${dir}/events.sqlite`;
  const store = openEventStore({ path });
  const committer = new GroupCommitter({ store, databasePath: path });
  try {
    assertEquals(committer.workerStarted, false, "an idle town holds no commit worker");
    assertEquals((await committer.insert({ event: note(0) })).status, "stored");
    assertEquals(committer.workerStarted, false, "a lone insert commits inline");
    const burst = await Promise.all([1, 2, 3].map((i) => committer.insert({ event: note(i) })));
    assert(burst.every((r) => r.status === "stored"));
    assert(committer.workerStarted, "the burst started the worker");
    assertEquals(store.size(), 4);
    await committer.startWorker();
    const later = await Promise.all([4, 5, 6].map((i) => committer.insert({ event: note(i) })));
    assert(later.every((r) => r.status === "stored"));
    assertEquals(store.size(), 7);
    assert(committer.inlineBatches < committer.batches, "the worker committed the later burst");
  } finally {
    await committer.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("group commit: a lone insert with other writes under way goes to the worker", async () => {
  const dir = await Deno.makeTempDir({ prefix: "group_commit_test_" });
  const path = `${dir}/events.sqlite`;
  const store = openEventStore({ path });
  let busy = false;
  const committer = new GroupCommitter({ store, databasePath: path, busy: () => busy });
  try {
    await committer.startWorker();
    assertEquals((await committer.insert({ event: note(0) })).status, "stored");
    assertEquals(committer.inlineBatches, 1, "alone and not busy: inline");
    busy = true;
    assertEquals((await committer.insert({ event: note(1) })).status, "stored");
    assertEquals(committer.inlineBatches, 1, "busy: the worker committed it");
    assertEquals(committer.batches, 2);
    assertEquals(store.size(), 2);
  } finally {
    await committer.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("group commit (worker): close() commits what is queued, then refuses inserts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "group_commit_test_" });
  const path = `${dir}/events.sqlite`;
  const store = openEventStore({ path });
  const committer = new GroupCommitter({ store, databasePath: path });
  const pending = Array.from({ length: 50 }, (_, i) => committer.insert({ event: note(i) }));
  await committer.close();
  assertEquals((await Promise.all(pending)).length, 50);
  assertEquals(store.size(), 50);
  await assertRejects(() => committer.insert({ event: note(99) }), GroupCommitError, "stopping");
  store.close();
  await Deno.remove(dir, { recursive: true });
});
