/**
 * The town's paid write pipeline without sockets: every fixture through it (valid ones are
 * stored and fulfilled, malformed ones refused with F06 before payment is considered), group
 * commit (concurrent writes share a transaction, each FULFILLed only after it), a failing store
 * gives T00 and no FULFILL, and the SPSP branch (FULFILL with the peer-protocol condition, F99
 * carrying the answer otherwise, T05 over the per-pubkey rate limit).
 */
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals, assertMatch } from "../../../harness/assert.ts";
import { openEventStore } from "../../../state/events/event_store.ts";
import { SubscriptionHub } from "../../../roles/town/relay/subscription_hub.ts";
import { deriveSpspSeed, SpspSecrets } from "../../../roles/town/spsp/spsp_secrets.ts";
import { SpspResponder } from "../../../roles/town/spsp/spsp_responder.ts";
import {
  createWritePipeline,
  type WritePipelineOptions,
} from "../../../roles/town/write/write_pipeline.ts";
import { fulfillmentFor } from "../../../protocol/ilp_fulfillment.ts";
import { PEER_PROTOCOL_CONDITION } from "../../../protocol/ildcp.ts";
import type { IlpPrepare } from "../../../protocol/ilp_packet.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { buildSpspRequest, parseSpspResponse } from "../../../protocol/spsp_message.ts";
import { decodeEventToon, encodeEventToon } from "../../../protocol/toon_codec.ts";

const TOWN = "test.town";
const townKey = generateSecretKey();

const seed = await deriveSpspSeed(localNodeSigner(townKey));

function setup(overrides: Partial<WritePipelineOptions> = {}, responderBurst = 20) {
  const store = openEventStore({ path: ":memory:" });
  const secrets = new SpspSecrets({ seed });
  const responder = new SpspResponder({
    signer: localNodeSigner(townKey),
    secrets,
    townAddress: () => TOWN,
    burst: responderBurst,
  });
  const pipeline = createWritePipeline({
    store,
    hub: new SubscriptionHub(),
    secrets,
    responder,
    pricing: { pricePerByte: 10n },
    townAddress: () => TOWN,
    verifierWorkers: 1,
    ...overrides,
  });
  const grant = secrets.grant(TOWN);
  const paid = async (data: Uint8Array, amount = 10n * BigInt(data.byteLength)) => {
    const { condition } = await fulfillmentFor(grant.sharedSecret, data);
    const prepare: IlpPrepare = {
      amount: String(amount),
      destination: grant.destinationAccount,
      executionCondition: condition,
      expiresAt: new Date(Date.now() + 30_000),
      data,
    };
    return pipeline.handle(prepare, { kind: "relay", tag: grant.tag });
  };
  return {
    store,
    pipeline,
    paid,
    [Symbol.dispose]() {
      pipeline.close();
      store.close();
    },
  };
}

async function fixtures(dir: string): Promise<{ name: string; data: Uint8Array }[]> {
  const base = new URL(`../../../fixtures/events/${dir}/`, import.meta.url);
  const out = [];
  for await (const entry of Deno.readDir(base)) {
    if (entry.name.endsWith(".toon")) {
      out.push({ name: entry.name, data: await Deno.readFile(new URL(entry.name, base)) });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("write pipeline: valid fixtures are fulfilled unless the store's rules refuse them", async () => {
  using t = setup();
  const valid = await fixtures("valid");
  assert(valid.length > 50);
  let fulfilled = 0;
  for (const { name, data } of valid) {
    const reply = await t.paid(data);
    if (reply.type === "fulfill") {
      fulfilled++;
      continue;
    }
    // The fixtures hold kind 5 cancellations of some jobs (NIP-09): those jobs are refused.
    assertEquals(reply.code, "F06", name);
    assertMatch(reply.message, /deleted by its author|newer version/, name);
  }
  assert(fulfilled > 50, `${fulfilled} fulfilled`);
  assertEquals(t.pipeline.counters.fulfilled, fulfilled);
});

Deno.test("write pipeline: every malformed fixture is refused with F06 even when paid", async () => {
  using t = setup();
  for (const { name, data } of await fixtures("malformed")) {
    const reply = await t.paid(data, 10_000_000n);
    assertEquals(reply.type === "reject" ? reply.code : "fulfill", "F06", name);
  }
  assertEquals(t.store.size(), 0);
  assertEquals(t.pipeline.counters.fulfilled, 0);
});

Deno.test("write pipeline: concurrent writes share a commit, each FULFILLed after it", async () => {
  using t = setup();
  const key = generateSecretKey();
  const events = Array.from(
    { length: 40 },
    (_, i) =>
      finalizeEvent({ kind: 1, created_at: 1_700_000_000 + i, tags: [], content: `n${i}` }, key),
  );
  const replies = await Promise.all(
    events.map((e) => t.paid(new TextEncoder().encode(encodeEventToon(e as NostrEvent)))),
  );
  assert(replies.every((r) => r.type === "fulfill"));
  assertEquals(t.store.size(), 40);
  // Their signatures are checked on the thread pool (others are under way), each answer in its
  // own loop turn, so the writes reach the (inline, :memory:) committer over a few turns: a few
  // transactions (2-4 here at load 6; 1-3 when checked inline), not one per write.
  assert(t.pipeline.committer.batches < 20, `${t.pipeline.committer.batches} transactions`);
  assert(t.pipeline.counters.verifiedOffThread > 0, "checked off the main thread");
});

Deno.test("write pipeline: a failing store gives T00 and no FULFILL", async () => {
  const t = setup();
  const event = finalizeEvent(
    { kind: 1, created_at: 1, tags: [], content: "x" },
    generateSecretKey(),
  );
  t.store.close();
  const reply = await t.paid(new TextEncoder().encode(encodeEventToon(event as NostrEvent)));
  assertEquals(reply.type === "reject" ? reply.code : "fulfill", "T00");
  assertEquals(t.pipeline.counters.fulfilled, 0);
  t.pipeline.close();
});

Deno.test("write pipeline: SPSP requests are free, answered in FULFILL or F99, rate-limited", async () => {
  using t = setup({}, 2);
  const requester = generateSecretKey();
  const spsp = async (condition: Uint8Array) => {
    const request = finalizeEvent(
      await buildSpspRequest({
        signer: localNodeSigner(requester),
        receiverPubkey: getPublicKey(townKey),
      }),
      requester,
    );
    return t.pipeline.handle({
      amount: "0",
      destination: TOWN,
      executionCondition: condition,
      expiresAt: new Date(Date.now() + 30_000),
      data: new TextEncoder().encode(encodeEventToon(request as NostrEvent)),
    }, { kind: "town" });
  };
  const ok = await spsp(PEER_PROTOCOL_CONDITION);
  assertEquals(ok.type, "fulfill");
  const response = decodeEventToon(new TextDecoder().decode(ok.data));
  assertEquals(response.kind, 23195);
  const parsed = await parseSpspResponse(response, localNodeSigner(requester));
  assertMatch(parsed.destinationAccount, /^test\.town\.relay\./);
  assertEquals(parsed.sharedSecret.byteLength, 32);

  const f99 = await spsp(new Uint8Array(32).fill(7));
  assertEquals(f99.type === "reject" ? f99.code : "fulfill", "F99");
  assertEquals(decodeEventToon(new TextDecoder().decode(f99.data)).kind, 23195);

  const limited = await spsp(PEER_PROTOCOL_CONDITION);
  assertEquals(limited.type === "reject" ? limited.code : "fulfill", "T05");
  assertEquals(t.store.size(), 0, "SPSP messages are ephemeral, never stored");
});
