/**
 * The node's key behind one asynchronous interface: every use of the secret key (event
 * signatures, NIP-44 and NIP-04 keys with a peer, EVM signatures for payment channels and
 * on-chain transactions) goes through a {@linkcode NodeSigner}, never through the key's bytes.
 *
 * Why asynchronous: so that the key can live in a Worker that has no permissions at all
 * (`identity/worker_node_signer.ts`), the way NIP-07 browser extensions and NIP-46 remote signers
 * keep it out of the page. The node's thread, which runs with every permission the CLI has, then
 * never holds it; a compromised dependency there can ask for signatures while the node runs but
 * cannot take the key away. {@linkcode localNodeSigner} answers on the calling thread, for the
 * town (whose key signs at the rate of its writes, see docs/ARCHITECTURE.md) and for tests.
 *
 * The NIP-44 conversation key is handed out rather than the encryption itself because NIP-17 gift
 * wraps and NIP-90 encrypted params decrypt several payloads per message with it; it opens only
 * the messages between this node and that one peer, and signs nothing.
 *
 * @module
 */
import { getPublicKey, nip04, nip44 } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { type LocalAccount, privateKeyToAccount, toAccount } from "viem/accounts";
import type { Hex, SignableMessage, TransactionSerializable, TypedDataDefinition } from "viem";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { signEventTemplate } from "./event_signer.ts";

/** What a node may ask of its key. */
export interface NodeSigner {
  /** The Nostr public key (x-only, 64 hex digits). */
  readonly pubkey: string;
  /** The EVM address of the same secp256k1 key (checksummed). */
  readonly evmAddress: Hex;
  /** Sets `pubkey`, `id` and `sig` of a template (NIP-01, BIP-340). */
  signEvent(template: EventTemplate): Promise<NostrEvent>;
  /** The NIP-44 v2 conversation key between this key and `peerPubkey`. */
  conversationKey(peerPubkey: string): Promise<Uint8Array>;
  /** Decrypts legacy NIP-04 content from `peerPubkey`. */
  nip04Decrypt(peerPubkey: string, content: string): Promise<string>;
  /** The EVM side: a viem account whose signatures are made where the key is. */
  readonly evm: LocalAccount;
  /** Lets the key go (a worker signer ends its worker). */
  close(): void;
}

/** One request a worker signer serves, as it crosses the worker boundary. */
export type NodeSignerRequest =
  | { op: "signEvent"; template: EventTemplate }
  | { op: "conversationKey"; peer: string }
  | { op: "nip04Decrypt"; peer: string; content: string }
  | { op: "signTypedData"; typedData: TypedDataDefinition }
  | { op: "signTransaction"; transaction: TransactionSerializable }
  | { op: "signMessage"; message: SignableMessage };

/**
 * Answers one {@linkcode NodeSignerRequest} with `secretKey`: the one implementation of every
 * key operation, run on the calling thread by {@linkcode localNodeSigner} and inside the worker
 * by `identity/node_signer_worker.ts`.
 *
 * @example
 * ```ts
 * const event = await answerSignerRequest(secretKey, { op: "signEvent", template });
 * ```
 */
export async function answerSignerRequest(
  secretKey: Uint8Array,
  request: NodeSignerRequest,
): Promise<unknown> {
  switch (request.op) {
    case "signEvent":
      return signEventTemplate(request.template, secretKey);
    case "conversationKey":
      return nip44.v2.utils.getConversationKey(secretKey, request.peer);
    case "nip04Decrypt":
      return await nip04.decrypt(secretKey, request.peer, request.content);
    case "signTypedData":
      return await evmAccountOf(secretKey).signTypedData(request.typedData);
    case "signTransaction":
      return await evmAccountOf(secretKey).signTransaction(request.transaction);
    case "signMessage":
      return await evmAccountOf(secretKey).signMessage({ message: request.message });
  }
}

const accounts = new WeakMap<Uint8Array, LocalAccount>();

function evmAccountOf(secretKey: Uint8Array): LocalAccount {
  let account = accounts.get(secretKey);
  if (account === undefined) {
    account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
    accounts.set(secretKey, account);
  }
  return account;
}

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
 * const signer = signerFromRequests({ pubkey, evmAddress, ask: (r) => answerSignerRequest(key, r) });
 * ```
 */
export function signerFromRequests(options: SignerFromRequestsOptions): NodeSigner {
  const { ask } = options;
  const evm = toAccount({
    address: options.evmAddress,
    signMessage: async ({ message }) => await ask({ op: "signMessage", message }) as Hex,
    signTransaction: async (transaction) =>
      await ask({ op: "signTransaction", transaction }) as Hex,
    signTypedData: async (typedData) =>
      await ask({ op: "signTypedData", typedData: typedData as TypedDataDefinition }) as Hex,
  });
  return {
    pubkey: options.pubkey,
    evmAddress: options.evmAddress,
    evm,
    signEvent: async (template) => await ask({ op: "signEvent", template }) as NostrEvent,
    conversationKey: async (peer) => await ask({ op: "conversationKey", peer }) as Uint8Array,
    nip04Decrypt: async (peer, content) =>
      await ask({ op: "nip04Decrypt", peer, content }) as string,
    close: options.close ?? (() => {}),
  };
}

/**
 * A signer that keeps `secretKey` on the calling thread.
 *
 * @example
 * ```ts
 * const signer = localNodeSigner(secretKey);
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * ```
 */
export function localNodeSigner(secretKey: Uint8Array): NodeSigner {
  return signerFromRequests({
    pubkey: getPublicKey(secretKey),
    evmAddress: evmAccountOf(secretKey).address,
    ask: (request) => answerSignerRequest(secretKey, request),
  });
}
