/**
 * A FULFILL of a paid write carries what it paid for beside its data (the router's income line
 * reads it there instead of parsing the data's JSON back): the event's id, as in the data.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { assertEquals } from "../../../../harness/assert.ts";
import { createWritePipeline } from "../../../../roles/town/write/write_pipeline.ts";
import { SubscriptionHub } from "../../../../roles/town/relay/subscription_hub.ts";
import {
  deriveSpspSeed,
  parseWriteDestination,
  SpspSecrets,
} from "../../../../roles/town/spsp/spsp_secrets.ts";
import { SpspResponder } from "../../../../roles/town/spsp/spsp_responder.ts";
import { openEventStore } from "../../../../state/events/event_store.ts";
import { localNodeSigner } from "../../../../identity/local_node_signer.ts";
import { buildPaidWrite } from "../../../../roles/town_client/spsp_handshake.ts";

Deno.test("a paid write's FULFILL carries the event it paid for beside its JSON data", async () => {
  using town = localNodeSigner(generateSecretKey());
  const secrets = new SpspSecrets({ seed: await deriveSpspSeed(town) });
  const store = openEventStore({ path: ":memory:" });
  const pipeline = createWritePipeline({
    store,
    hub: new SubscriptionHub(),
    secrets,
    responder: new SpspResponder({ signer: town, secrets, townAddress: () => "g.town" }),
    pricing: { pricePerByte: 10n },
    townAddress: () => "g.town",
  });
  try {
    const event = finalizeEvent(
      { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
      generateSecretKey(),
    );
    const { prepare } = await buildPaidWrite({
      event,
      grant: secrets.grant("g.town"),
      pricePerByte: 10n,
    });
    const reply = await pipeline.handle(
      prepare,
      parseWriteDestination(prepare.destination, "g.town")!,
    );
    assertEquals(reply.type, "fulfill");
    assertEquals(reply.paidFor, { eventId: event.id });
    assertEquals(JSON.parse(new TextDecoder().decode(reply.data)).eventId, reply.paidFor?.eventId);
  } finally {
    pipeline.close();
    store.close();
  }
});
