/**
 * What a node may ask of its key: one asynchronous interface for every use of the secret key
 * (event signatures, the NIP-44 and NIP-04 keys shared with a peer, EVM signatures for payment
 * channels and on-chain transactions). Code that needs the key takes a {@linkcode NodeSigner},
 * never the key's bytes.
 *
 * Why asynchronous: so that the key can live in a Worker with no permissions at all
 * (`identity/worker_node_signer.ts`), the way NIP-07 browser extensions and NIP-46 remote signers
 * keep it out of the page. The node's thread, which runs with every permission the CLI has, then
 * never holds it: a compromised dependency there can ask for signatures while the node runs, but
 * cannot take the key away. See docs/ARCHITECTURE.md for what it costs.
 *
 * The NIP-44 conversation key is handed out rather than the encryption itself because NIP-17 gift
 * wraps and NIP-90 encrypted params decrypt more than one payload per message with it; it opens
 * only the messages between this node and that one peer, and signs nothing.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import type { LocalAccount } from "viem/accounts";
import type { Hex, SignableMessage, TransactionSerializable, TypedDataDefinition } from "viem";
import type { EventTemplate, NostrEvent } from "./nostr_event.ts";

/** What a node may ask of its key. Disposable: `using signer = ...` closes it at scope end. */
export interface NodeSigner extends Disposable {
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
  /**
   * A 32-byte secret for `label` that only this key derives, the same at every start
   * (HMAC-SHA256 keyed with the secret key): e.g. the seed of the town's SPSP shared secrets.
   */
  derivedSecret(label: string): Promise<Uint8Array>;
  /**
   * The signer of a Gas Town worker's key, derived from this one where this one is
   * (identity/worker_key.ts, docs/PROTOCOL.md "Gas Town workers"); closing it closes nothing.
   */
  worker(ref: WorkerKeyRef): Promise<NodeSigner>;
  /** The EVM side: a viem account whose signatures are made where the key is. */
  readonly evm: LocalAccount;
  /** Lets the key go (a worker signer ends its worker). */
  close(): void;
}

/**
 * The signer cannot answer at all: its worker failed or it was closed. Not a verdict on the
 * request: code that turns a failed decryption into a refusal of the peer's message must let this
 * one through.
 */
export class NodeSignerError extends ProtocolError {
  /** `"NodeSignerError"`: explicit so it survives bundling and worker messages. */
  override name = "NodeSignerError";
}

/** A Gas Town worker's key: its address and how many times it was rotated (0 first). */
export interface WorkerKeyRef {
  /** `<rig>/polecats/<name>`, `<rig>/crew/<name>` or `mayor`. */
  address: string;
  /** 0 for the first key; `gt rotate` adds 1. */
  rotation: number;
}

/** One request a worker signer serves, as it crosses the worker boundary. */
export type NodeSignerRequest =
  | { op: "signEvent"; template: EventTemplate }
  | { op: "conversationKey"; peer: string }
  | { op: "nip04Decrypt"; peer: string; content: string }
  | { op: "derivedSecret"; label: string }
  | { op: "signTypedData"; typedData: TypedDataDefinition }
  | { op: "signTransaction"; transaction: TransactionSerializable }
  | { op: "signMessage"; message: SignableMessage }
  /** The key's public identity (`pubkey`, `evmAddress`). */
  | { op: "identity" }
  /** `request` answered with the key of the Gas Town worker `worker`, derived from this one. */
  | { op: "asWorker"; worker: WorkerKeyRef; request: NodeSignerRequest };
