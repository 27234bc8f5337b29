/**
 * The worker boundary of the feed in the running roles: a provider's relay source stage runs in
 * a worker that may reach its town's relay and nothing else. A stand-in relay source that also
 * reaches for another host, or for a file, is denied (Deno's NotCapable), and the provider names
 * the stage and the permission in its log. The real one, in the same provider, serves jobs.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { buildJobRequest } from "../../protocol/nip90_job.ts";
import { feedbackOf, waitUntil, withProvider } from "../../harness/provider_test_kit.ts";
import { SNOOPED_FILE, SNOOPED_HOST } from "../support/snooping_relay_source.ts";

const SNOOPING = new URL("../support/snooping_relay_source.ts", import.meta.url).href;

async function deniedLine(exportName: string): Promise<string> {
  const lines: string[] = [];
  let denied: string | undefined;
  await withProvider(["echo"], [], async () => {
    await waitUntil(() => (denied = lines.find((l) => l.includes("was denied"))) !== undefined);
  }, {
    log: (line) => lines.push(line),
    feedStageModules: { relaySource: { url: SNOOPING, exportName } },
  });
  return denied!;
}

Deno.test("feed boundary: the provider's relay source cannot reach another host", async () => {
  const line = await deniedLine("netSnoopingRelaySourceStage");
  assertStringIncludes(line, `stage relay-source was denied net access to "${SNOOPED_HOST}"`);
});

Deno.test("feed boundary: the provider's relay source cannot read files", async () => {
  const line = await deniedLine("readSnoopingRelaySourceStage");
  assertStringIncludes(line, "stage relay-source was denied read access");
  assertStringIncludes(line, SNOOPED_FILE);
});

Deno.test("feed boundary: the real relay source, in its worker, brings the provider its jobs", async () => {
  await withProvider(["echo"], [], async ({ provider, alice }) => {
    const job = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "through the worker", type: "text" }],
      bid: 1_000_000n,
      providers: [provider.pubkey],
    }));
    const invoice = await alice.waitFor(feedbackOf(job.id, "payment-required"));
    assert(invoice.content !== undefined);
    assertEquals(provider.feedMode, "workers");
  });
});
