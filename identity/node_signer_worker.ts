/**
 * The entry module of a worker signer's Worker (see `identity/worker_node_signer.ts`): takes its
 * key from its first message (the key's bytes, a port the wallet's unlocking worker sends them on,
 * the key sealed to this worker by the wallet's unlocking process, or a throwaway key to make
 * here) and answers signing requests with it. The Worker is started with no permissions: no file,
 * network, environment or subprocess.
 *
 * A wallet is unlocked in a process of its own (identity/wallet_unlock_process.ts), which seals
 * the key to an X25519 key this worker made (identity/sealed_key.ts), or where the node may not
 * start one in a worker of its own (identity/wallet_unlock_worker.ts), ended once the key is here:
 * Argon2id's WebAssembly memory and the wallet code would otherwise stay in this isolate. A throwaway key and an unlocked wallet's are named with @noble/curves, the copy
 * identity/evm_address.ts already loads here, not with nostr-tools/pure: that would load
 * nostr-tools' own copy of @noble/curves into this isolate too (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { NodeSignerRequest } from "../protocol/node_signer.ts";
import { answerSignerRequest } from "./signer_request_answer.ts";
import { evmAddressOfPublicKey } from "./evm_address.ts";
import { inWorker, serveWorker } from "../transport/worker_service.ts";
import { StartGarbageCollection } from "../transport/start_garbage_collection.ts";
import type { WalletRecord } from "./wallet_file.ts";
import { type KeyRecipient, newKeyRecipient, type SealedKey } from "./sealed_key.ts";

/** Where a worker signer's key comes from (`openWorkerNodeSigner`). */
export type WorkerKeySource =
  /** The key's bytes, transferred (the sender's copy is detached). */
  | { secretKey: Uint8Array }
  /**
   * A wallet to unlock in a worker: the key is never in the caller's thread (it goes from the
   * unlocking worker to the signer's on a `MessagePort`).
   */
  | { wallet: WalletRecord; passphrase: string }
  /** A throwaway key made in the worker (`--generate-key`). */
  | { generate: true };

/** Where the signer's worker itself takes its key from. */
export type SignerKeySource =
  /** The key's bytes, transferred. */
  | { secretKey: Uint8Array }
  /** The port the wallet's unlocking worker sends the key's bytes on. */
  | { port: MessagePort }
  /**
   * The key sealed to this worker's `recipient` key by the wallet's unlocking process
   * (identity/wallet_unlock_process.ts): the caller's thread carried it and cannot open it.
   */
  | { sealed: SealedKey }
  /** A throwaway key to make here. */
  | { generate: true };

/** A request to the signer's worker: its key first, then requests answered under their id. */
export type SignerWorkerRequest =
  /** Where the key comes from; answered with the public identity. */
  | { t: "key"; source: SignerKeySource }
  /**
   * Makes an X25519 key pair for a sealed key (`source: { sealed }`) and answers its public key
   * (32 bytes); the private half stays in this isolate, not exportable.
   */
  | { t: "recipient" }
  /** One signing request. */
  | { t: "ask"; request: NodeSignerRequest }
  /**
   * Posts the key's bytes on `port` for the next worker and forgets them: this worker is about to
   * be stopped (identity/signer_worker_idle_stop.ts).
   */
  | { t: "park"; port: MessagePort };

/** The answer to a `key` request. */
export interface SignerKeyed {
  pubkey: string;
  evmAddress: `0x${string}`;
}

let secretKey: Uint8Array | undefined;
let publicKey: string | undefined;
let recipient: KeyRecipient | undefined;

// No precomputed table for the base point in this isolate: @noble/curves would build one (2,080
// points, ~100 ms) at its first multiplication, for a worker that multiplies the base point a
// few times only, before nostr-wasm signs (docs/OPERATIONS.md "Memory"). The multiplication
// stays constant-time and blinded without it.
secp256k1.Point.BASE.precompute(1);

// The key checks (nip06_key.ts, with nostr-tools) are loaded only for a key given from outside: a
// throwaway key (`--generate-key`) and a wallet's, which the unlocking worker checked against the
// wallet's pubkey, need none (docs/OPERATIONS.md "Memory").
async function keyOf(source: SignerKeySource): Promise<Uint8Array> {
  if ("secretKey" in source) return source.secretKey;
  if ("port" in source) return await keyFromPort(source.port);
  if ("sealed" in source) return await keyFromSealed(source.sealed);
  return schnorr.utils.randomSecretKey();
}

async function keyFromSealed(sealed: SealedKey): Promise<Uint8Array> {
  if (!recipient) throw new Error("no recipient key was made for the sealed key");
  const key = await recipient.open(sealed);
  recipient = undefined; // one key, once
  if (!secp256k1.utils.isValidSecretKey(key)) {
    throw new Error("the wallet's process sent no valid key");
  }
  return key;
}

function keyFromPort(port: MessagePort): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    port.onmessage = (event: MessageEvent<{ secretKey?: unknown }>) => {
      port.close();
      const key = event.data?.secretKey;
      if (key instanceof Uint8Array && secp256k1.utils.isValidSecretKey(key)) resolve(key);
      else reject(new Error("the wallet's worker sent no valid key"));
    };
  });
}

async function identityOf(source: SignerKeySource, key: Uint8Array): Promise<SignerKeyed> {
  if ("secretKey" in source) {
    const { pubkey, evmAddress } = (await import("./nip06_key.ts")).publicIdentity(key);
    return { pubkey, evmAddress };
  }
  // One multiplication names the key twice: the x-only pubkey is the point's x.
  const point = secp256k1.getPublicKey(key, false);
  return { pubkey: bytesToHex(point.subarray(1, 33)), evmAddress: evmAddressOfPublicKey(point) };
}

// The key's first multiplications leave this isolate's young generation grown with their garbage
// until V8's memory reducer runs; collected once the start's signatures are done instead.
const afterStart = new StartGarbageCollection({ quietMs: 1000 });

async function answer(message: SignerWorkerRequest): Promise<unknown> {
  afterStart.touch();
  if (message.t === "recipient") {
    recipient = await newKeyRecipient();
    return recipient.publicKey;
  }
  if (message.t === "key") {
    const key = await keyOf(message.source);
    const identity = await identityOf(message.source, key);
    secretKey = key;
    publicKey = identity.pubkey;
    return identity;
  }
  if (secretKey === undefined) throw new Error("the signer has no key yet");
  if (message.t === "park") {
    message.port.postMessage({ secretKey });
    message.port.close();
    secretKey = undefined;
    return true;
  }
  return await answerSignerRequest(secretKey, message.request, { pubkey: publicKey });
}

// "ready" is said once the module graph (nostr-wasm's top-level await included) is evaluated.
if (inWorker()) serveWorker({ onRequest: answer });
