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
      return (await import("nostr-tools/nip44")).v2.utils.getConversationKey(
        secretKey,
        request.peer,
      );
    case "nip04Decrypt":
      return await (await import("nostr-tools/nip04")).decrypt(
        secretKey,
        request.peer,
        request.content,
      );
    case "derivedSecret":
      return hmac(sha256, secretKey, new TextEncoder().encode(request.label));
    case "signTypedData":
      return await (await evmAccount(secretKey)).signTypedData(request.typedData);
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

async function evmAccount(secretKey: Uint8Array): Promise<LocalAccount> {
  let account = accounts.get(secretKey);
  if (account === undefined) {
    const { privateKeyToAccount } = await import("viem/accounts");
    account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
    accounts.set(secretKey, account);
  }
  return account;
}
