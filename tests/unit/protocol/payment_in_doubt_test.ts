import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  decodeInDoubt,
  decodeInDoubtAnswer,
  encodeInDoubt,
  encodeInDoubtAnswer,
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
  refused(new Uint8Array(MAX_IN_DOUBT * 100 + 65), "too large");
  assertThrows(
    () => encodeInDoubt("conditions", Array(MAX_IN_DOUBT + 1).fill(c)),
    InDoubtMessageError,
    `more than ${MAX_IN_DOUBT}`,
  );
});

Deno.test("payment-in-doubt: an answer carries each fulfilled PREPARE's expiry; an older peer's has none; a malformed one is refused", () => {
  const f = "cd".repeat(32);
  const at = "2026-11-28T19:56:31.839Z";
  const proofs = [{ fulfillment: f, expiresAt: at }, { fulfillment: "ef".repeat(32) }];
  assertEquals(decodeInDoubtAnswer(encodeInDoubtAnswer(proofs)), proofs);
  // The largest answer fits the size bound.
  const most = Array(MAX_IN_DOUBT).fill({ fulfillment: f, expiresAt: at });
  assertEquals(decodeInDoubtAnswer(encodeInDoubtAnswer(most)).length, MAX_IN_DOUBT);
  assertEquals(decodeInDoubtAnswer(encodeInDoubt("fulfillments", [f])), [{ fulfillment: f }]);
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const refused = (v: unknown, why: string) =>
    assertThrows(() => decodeInDoubtAnswer(bytes(v)), InDoubtMessageError, why);
  refused({ fulfillments: [f], expiresAt: [] }, "does not match");
  refused({ fulfillments: [f], expiresAt: "x" }, "does not match");
  refused({ fulfillments: [f], expiresAt: ["yesterday"] }, "not an ISO time");
  refused({ fulfillments: [f], expiresAt: [1764359791839] }, "not an ISO time");
  // The shape of a time, not a time: no such day, no such hour.
  refused({ fulfillments: [f], expiresAt: ["2026-02-30T10:00:00.000Z"] }, "not an ISO time");
  refused({ fulfillments: [f], expiresAt: ["2026-11-28T24:00:00.000Z"] }, "not an ISO time");
  assertThrows(
    () => encodeInDoubtAnswer([{ fulfillment: f, expiresAt: "soon" }]),
    InDoubtMessageError,
    "not an ISO time",
  );
});
