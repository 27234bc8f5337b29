import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { AlertWebhookError, startAlertWebhook } from "../../../transport/alert_webhook.ts";
import { createNodeAlerts } from "../../../roles/node_alerts.ts";

Deno.test("alert webhook: JSON POSTs, retried with backoff until the server takes them", async () => {
  const bodies: unknown[] = [];
  let failures = 2;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const body = await req.json();
    if (failures-- > 0) return new Response("busy", { status: 503 });
    bodies.push(body);
    return new Response("ok");
  });
  try {
    const hook = startAlertWebhook({ url: `http://127.0.0.1:${server.addr.port}/`, backoffMs: 5 });
    hook.send({ kind: "low-balance", n: 1 });
    hook.send({ kind: "low-balance", n: 2 });
    await hook.close(5_000);
    assertEquals(bodies, [{ kind: "low-balance", n: 1 }, { kind: "low-balance", n: 2 }]);
    assertEquals(hook.stats, { delivered: 2, failed: 0, dropped: 0 });
  } finally {
    await server.shutdown();
  }
});

Deno.test("alert webhook: never blocks; a full queue drops the oldest; a dead URL gives up", async () => {
  const given: string[] = [];
  const hook = startAlertWebhook({
    url: "http://127.0.0.1:9/unreachable",
    maxQueue: 2,
    attempts: 2,
    backoffMs: 1,
    onGiveUp: (_body, why) => given.push(why),
  });
  for (let i = 0; i < 5; i++) hook.send({ n: i });
  // Overflow is decided inside send itself: nothing waited for the dead URL.
  assertEquals(hook.stats.dropped, 2);
  await hook.close(5_000);
  assert(given.includes("queue full"), given.join());
  assertThrows(() => startAlertWebhook({ url: "ftp://x" }), AlertWebhookError);
});

Deno.test("node alerts: logged once per minute for the same message, kept for the status", async () => {
  const lines: string[] = [];
  const alerts = createNodeAlerts({ log: (l) => lines.push(l), keep: 2 });
  alerts.raise("low-balance", "channel 0xab has 1 M2M left", { channelId: "0xab" });
  alerts.raise("low-balance", "channel 0xab has 1 M2M left", { channelId: "0xab" });
  alerts.raise("topup", "channel 0xab topped up");
  alerts.raise("relay-disconnected", "relay ws://x disconnected");
  assertEquals(lines.length, 3);
  assertEquals(lines[0], "alert: low-balance: channel 0xab has 1 M2M left");
  const snap = alerts.snapshot();
  assertEquals(snap.recent.map((a) => a.kind), ["topup", "relay-disconnected"]);
  assertEquals(snap.counts, { "low-balance": 1, topup: 1, "relay-disconnected": 1 });
  await alerts.close();
});
