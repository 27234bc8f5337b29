/**
 * A provider's result that reaches the town late (signed, then sent again while the town was out
 * of reach: its `created_at` well before the requester's newest event seen) still reaches the
 * requester after its feed reconnects (before: the reconnect asked only from 5 s before the
 * newest event seen, and the job timed out with its provider paid: the goal run's pair 489). On a
 * real town and requester node in process; the requester's relay link goes through a proxy the
 * test holds down; the provider is this test, signing and paying its own writes.
 */
import { assertEquals } from "../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { buildJobFeedback, buildJobResult } from "../../protocol/nip90_job.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

Deno.test("requester: a result that reaches the town late, its created_at before the newest event seen, is read after a reconnect", async () => {
  const net = await startRequesterNetwork({ provider: false });
  await using proxy = startTcpProxy(net.town.httpPort);
  const req = await net.startRequester({ relayUrl: `ws://127.0.0.1:${proxy.port}` });
  const providerKey = generateSecretKey();
  const provider = await connectPayingClient({
    url: `btp+ws://greedy:g@127.0.0.1:${net.town.btpPort}`,
    token: "g",
    townAddress: net.town.ilpAddress,
    townPubkey: net.town.pubkey,
  });
  try {
    const job = await req.submit(echoSpec("answered late", {
      providers: [getPublicKey(providerKey)],
      timeoutMs: 120_000,
    }));
    const request = decodeEventToon((await readJobSidecar(req.stateDir, job.id))!.requestToon);
    // The result is signed now (a free job: no invoice), and reaches the town only later.
    const result = finalizeEvent(
      buildJobResult({ request, content: "late but here", createdAt: request.created_at }),
      providerKey,
    ) as NostrEvent;
    // 7 s on, a `processing` feedback: the requester's newest event seen.
    await new Promise((r) => setTimeout(r, (request.created_at + 7) * 1000 - Date.now()));
    const processing = finalizeEvent(
      buildJobFeedback({ request, status: "processing" }),
      providerKey,
    ) as NostrEvent;
    assertEquals((await provider.write(processing)).type, "fulfill");
    await waitUntil(async () => (await req.repo.read(job.id))?.status === "processing");
    // The requester's link to its town drops; the result lands meanwhile; the link comes back.
    proxy.hold();
    assertEquals((await provider.write(result)).type, "fulfill");
    proxy.release();
    const final = await req.waitFor(job.id);
    assertEquals(final.status, "done", final.error);
    // The callback skill got this result.
    const called = await Deno.readTextFile(`${req.stateDir}/cb-${job.id}.toon`);
    assertEquals(decodeEventToon(called).id, result.id);
  } finally {
    await provider.close();
    await req.close();
    await net.stop();
  }
});
