import { assert, assertEquals, assertMatch, assertThrows } from "../../../harness/assert.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  deriveNip06SecretKey,
  encodeNsec,
  parseSecretKey,
  publicIdentity,
  SecretKeyFormatError,
} from "../../../identity/nip06_key.ts";
import {
  createMnemonic,
  importMnemonic,
  InvalidMnemonicError,
} from "../../../identity/mnemonic.ts";

// The test vectors published in NIP-06 (nostr-protocol/nips, 06.md).
const NIP06_VECTORS = [
  {
    mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean",
    secretKey: "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a",
    nsec: "nsec10allq0gjx7fddtzef0ax00mdps9t2kmtrldkyjfs8l5xruwvh2dq0lhhkp",
    pubkey: "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917",
    npub: "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu",
  },
  {
    mnemonic:
      "what bleak badge arrange retreat wolf trade produce cricket blur garlic valid proud rude strong choose busy staff weather area salt hollow arm fade",
    secretKey: "c15d739894c81a2fcfd3a2df85a0d2c0dbc47a280d092799f144d73d7ae78add",
    nsec: "nsec1c9wh8xy5eqdzln7n5t0ctgxjcrdug73gp5yj0x03gntn67h83twssdfhel",
    pubkey: "d41b22899549e1f3d335a31002cfd382174006e166d3e658e3a5eecdb6463573",
    npub: "npub16sdj9zv4f8sl85e45vgq9n7nsgt5qphpvmf7vk8r5hhvmdjxx4es8rq74h",
  },
];

for (const [i, v] of NIP06_VECTORS.entries()) {
  Deno.test(`NIP-06 published vector ${i + 1}: mnemonic -> key -> nsec, pubkey, npub`, () => {
    const sk = deriveNip06SecretKey(v.mnemonic);
    assertEquals(bytesToHex(sk), v.secretKey);
    assertEquals(encodeNsec(sk), v.nsec);
    const id = publicIdentity(sk);
    assertEquals(id.pubkey, v.pubkey);
    assertEquals(id.npub, v.npub);
    assertEquals(bytesToHex(parseSecretKey(v.nsec)), v.secretKey);
  });
}

Deno.test("EVM address of a key is EIP-55 (anvil/hardhat account 0 vector)", () => {
  const sk = parseSecretKey("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  assertEquals(publicIdentity(sk).evmAddress, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
});

Deno.test("account index changes the key; same account is deterministic", () => {
  const m = NIP06_VECTORS[0].mnemonic;
  const a0 = bytesToHex(deriveNip06SecretKey(m, { account: 0 }));
  const a1 = bytesToHex(deriveNip06SecretKey(m, { account: 1 }));
  assertEquals(a0, NIP06_VECTORS[0].secretKey);
  assertEquals(a1 === a0, false);
  assertEquals(bytesToHex(deriveNip06SecretKey(m, { account: 1 })), a1);
  assertThrows(() => deriveNip06SecretKey(m, { account: -1 }), RangeError);
  assertThrows(() => deriveNip06SecretKey(m, { account: 2 ** 31 }), RangeError);
});

Deno.test("createMnemonic makes valid 12- and 24-word mnemonics", () => {
  assertEquals(createMnemonic({ strength: 128 }).split(" ").length, 12);
  const m24 = createMnemonic();
  assertEquals(m24.split(" ").length, 24);
  assertEquals(importMnemonic(m24), m24);
  assertEquals(createMnemonic() === m24, false);
});

Deno.test("importMnemonic normalises case and whitespace", () => {
  const messy =
    "  LEADER monkey\tparrot ring guide accident before fence cannon height naive bean\n";
  assertEquals(importMnemonic(messy), NIP06_VECTORS[0].mnemonic);
});

Deno.test("importMnemonic rejects bad input without echoing words", () => {
  const words = NIP06_VECTORS[0].mnemonic.split(" ");
  const unknown = [...words.slice(0, 11), "zzzsecretzzz"].join(" ");
  const e1 = assertThrows(() => importMnemonic(unknown), InvalidMnemonicError);
  assertMatch(e1.message, /word 12 is not in the BIP-39/);
  assert(!/zzzsecretzzz|leader/.test(e1.message));
  const swapped = [words[1], words[0], ...words.slice(2)].join(" ");
  const e2 = assertThrows(() => importMnemonic(swapped), InvalidMnemonicError);
  assertMatch(e2.message, /checksum/);
  assertThrows(() => importMnemonic(words.slice(0, 11).join(" ")), InvalidMnemonicError);
  assertThrows(() => importMnemonic(""), InvalidMnemonicError);
  assertThrows(() => importMnemonic("a ".repeat(600)), InvalidMnemonicError);
});

Deno.test("parseSecretKey accepts hex/0x/nsec and rejects bad keys", () => {
  const hex = NIP06_VECTORS[0].secretKey;
  assertEquals(bytesToHex(parseSecretKey(` ${hex.toUpperCase()}\n`)), hex);
  assertEquals(bytesToHex(parseSecretKey(`0x${hex}`)), hex);
  for (const bad of ["", "abc", "0".repeat(64), "f".repeat(64), hex + "00", "nsec1qqqq"]) {
    const err = assertThrows(() => parseSecretKey(bad), SecretKeyFormatError);
    assert(!new RegExp(hex).test(err.message));
  }
});
