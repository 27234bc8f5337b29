/**
 * The one implementation of every key operation of a `NodeSigner` (protocol/node_signer.ts),
 * run on the calling thread by identity/local_node_signer.ts and inside the signing worker by
 * identity/node_signer_worker.ts. viem is imported on the first EVM signature only, so a worker
 * that signs Nostr events alone never loads it; NIP-44 at the first conversation key and NIP-04
 * at the first decryption likewise, so an idle town's worker holds neither (docs/OPERATIONS.md
 * "Memory").
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { LocalAccount } from "viem/accounts";
import { schnorr } from "@noble/curves/secp256k1.js";
import type { NodeSignerRequest, WorkerKeyRef } from "../protocol/node_signer.ts";
import { evmAddressOf } from "./evm_address.ts";
import { KeptKeyPairs } from "./kept_key_pairs.ts";
import { loadNativeEvmSigner } from "./native_evm_signer.ts";
import { typedBalanceProofDigest } from "../protocol/balance_proof_digest.ts";
import { deriveWorkerKey, WorkerAddressError } from "./worker_key.ts";
import { type EventSignerOptions, signEventTemplate } from "./event_signer.ts";

/**
 * Answers one {@linkcode NodeSignerRequest} with `secretKey`: the one implementation of every
 * key operation, run on the calling thread by `localNodeSigner` and inside the worker
 * by `identity/node_signer_worker.ts`. `options.pubkey`: the key's public key when the caller
 * knows it (see `EventSignerOptions`).
 *
 * @example
 * ```ts
 * import { generateSecretKey } from "nostr-tools";
 *
 * const secretKey = generateSecretKey();
 * const template = { kind: 1, created_at: 1, tags: [], content: "hi" };
 * const event = await answerSignerRequest(secretKey, { op: "signEvent", template });
 * ```
 */
export async function answerSignerRequest(
  secretKey: Uint8Array,
  request: NodeSignerRequest,
  options: EventSignerOptions = {},
): Promise<unknown> {
  switch (request.op) {
    case "signEvent":
      return signEventTemplate(request.template, secretKey, options);
    case "conversationKey":
      return (await conversationKey(secretKey, request.peer)).slice();
    case "nip04Decrypt":
      return await (await import("nostr-tools/nip04")).decrypt(
        secretKey,
        request.peer,
        request.content,
      );
    case "derivedSecret":
      return hmac(sha256, secretKey, new TextEncoder().encode(request.label));
    case "signTypedData":
      return await signTypedData(secretKey, request.typedData);
    case "signTransaction":
      return await (await evmAccount(secretKey)).signTransaction(request.transaction);
    case "signMessage":
      return await (await evmAccount(secretKey)).signMessage({ message: request.message });
    case "identity":
      return {
        pubkey: bytesToHex(schnorr.getPublicKey(secretKey)),
        evmAddress: evmAddressOf(secretKey),
      };
    case "asWorker":
      if (request.request.op === "asWorker") {
        throw new WorkerAddressError("a worker's key derives no other");
      }
      return await answerSignerRequest(workerKey(secretKey, request.worker), request.request);
  }
}

const accounts = new WeakMap<Uint8Array, LocalAccount>();

/** Conversation keys kept per key, the oldest dropped past this many peers. */
export const MAX_KEPT_CONVERSATION_KEYS = 4096;
/** Keys whose conversation keys are kept at once (past that, kept anew). */
const MAX_KEYS_KEPT = 256;
/** By the key object, while it holds the bytes they were made with: peer pubkey to key. */
const conversationKeys = new KeptKeyPairs<{ secret: Uint8Array; keys: Map<string, Uint8Array> }>(
  MAX_KEYS_KEPT,
);

/**
 * The NIP-44 conversation key with `peer`, kept: an elliptic-curve multiplication (about 1 ms
 * in JavaScript) the first time, a lookup after. A town answers each requester's SPSP requests,
 * a requester its town's answers and its providers' results: the same few peers again and again
 * (docs/SCALE.md "Conversation keys kept"). Kept on the thread that holds the key (the key's
 * worker, or a node's own thread), and forgotten if the key object's bytes change.
 */
async function conversationKey(secretKey: Uint8Array, peer: string): Promise<Uint8Array> {
  let kept = conversationKeys.get(secretKey);
  if (kept === undefined) {
    conversationKeys.keep(secretKey, kept = { secret: secretKey.slice(), keys: new Map() });
  }
  let key = kept.keys.get(peer);
  if (key === undefined) {
    key = (await import("nostr-tools/nip44")).v2.utils.getConversationKey(secretKey, peer);
    if (kept.keys.size >= MAX_KEPT_CONVERSATION_KEYS) {
      kept.keys.delete(kept.keys.keys().next().value!);
    }
    kept.keys.set(peer, key);
  }
  return key;
}
// Derived once per profile key, address and rotation: the same bytes each time, so that the
// EVM account cached above under them is found again.
const workerKeys = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

function workerKey(secretKey: Uint8Array, worker: WorkerKeyRef): Uint8Array {
  let keys = workerKeys.get(secretKey);
  if (keys === undefined) workerKeys.set(secretKey, keys = new Map());
  const id = `${worker.address}\n${worker.rotation}`;
  let key = keys.get(id);
  if (key === undefined) keys.set(id, key = deriveWorkerKey(secretKey, worker));
  return key;
}

/**
 * viem's signature of typed data: its hash (a claim's over its fixed layout,
 * protocol/balance_proof_digest.ts) signed by libsecp256k1 where this thread may use FFI (the
 * same bytes: identity/native_evm_signer.ts), by viem's account where it may not (the key's
 * worker).
 */
async function signTypedData(
  secretKey: Uint8Array,
  typedData: Extract<NodeSignerRequest, { op: "signTypedData" }>["typedData"],
): Promise<`0x${string}`> {
  const native = loadNativeEvmSigner();
  if (native === null) return await (await evmAccount(secretKey)).signTypedData(typedData);
  // A claim (the most signed) over its fixed layout; anything else by viem's encoder.
  let digest = typedBalanceProofDigest(typedData);
  if (digest === undefined) {
    const { hashTypedData, hexToBytes } = await import("viem");
    digest = hexToBytes(hashTypedData(typedData));
  }
  return native.signDigest(digest, secretKey);
}

async function evmAccount(secretKey: Uint8Array): Promise<LocalAccount> {
  let account = accounts.get(secretKey);
  if (account === undefined) {
    const { privateKeyToAccount } = await import("viem/accounts");
    account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
    accounts.set(secretKey, account);
  }
  return account;
}
