import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { privateKeyToAddress } from "viem/accounts";
import { evmAddressOf, evmAddressOfPublicKey } from "../../../identity/evm_address.ts";

// NIP-06 vector 1.
const SK = hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");

Deno.test("evmAddressOf: the key's address as viem names it", () => {
  assertEquals(evmAddressOf(SK), privateKeyToAddress(`0x${bytesToHex(SK)}`));
});

Deno.test("evmAddressOfPublicKey: the address of a key's point is the key's; a point not uncompressed is refused", () => {
  const point = secp256k1.getPublicKey(SK, false);
  assertEquals(evmAddressOfPublicKey(point), privateKeyToAddress(`0x${bytesToHex(SK)}`));
  assertThrows(() => evmAddressOfPublicKey(secp256k1.getPublicKey(SK, true)), RangeError);
  assertThrows(() => evmAddressOfPublicKey(point.subarray(1)), RangeError);
  const notUncompressed = point.slice();
  notUncompressed[0] = 6;
  assertThrows(() => evmAddressOfPublicKey(notUncompressed), RangeError);
});
