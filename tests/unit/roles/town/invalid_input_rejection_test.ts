import { assert, assertEquals } from "../../../../harness/assert.ts";
import { ILP_ERROR } from "../../../../protocol/ilp_packet.ts";
import { invalidInputRejection } from "../../../../roles/town/write/invalid_input_rejection.ts";
import { TownWriteRejection } from "../../../../roles/town/write/write_rejection.ts";

class ParseError extends Error {
  override name = "ParseError";
}

Deno.test("invalidInputRejection: the parse's input error becomes F06 naming what and why", () => {
  const out = invalidInputRejection(new ParseError("no x tag"), {
    inputError: ParseError,
    what: "blob payment",
  });
  assert(out instanceof TownWriteRejection);
  assertEquals(out.code, ILP_ERROR.unexpectedPayment);
  assertEquals(out.code, "F06");
  assertEquals(out.message, "invalid blob payment: no x tag");
  assertEquals(out.data.length, 0);
});

Deno.test("invalidInputRejection: any other error is given back as it was", () => {
  const own = new TypeError("disk on fire");
  assert(invalidInputRejection(own, { inputError: ParseError, what: "SPSP request" }) === own);
  const thrown = "not an error";
  assert(
    invalidInputRejection(thrown, { inputError: ParseError, what: "SPSP request" }) === thrown,
  );
});
