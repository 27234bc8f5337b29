import { schnorr } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { loadNativeSchnorr } from "../../../protocol/native_schnorr.ts";
import { assert, assertEquals } from "../../../harness/assert.ts";

// `deno task setup` installs Debian's libsecp256k1-1 (tools/system_packages.ts); tests run with -A.
const native = loadNativeSchnorr();

Deno.test("native schnorr: the system's libsecp256k1 loads where FFI is allowed", () => {
  assert(native !== null, "libsecp256k1 not loaded: apt-get install libsecp256k1-1");
  assertEquals(loadNativeSchnorr(), native, "loaded once per thread");
});

Deno.test("native schnorr: agrees with @noble/curves on good, flipped and foreign signatures", () => {
  const a = schnorr.utils.randomSecretKey();
  const b = schnorr.utils.randomSecretKey();
  const pubA = bytesToHex(schnorr.getPublicKey(a));
  for (let i = 0; i < 50; i++) {
    const msg = crypto.getRandomValues(new Uint8Array(32));
    const sig = schnorr.sign(msg, a);
    assertEquals(native!.verify(sig, msg, pubA), true);
    const flipped = sig.slice();
    flipped[i % 64] ^= 1 << (i % 8);
    assertEquals(native!.verify(flipped, msg, pubA), false, `bit flipped in byte ${i % 64}`);
    // Another key's signature over the same message, under a's cached key.
    assertEquals(native!.verify(schnorr.sign(msg, b), msg, pubA), false);
  }
});

Deno.test("native schnorr: wrong lengths and a key off the curve are false, not a crash", () => {
  const key = schnorr.utils.randomSecretKey();
  const pub = bytesToHex(schnorr.getPublicKey(key));
  const msg = new Uint8Array(32).fill(1);
  const sig = schnorr.sign(msg, key);
  assertEquals(native!.verify(sig.subarray(0, 63), msg, pub), false);
  assertEquals(native!.verify(sig, msg.subarray(0, 31), pub), false);
  assertEquals(native!.verify(sig, msg, pub.slice(0, 62)), false);
  // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
  assertEquals(native!.verify(sig, msg, "00".repeat(31) + "05"), false);
  assertEquals(native!.verify(sig, msg, pub), true, "the good key still verifies");
});

Deno.test("native schnorr: off the thread (nonblocking FFI), the same answers as on it", async () => {
  const a = schnorr.utils.randomSecretKey();
  const pubA = bytesToHex(schnorr.getPublicKey(a));
  assert(native?.verifyOffThread, "the native verifier has its nonblocking binding");
  const cases = Array.from({ length: 64 }, (_, i) => {
    const msg = crypto.getRandomValues(new Uint8Array(32));
    const sig = schnorr.sign(msg, a);
    if (i % 2 === 1) sig[i % 64] ^= 1 << (i % 8);
    return { sig, msg, good: i % 2 === 0 };
  });
  // All at once: the calls run side by side on the pool's threads.
  const answers = await Promise.all(
    cases.map(({ sig, msg }) => native!.verifyOffThread!(sig, msg, pubA)),
  );
  assertEquals(answers, cases.map((c) => c.good));
  const { sig, msg } = cases[0];
  assertEquals(await native!.verifyOffThread!(sig.subarray(0, 63), msg, pubA), false);
  assertEquals(await native!.verifyOffThread!(sig, msg, "00".repeat(31) + "05"), false);
});
