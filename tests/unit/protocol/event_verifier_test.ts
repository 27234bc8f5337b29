import { finalizeEvent, generateSecretKey } from "nostr-tools";
import {
  computeEventId,
  EventValidationError,
  loadEventVerifier,
  type VerifierBackend,
  verifierBackend,
  verifyEvent,
} from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { signFixtureEvent } from "../../../fixtures/generate.ts";
import { assertEquals } from "../../../harness/assert.ts";
import { runDenyingFfi } from "../../support/deny_ffi_script.ts";

const BACKENDS: VerifierBackend[] = ["libsecp256k1-native", "libsecp256k1", "nostr-wasm", "noble"];

function flipHex(hex: string, at: number): string {
  return hex.slice(0, at) + (hex[at] === "0" ? "1" : "0") + hex.slice(at + 1);
}

function reasonOf(event: NostrEvent, backend: VerifierBackend): string | null {
  try {
    verifyEvent(event, { backend });
    return null;
  } catch (err) {
    if (err instanceof EventValidationError) return err.reason;
    throw err;
  }
}

Deno.test("the system's libsecp256k1 verifies from the first event (FFI allowed, library installed)", () => {
  // The first test of this file: nothing has verified yet in this process. `deno task setup`
  // installs Debian's libsecp256k1-1 (tools/system_packages.ts).
  const good = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "native" }, 1);
  verifyEvent(good);
  assertEquals(verifierBackend(), "libsecp256k1-native");
  assertEquals(reasonOf({ ...good, content: "changed" }, verifierBackend()), "bad-id");
  assertEquals(reasonOf({ ...good, sig: flipHex(good.sig, 5) }, verifierBackend()), "bad-sig");
});

Deno.test("without FFI: noble verifies until the WebAssembly is loaded, which starts after 8 events", async () => {
  const script = `
    import { loadEventVerifier, verifierBackend, verifyEvent } from "${
    new URL("../../../protocol/event_verifier.ts", import.meta.url).href
  }";
    import { signFixtureEvent } from "${
    new URL("../../../fixtures/generate.ts", import.meta.url).href
  }";
    const seen = [verifierBackend()];
    const good = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "lazy" }, 1);
    for (let i = 0; i < 8; i++) verifyEvent(good);
    seen.push(verifierBackend());
    let refused = false;
    try { verifyEvent({ ...good, content: "changed" }); } catch { refused = true; }
    await loadEventVerifier();
    seen.push(verifierBackend(), String(refused));
    console.log(JSON.stringify(seen));
  `;
  const text = await runDenyingFfi(script);
  assertEquals(JSON.parse(text), ["noble", "noble", "libsecp256k1", "true"]);
});

Deno.test("the direct libsecp256k1 verifier loaded (WebAssembly captured, self-test passed)", async () => {
  await loadEventVerifier();
  // The WebAssembly's direct verifier answers when asked for (the native one is preferred).
  const good = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "wasm" }, 1);
  assertEquals(reasonOf(good, "libsecp256k1"), null);
  assertEquals(reasonOf({ ...good, sig: flipHex(good.sig, 5) }, "libsecp256k1"), "bad-sig");
});

Deno.test("every backend gives the same verdict on good and bad events", async () => {
  await loadEventVerifier();
  const good = signFixtureEvent({ kind: 1, created_at: 9, tags: [["t", "x"]], content: "v" }, 1);
  const other = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "w" }, 2);
  const cases: [string, NostrEvent, string | null][] = [
    ["good", good, null],
    ["content changed", { ...good, content: "changed" }, "bad-id"],
    ["id of another event", { ...good, id: other.id }, "bad-id"],
    ["id not hex", { ...good, id: "zz" + good.id.slice(2) }, "bad-id"],
    ["signature bit flipped", { ...good, sig: flipHex(good.sig, 127) }, "bad-sig"],
    ["signature of another event", { ...good, sig: other.sig }, "bad-sig"],
    ["signature not hex", { ...good, sig: "zz" + good.sig.slice(2) }, "bad-sig"],
  ];
  for (const [label, event, expected] of cases) {
    for (const backend of BACKENDS) {
      assertEquals(reasonOf(event, backend), expected, `${label} (${backend})`);
    }
  }
});

Deno.test("a signature of the wrong length is bad-sig (direct and noble)", async () => {
  await loadEventVerifier();
  // nostr-wasm's own verifyEvent copies the 63 bytes over its scratch buffer and checks the
  // last signature's 64th byte: it accepts this. Shapes are checked before verification
  // (toon_codec, bad-shape:sig), and the direct backend checks the length itself.
  const good = signFixtureEvent({ kind: 1, created_at: 9, tags: [], content: "v" }, 1);
  verifyEvent(good, { backend: "nostr-wasm" }); // leaves good.sig in the scratch buffer
  for (const backend of ["libsecp256k1-native", "libsecp256k1", "noble"] as const) {
    assertEquals(reasonOf({ ...good, sig: good.sig.slice(0, 126) }, backend), "bad-sig");
    assertEquals(reasonOf({ ...good, sig: good.sig + "00" }, backend), "bad-sig");
  }
});

Deno.test("a pubkey that is not on the curve or not 32 bytes is bad-sig", async () => {
  await loadEventVerifier();
  // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
  const offCurve = "00".repeat(31) + "05";
  const event = finalizeEvent(
    { kind: 1, created_at: 1, tags: [], content: "x" },
    generateSecretKey(),
  );
  for (const pubkey of [offCurve, event.pubkey.slice(0, 62)]) {
    // The id covers the pubkey: recompute it, so only the key is wrong.
    const forged = { ...event, pubkey } as NostrEvent;
    forged.id = computeEventId(forged);
    for (const backend of BACKENDS) {
      assertEquals(reasonOf(forged, backend), "bad-sig", `${pubkey} (${backend})`);
    }
  }
  // The good key still verifies after the bad ones were tried.
  for (const backend of BACKENDS) assertEquals(reasonOf(event as NostrEvent, backend), null);
});

Deno.test("cached keys: many events of one key, a bad signature between good ones, many keys", async () => {
  await loadEventVerifier();
  for (const direct of ["libsecp256k1-native", "libsecp256k1"] as const) {
    const sk = generateSecretKey();
    const events = Array.from(
      { length: 20 },
      (_, i) =>
        finalizeEvent({ kind: 1, created_at: i, tags: [], content: `e${i}` }, sk) as NostrEvent,
    );
    for (const [i, e] of events.entries()) {
      verifyEvent(e, { backend: direct });
      // The key's cached parse must not make a wrong signature under it pass.
      const bad = { ...e, sig: events[(i + 1) % events.length].sig };
      assertEquals(reasonOf(bad, direct), "bad-sig");
    }
    // More keys than the cache holds (it starts over): still right for every one.
    for (let i = 0; i < 1100; i += 1) {
      const key = generateSecretKey();
      const e = finalizeEvent(
        { kind: 1, created_at: i, tags: [], content: "k" },
        key,
      ) as NostrEvent;
      if (i % 100 === 0) {
        assertEquals(reasonOf({ ...e, sig: flipHex(e.sig, 3) }, direct), "bad-sig");
      }
      verifyEvent(e, { backend: direct });
    }
    verifyEvent(events[0], { backend: direct });
  }
});
