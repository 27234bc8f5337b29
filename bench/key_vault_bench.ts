/**
 * Key vault and signing costs, each next to its obvious alternative:
 * - unlocking the vault (Argon2id m=64 MiB, t=1, p=4 + AES-256-GCM) vs PBKDF2-SHA256 at OWASP's
 *   600k iterations (WebCrypto) as the KDF one would otherwise reach for;
 * - signing one event: libsecp256k1 via nostr-wasm vs nostr-tools' pure-JS finalizeEvent.
 *
 * Run: `deno bench -A bench/key_vault_bench.ts`. ms/iter of "unlock" is the ms per unlock;
 * events/s of signing is 1000 / (ms/iter).
 *
 * @module
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { initNostrWasm } from "nostr-wasm";
import { openSecret, sealSecret } from "../identity/key_vault.ts";
import { createSigner } from "../stages/signer.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Chunk } from "../stages/chunks.ts";

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const sealed = await sealSecret(MNEMONIC, "bench passphrase");
const salt = crypto.getRandomValues(new Uint8Array(16));
const pbkdf2Base = await crypto.subtle.importKey(
  "raw",
  new TextEncoder().encode("bench passphrase"),
  "PBKDF2",
  false,
  ["deriveBits"],
);

Deno.bench(
  "unlock: Argon2id 64 MiB t=1 p=4 + AES-GCM",
  { group: "kdf", baseline: true },
  async () => {
    await openSecret(sealed, "bench passphrase");
  },
);

Deno.bench("alternative: PBKDF2-SHA256 600k iterations", { group: "kdf" }, async () => {
  await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: 600_000 },
    pbkdf2Base,
    256,
  );
});

const sk = generateSecretKey();
const nw = await initNostrWasm();
const template = () => ({
  kind: 5100,
  created_at: Math.floor(Date.now() / 1000),
  tags: [["i", "https://example.com/input", "url"], ["bid", "1000"], ["param", "lang", "en"]],
  content: "summarise this page in three sentences",
});

Deno.bench("sign 1 event: nostr-wasm (libsecp256k1)", { group: "sign", baseline: true }, () => {
  const e = { ...template(), id: "", pubkey: "", sig: "" };
  nw.finalizeEvent(e, sk);
});

Deno.bench("sign 1 event: nostr-tools pure JS", { group: "sign" }, () => {
  finalizeEvent(template(), sk);
});

const BATCH = 1000;
const chunks: Chunk[] = Array.from(
  { length: BATCH },
  () => ({ type: "template", template: template() }),
);

for (const engine of ["wasm", "js"] as const) {
  Deno.bench(`signer stage, ${BATCH} events, engine ${engine}`, { group: "stage" }, async () => {
    const s = ReadableStream.from(chunks).pipeThrough(
      createSigner({ secretKey: bytesToHex(sk), engine }),
    );
    for await (const _ of s) { /* drain */ }
  });
}
