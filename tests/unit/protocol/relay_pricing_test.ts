import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { priceEvent, priceToon, RelayPricingError } from "../../../protocol/relay_pricing.ts";

const alice = "a".repeat(64);
const owner = "b".repeat(64);

Deno.test("price = per-byte price x TOON byte length, default 10", () => {
  assertEquals(priceEvent({ kind: 1, pubkey: alice, toonByteLength: 300 }), 3000n);
  assertEquals(
    priceEvent({ kind: 1, pubkey: alice, toonByteLength: 300 }, { pricePerByte: 3n }),
    900n,
  );
  // UTF-8 bytes, not UTF-16 units: "é" is 2 bytes
  assertEquals(priceToon("é", { kind: 1, pubkey: alice }), 20n);
});

Deno.test("per-kind overrides (0 included) and the owner's events are free", () => {
  const pricing = {
    pricePerByte: 10n,
    kindPricePerByte: { 5100: 25n, 10032: 0n },
    ownerPubkey: owner,
  };
  assertEquals(priceEvent({ kind: 5100, pubkey: alice, toonByteLength: 4 }, pricing), 100n);
  assertEquals(priceEvent({ kind: 10032, pubkey: alice, toonByteLength: 4 }, pricing), 0n);
  assertEquals(priceEvent({ kind: 1, pubkey: alice, toonByteLength: 4 }, pricing), 40n);
  assertEquals(
    priceEvent({ kind: 5100, pubkey: owner.toUpperCase(), toonByteLength: 4 }, pricing),
    0n,
  );
});

Deno.test("bigint arithmetic: exact up to uint64, refused beyond", () => {
  const max = 0xffff_ffff_ffff_ffffn;
  assertEquals(
    priceEvent({ kind: 1, pubkey: alice, toonByteLength: 1 }, { pricePerByte: max }),
    max,
  );
  assertThrows(
    () => priceEvent({ kind: 1, pubkey: alice, toonByteLength: 2 }, { pricePerByte: max }),
    RelayPricingError,
    "uint64",
  );
  assertThrows(
    () => priceEvent({ kind: 1, pubkey: alice, toonByteLength: 1 }, { pricePerByte: -1n }),
    RelayPricingError,
  );
  assertThrows(() => priceEvent({ kind: 1, pubkey: alice, toonByteLength: -1 }), RelayPricingError);
});
