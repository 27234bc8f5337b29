/**
 * The entry module of a worker signer's Worker (see `identity/worker_node_signer.ts`): takes its
 * key from its first message (the key's bytes, or a wallet record and passphrase to unlock here,
 * or a throwaway key to make here) and answers signing requests with it. The Worker is started
 * with no permissions: no file, network, environment or subprocess.
 *
 * A throwaway key is made and named with @noble/curves, the copy identity/evm_address.ts already
 * loads here, not with nostr-tools/pure: that would load nostr-tools' own copy of @noble/curves
 * into this isolate too (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { schnorr, secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { NodeSignerRequest } from "../protocol/node_signer.ts";
import { answerSignerRequest } from "./signer_request_answer.ts";
import { evmAddressOfPublicKey } from "./evm_address.ts";
import { inWorker, serveWorker } from "../transport/worker_service.ts";
import type { WalletRecord } from "./wallet_file.ts";

/** Where the worker's key comes from. */
export type WorkerKeySource =
  /** The key's bytes, transferred (the sender's copy is detached). */
  | { secretKey: Uint8Array }
  /** A wallet to unlock in the worker: the key is never in the caller's thread. */
  | { wallet: WalletRecord; passphrase: string }
  /** A throwaway key made in the worker (`--generate-key`). */
  | { generate: true };

/** A request to the signer's worker: its key first, then requests answered under their id. */
export type SignerWorkerRequest =
  /** Where the key comes from; answered with the public identity. */
  | { t: "key"; source: WorkerKeySource }
  /** One signing request. */
  | { t: "ask"; request: NodeSignerRequest };

/** The answer to a `key` request. */
export interface SignerKeyed {
  pubkey: string;
  evmAddress: `0x${string}`;
}

let secretKey: Uint8Array | undefined;
let publicKey: string | undefined;

// No precomputed table for the base point in this isolate: @noble/curves would build one (2,080
// points, ~100 ms) at its first multiplication, for a worker that multiplies the base point a
// few times only, before nostr-wasm signs (docs/OPERATIONS.md "Memory"). The multiplication
// stays constant-time and blinded without it.
secp256k1.Point.BASE.precompute(1);

// The wallet code (Argon2id, BIP-39/32) is loaded only to unlock a wallet, and the key checks
// only for a key given from outside: a throwaway key (`--generate-key`) needs neither
// (docs/OPERATIONS.md "Memory").
async function keyOf(source: WorkerKeySource): Promise<Uint8Array> {
  if ("secretKey" in source) return source.secretKey;
  if ("wallet" in source) {
    const { unlockWallet } = await import("./wallet.ts");
    return (await unlockWallet(source.wallet, source.passphrase)).secretKey;
  }
  return schnorr.utils.randomSecretKey();
}

async function identityOf(source: WorkerKeySource, key: Uint8Array): Promise<SignerKeyed> {
  if ("generate" in source) {
    // One multiplication names the key twice: the x-only pubkey is the point's x.
    const point = secp256k1.getPublicKey(key, false);
    return { pubkey: bytesToHex(point.subarray(1, 33)), evmAddress: evmAddressOfPublicKey(point) };
  }
  const { pubkey, evmAddress } = (await import("./nip06_key.ts")).publicIdentity(key);
  return { pubkey, evmAddress };
}

async function answer(message: SignerWorkerRequest): Promise<unknown> {
  if (message.t === "key") {
    const key = await keyOf(message.source);
    const identity = await identityOf(message.source, key);
    secretKey = key;
    publicKey = identity.pubkey;
    return identity;
  }
  if (secretKey === undefined) throw new Error("the signer has no key yet");
  return await answerSignerRequest(secretKey, message.request, { pubkey: publicKey });
}

// "ready" is said once the module graph (nostr-wasm's top-level await included) is evaluated.
if (inWorker()) serveWorker({ onRequest: answer });
