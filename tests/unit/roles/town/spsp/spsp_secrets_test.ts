import { assertEquals } from "../../../../../harness/assert.ts";
import { SpspSecrets } from "../../../../../roles/town/spsp/spsp_secrets.ts";
import { fulfillmentFor } from "../../../../../protocol/ilp_fulfillment.ts";

Deno.test("the town's fulfillment is the sender's WebCrypto one for every packet of every tag, the same tag again included", async () => {
  const secrets = new SpspSecrets({ seed: new Uint8Array(32).fill(5) });
  const tags = [secrets.grant("g.town").tag, secrets.grant("g.town").tag];
  for (let i = 0; i < 6; i++) {
    for (const tag of tags) {
      const data = new TextEncoder().encode(`packet ${i} `.repeat(i * 20));
      const expected = await fulfillmentFor(secrets.secretForTag(tag), data);
      assertEquals(secrets.fulfillment(tag, data), expected.fulfillment);
    }
  }
});
