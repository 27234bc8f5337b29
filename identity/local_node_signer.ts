/**
 * A {@linkcode NodeSigner} (`protocol/node_signer.ts`) over a request channel, and the signer
 * that answers those requests on the calling thread, for tests, benchmarks and embedders that
 * pass a node its key's bytes. The key operations themselves are in
 * `identity/signer_request_answer.ts` (loaded at the first request); `identity/worker_node_signer.ts`
 * runs the same code in a worker; the CLI uses only that one.
 *
 * @module
 */
import { IdentityError } from "./identity_error.ts";
import { schnorr } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { LocalAccount } from "viem/accounts";
import type { Hex, TypedDataDefinition } from "viem";
import { evmAddressOf } from "./evm_address.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import {
  type NodeSigner,
  NodeSignerError,
  type NodeSignerRequest,
} from "../protocol/node_signer.ts";

/** Options for {@linkcode signerFromRequests}. */
export interface SignerFromRequestsOptions {
  /** The Nostr public key the requests sign for. */
  pubkey: string;
  /** The EVM address the requests sign for. */
  evmAddress: Hex;
  /** Carries a request to where the key is and returns its answer. */
  ask: (request: NodeSignerRequest) => Promise<unknown>;
  /** Called by `close()`. */
  close?: () => void;
}

/**
 * A {@linkcode NodeSigner} over a request channel: the shape both the local and the worker
 * signer share, so that neither can drift from the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signerFromRequests } from "./local_node_signer.ts";
 * import { answerSignerRequest } from "./signer_request_answer.ts";
 * import { evmAddressOf } from "./evm_address.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
 *
 * const key = generateSecretKey();
 * const signer = signerFromRequests({
 *   pubkey: getPublicKey(key),
 *   evmAddress: evmAddressOf(key),
 *   ask: (r) => answerSignerRequest(key, r),
 * });
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * assert.equal(event.pubkey, signer.pubkey);
 * ```
 */
export function signerFromRequests(options: SignerFromRequestsOptions): NodeSigner {
  const { ask } = options;
  const close = options.close ?? (() => {});
  const evm = requestAccount({
    address: options.evmAddress,
    signMessage: async ({ message }) => await ask({ op: "signMessage", message }) as Hex,
    signTransaction: async (transaction) =>
      await ask({ op: "signTransaction", transaction: plainData(transaction) }) as Hex,
    signTypedData: async (typedData) =>
      await ask({
        op: "signTypedData",
        typedData: plainData(typedData as TypedDataDefinition),
      }) as Hex,
  });
  return {
    pubkey: options.pubkey,
    evmAddress: options.evmAddress,
    evm,
    signEvent: async (template) => await ask({ op: "signEvent", template }) as NostrEvent,
    conversationKey: async (peer) => await ask({ op: "conversationKey", peer }) as Uint8Array,
    nip04Decrypt: async (peer, content) =>
      await ask({ op: "nip04Decrypt", peer, content }) as string,
    derivedSecret: async (label) => await ask({ op: "derivedSecret", label }) as Uint8Array,
    worker: async (worker) => {
      const askAs = (request: NodeSignerRequest) => ask({ op: "asWorker", worker, request });
      const id = await askAs({ op: "identity" }) as { pubkey: string; evmAddress: Hex };
      return signerFromRequests({ ...id, ask: askAs });
    },
    close,
    [Symbol.dispose]: close,
  };
}

/**
 * The account viem's `toAccount` makes of custom signing functions (the same fields, checked
 * equal in tests/unit/identity/local_node_signer_account_test.ts), built here because importing
 * `viem/accounts` costs a node about 15 MiB it never uses (docs/OPERATIONS.md "Memory").
 */
function requestAccount(
  source: Pick<LocalAccount, "address" | "signMessage" | "signTransaction" | "signTypedData">,
): LocalAccount {
  if (!/^0x[0-9a-fA-F]{40}$/.test(source.address)) {
    throw new NodeSignerError(`not an EVM address: ${source.address}`);
  }
  return {
    address: source.address,
    nonceManager: undefined,
    sign: undefined,
    signAuthorization: undefined,
    signMessage: source.signMessage,
    signTransaction: source.signTransaction,
    signTypedData: source.signTypedData,
    source: "custom",
    type: "local",
  } as LocalAccount;
}

/**
 * What is signed, without what viem carries along (the `account` and `chain` objects, functions):
 * a request must cross a worker boundary, where only plain data can go.
 */
function plainData<T extends object>(value: T): T {
  return strip(value) as T;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => typeof v !== "function").map(strip);
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "account" || k === "chain" || typeof v === "function") continue;
    plain[k] = strip(v);
  }
  return plain;
}

/**
 * A signer that keeps `secretKey` on the calling thread. It keeps a reference to those bytes:
 * do not zero them while the signer is in use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localNodeSigner } from "./local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const signer = localNodeSigner(generateSecretKey());
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * assert.equal(event.pubkey, signer.pubkey);
 * ```
 */
export function localNodeSigner(secretKey: Uint8Array): NodeSigner {
  return signerFromRequests({
    pubkey: bytesToHex(schnorr.getPublicKey(secretKey)),
    evmAddress: evmAddressOf(secretKey),
    // Loaded at the first request: a node whose key is in a worker (the CLI's) never asks here,
    // and the signing code would cost its main thread a second nostr-wasm instance, nip04 and
    // nip44 (docs/OPERATIONS.md "Memory").
    ask: async (request) =>
      (await import("./signer_request_answer.ts")).answerSignerRequest(secretKey, request),
  });
}

/** The key of a node's options: a signer (the CLI's, in a worker), or the key's bytes. */
export interface NodeKeyOptions {
  /** Where the key is; takes precedence over `secretKey`. Whoever opened it closes it. */
  signer?: NodeSigner;
  /** The key's bytes, kept on this thread by a {@linkcode localNodeSigner}: for tests and embedders. */
  secretKey?: Uint8Array;
}

/** A node's options name no key. */
export class MissingNodeKeyError extends IdentityError {
  /** `"MissingNodeKeyError"`: explicit so it survives bundling and worker messages. */
  override name = "MissingNodeKeyError";
}

/**
 * The signer a node's options name: `signer` as given, else a local one over `secretKey`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeSignerOf } from "./local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * using signer = nodeSignerOf({ secretKey: generateSecretKey() });
 * assert.match(signer.evmAddress, /^0x[0-9a-fA-F]{40}$/); // the same key's EVM address
 * ```
 * @throws {MissingNodeKeyError} when neither is given.
 */
export function nodeSignerOf(options: NodeKeyOptions): NodeSigner {
  if (options.signer) return options.signer;
  if (options.secretKey) return localNodeSigner(options.secretKey);
  throw new MissingNodeKeyError("no key: give `signer` or `secretKey`");
}
