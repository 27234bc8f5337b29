import { assert, assertEquals, assertNotEquals } from "../../../harness/assert.ts";
import { getPublicKey, verifyEvent } from "nostr-tools/pure";
import { hexToBytes } from "@noble/hashes/utils.js";
import { eventSignerEngine, signEventTemplate } from "../../../identity/event_signer.ts";
import { loadNativeEventSigner } from "../../../identity/native_event_signer.ts";
import { loadWasmEventSigner } from "../../../identity/wasm_event_signer.ts";
import { runDenyingFfi } from "../../support/deny_ffi_script.ts";

// NIP-06 vector 1.
const SK = hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a");

// nostr-tools marks an event it verified (a symbol property), so each check gets a fresh copy.
const plain = <T>(event: T): T => JSON.parse(JSON.stringify(event));

function template(n: number) {
  return {
    kind: 1,
    created_at: 1_700_000_000 + n,
    tags: [["p", "x"], ["t", `tag ${n}`]],
    content: `event ${n} with "quotes" and ünïcödé\nnewline`,
  };
}

Deno.test("with FFI, the system's libsecp256k1 signs from the first signature (library installed)", () => {
  // `deno task setup` installs Debian's libsecp256k1-1 (tools/system_packages.ts).
  assertEquals(eventSignerEngine(), "native");
  const first = signEventTemplate(template(0), SK);
  assertEquals(first.pubkey, getPublicKey(SK));
  assert(verifyEvent(plain(first)), "the native signature verifies");
  // Fresh auxiliary randomness each time: two signatures of one template differ, both valid.
  const again = signEventTemplate(template(0), SK);
  assertNotEquals(again.sig, first.sig);
  assert(verifyEvent(plain(again)));
  // A broken signature does not verify: the checks above can fail.
  assert(!verifyEvent({ ...plain(first), content: "changed" }));
});

for (const engine of ["native", "wasm"] as const) {
  Deno.test(`the ${engine} signer's kept key pair follows the key's bytes, not the object`, async () => {
    const signer = engine === "native" ? loadNativeEventSigner()! : (await loadWasmEventSigner())!;
    if (engine === "wasm") assertEquals((signer as { mode: string }).mode, "direct");
    const key = SK.slice();
    const before = signer.sign(template(1), key);
    assertEquals(before.pubkey, getPublicKey(SK));
    // The same object with other bytes (a caller reusing its buffer) signs as the new key.
    key.set(hexToBytes("c15d739894c81a2fcfd3a2df85a0d2c0dbc47a280d092799f144d73d7ae78add"));
    const after = signer.sign(template(2), key);
    assertEquals(after.pubkey, getPublicKey(key));
    assertNotEquals(after.pubkey, before.pubkey);
    assert(verifyEvent(plain(after)));
    // Many keys in turn, each signature valid under its own key.
    const keys = Array.from({ length: 5 }, (_, i) => hexToBytes(String(i + 1).repeat(64)));
    for (let round = 0; round < 2; round++) {
      for (const k of keys) {
        const event = signer.sign(template(round), k);
        assertEquals(event.pubkey, getPublicKey(k));
        assert(verifyEvent(plain(event)));
      }
    }
  });
}

Deno.test("without FFI: @noble/curves first, then nostr-wasm's module called directly, all valid", async () => {
  // The key's worker has no permissions: what it runs, in a process denied FFI.
  const script = `
    import { getPublicKey, verifyEvent } from "nostr-tools/pure";
    import { hexToBytes } from "@noble/hashes/utils.js";
    import { eventSignerEngine, loadEventSigner, signEventTemplate } from "${
    new URL("../../../identity/event_signer.ts", import.meta.url).href
  }";
    import { loadWasmEventSigner } from "${
    new URL("../../../identity/wasm_event_signer.ts", import.meta.url).href
  }";
    const SK = hexToBytes("${"7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"}");
    const seen = [eventSignerEngine()];
    const t = (n) => ({ kind: 1, created_at: n, tags: [["t", "x"]], content: "é " + n });
    const ok = (e) => e.pubkey === getPublicKey(SK) && verifyEvent(JSON.parse(JSON.stringify(e)));
    const early = [];
    for (let n = 0; n < 8; n++) early.push(ok(signEventTemplate(t(n), SK)));
    seen.push(eventSignerEngine(), early.every(Boolean));
    seen.push(ok(signEventTemplate(t(8), SK)));
    await loadEventSigner();
    seen.push(eventSignerEngine(), ok(signEventTemplate(t(9), SK)));
    seen.push((await loadWasmEventSigner()).mode);
    console.log(JSON.stringify(seen));
  `;
  const seen = JSON.parse(await runDenyingFfi(script));
  assertEquals(seen, ["noble", "noble", true, true, "nostr-wasm", true, "direct"]);
});

Deno.test("signEventTemplate leaves the template unchanged", () => {
  const t = template(1);
  const copy = structuredClone(t);
  signEventTemplate(t, SK);
  assertEquals(t, copy);
});
