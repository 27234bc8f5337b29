/**
 * The nodes' receiving pipeline (`roles/event_feed.ts`) against the independent reference relay:
 * events arrive through the stages' workers as summaries, and the relay source's disconnects
 * cross the worker boundary as log entries (what raises the nodes' `relay-disconnected` alert).
 */
import { assertEquals } from "../../harness/assert.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { startReferenceRelay } from "../../harness/reference_relay.ts";
import { openEventFeed } from "../../roles/event_feed.ts";
import type { StageLogEntry, SummaryChunk } from "../../stages/chunks.ts";

async function publish(url: string, kind: number, content: string) {
  const event = finalizeEvent({
    kind,
    created_at: Math.floor(Date.now() / 1000),
    tags: [],
    content,
  }, generateSecretKey());
  const ws = new WebSocket(url);
  await new Promise((resolve) => ws.onopen = resolve);
  const ok = new Promise((resolve) => ws.onmessage = resolve);
  ws.send(JSON.stringify(["EVENT", event]));
  await ok;
  ws.close();
  return event;
}

function until<T>(items: T[], match: (t: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const check = () => {
      const found = items.find(match);
      if (found !== undefined) resolve(found);
      else setTimeout(check, 20);
    };
    check();
  });
}

Deno.test("event feed: events arrive through the workers as summaries; disconnects as log entries", async () => {
  const relay = await startReferenceRelay();
  const events: SummaryChunk[] = [];
  const logs: StageLogEntry[] = [];
  const feed = await openEventFeed({
    relay: relay.url,
    filters: [{ kinds: [5100, 5200] }],
    initialBackoffMs: 50,
    onEvent: (e) => void events.push(e),
    onLog: (entry) => logs.push(entry),
  });
  try {
    assertEquals(feed.mode, "workers");
    const job = await publish(relay.url, 5100, "first");
    const seen = await until(events, (e) => e.id === job.id);
    assertEquals([seen.kind, seen.pubkey], [5100, job.pubkey]);
    await publish(relay.url, 1, "not a kind the feed asked for");
    await relay.kill();
    await until(logs, (l) => l.type === "disconnected");
    await relay.restart();
    const after = await publish(relay.url, 5200, "after the restart");
    await until(events, (e) => e.id === after.id);
    assertEquals(events.filter((e) => e.kind === 1).length, 0);
    assertEquals(feed.errors(), []);
  } finally {
    await feed.close();
    await relay.stop();
  }
});

Deno.test("event feed: a handler that throws is reported and the feed goes on", async () => {
  const relay = await startReferenceRelay();
  const events: SummaryChunk[] = [];
  const failures: string[] = [];
  const feed = await openEventFeed({
    relay: relay.url,
    filters: [{ kinds: [5100] }],
    onEvent: (e) => {
      events.push(e);
      if (events.length === 1) throw new Error("the node choked");
    },
    onFailure: (f) => failures.push(`${f.stage}: ${f.message}`),
  });
  try {
    await publish(relay.url, 5100, "one");
    await until(failures, (f) => f.includes("the node choked"));
    const second = await publish(relay.url, 5100, "two");
    await until(events, (e) => e.id === second.id);
    assertEquals(failures, ["event-feed: handling an event failed: the node choked"]);
  } finally {
    await feed.close();
    await relay.stop();
  }
});
