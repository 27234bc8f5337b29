import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  decodeInDoubt,
  encodeInDoubt,
  InDoubtMessageError,
  MAX_IN_DOUBT,
} from "../../../protocol/payment_in_doubt.ts";

Deno.test("payment-in-doubt: round trip, and every malformed message refused by name", () => {
  const c = "ab".repeat(32);
  assertEquals(decodeInDoubt("conditions", encodeInDoubt("conditions", [c])), [c]);
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const refused = (data: Uint8Array, why: string) =>
    assertThrows(() => decodeInDoubt("fulfillments", data), InDoubtMessageError, why);
  refused(new TextEncoder().encode("{"), "not JSON");
  refused(bytes({ conditions: [c] }), "no fulfillments list");
  refused(bytes({ fulfillments: ["AB".repeat(32)] }), "not 32 hex bytes");
  refused(bytes({ fulfillments: [c.slice(2)] }), "not 32 hex bytes");
  refused(bytes({ fulfillments: Array(MAX_IN_DOUBT + 1).fill(c) }), `more than ${MAX_IN_DOUBT}`);
  refused(new Uint8Array(MAX_IN_DOUBT * 70 + 65), "too large");
  assertThrows(
    () => encodeInDoubt("conditions", Array(MAX_IN_DOUBT + 1).fill(c)),
    InDoubtMessageError,
    `more than ${MAX_IN_DOUBT}`,
  );
});
