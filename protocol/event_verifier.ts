/**
 * Event id recomputation (NIP-01 serialization, SHA-256) and BIP-340 schnorr signature checks.
 *
 * The town verifies every paid write, so the fast path matters: `nostr-wasm` (libsecp256k1
 * compiled to WebAssembly, the verifier `nostr-tools/wasm` wraps) measured about 2x faster than
 * the pure-JS noble verifier here (see bench/kind_extractor_bench.ts). It is loaded once at
 * module start (the WebAssembly bytes are embedded in the package: no file or network access);
 * if it cannot load, the noble verifier is used.
 *
 * @module
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { initNostrWasm } from "nostr-wasm";
import type { NostrEvent } from "./nostr_event.ts";

/** An event that is not a valid Nostr event; `reason` is machine-readable. */
export class EventValidationError extends Error {
  /** `"EventValidationError"`: explicit so it survives bundling and worker messages. */
  override name = "EventValidationError";
  /** `bad-id`, `bad-sig`, `bad-shape:<field>`, `too-large`. */
  reason: string;
  /** The message is `reason`, then `: detail` when given. */
  constructor(reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.reason = reason;
  }
}

/** Which signature verifier is in use. */
export type VerifierBackend = "nostr-wasm" | "noble";

interface WasmVerifier {
  verifyEvent(event: NostrEvent): void;
}

let wasm: WasmVerifier | null = null;
try {
  wasm = await initNostrWasm() as unknown as WasmVerifier;
} catch {
  wasm = null; // fall back to noble below
}

/** The verifier backend this process uses. */
export const verifierBackend: VerifierBackend = wasm ? "nostr-wasm" : "noble";

const encoder = new TextEncoder();

/**
 * The NIP-01 id of an event: sha256 of `[0, pubkey, created_at, kind, tags, content]` as JSON.
 *
 * @example
 * ```ts
 * const id = computeEventId(event);
 * ```
 */
export function computeEventId(event: Omit<NostrEvent, "id" | "sig">): string {
  const serialized = JSON.stringify([
    0,
    event.pubkey,
    event.created_at,
    event.kind,
    event.tags,
    event.content,
  ]);
  return bytesToHex(sha256(encoder.encode(serialized)));
}

/** Options for {@linkcode verifyEvent}. */
export interface VerifyEventOptions {
  /** Force a backend (tests and benchmarks); default: the faster one that loaded. */
  backend?: VerifierBackend;
}

/**
 * Checks the id and the signature of a well-shaped event; throws {@linkcode EventValidationError}
 * with reason `bad-id` or `bad-sig`.
 *
 * @example
 * ```ts
 * verifyEvent(event); // throws EventValidationError unless id and sig are right
 * ```
 */
export function verifyEvent(event: NostrEvent, options: VerifyEventOptions = {}): void {
  const backend = options.backend ?? verifierBackend;
  if (backend === "nostr-wasm" && wasm) {
    try {
      wasm.verifyEvent(event);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new EventValidationError(message.startsWith("id") ? "bad-id" : "bad-sig", message);
    }
    return;
  }
  if (computeEventId(event) !== event.id) throw new EventValidationError("bad-id");
  let ok = false;
  try {
    ok = schnorr.verify(hexToBytes(event.sig), hexToBytes(event.id), hexToBytes(event.pubkey));
  } catch {
    ok = false; // a pubkey that is not on the curve
  }
  if (!ok) throw new EventValidationError("bad-sig");
}
