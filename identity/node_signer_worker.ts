/**
 * The entry module of a worker signer's Worker (see `identity/worker_node_signer.ts`): takes its
 * key from its first message (the key's bytes, or a wallet record and passphrase to unlock here,
 * or a throwaway key to make here) and answers signing requests with it. The Worker is started
 * with no permissions: no file, network, environment or subprocess.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import type { NodeSignerRequest } from "../protocol/node_signer.ts";
import { answerSignerRequest } from "./signer_request_answer.ts";
import { publicIdentity } from "./nip06_key.ts";
import { unlockWallet } from "./wallet.ts";
import type { WalletRecord } from "./wallet_file.ts";

/** Where the worker's key comes from. */
export type WorkerKeySource =
  /** The key's bytes, transferred (the sender's copy is detached). */
  | { secretKey: Uint8Array }
  /** A wallet to unlock in the worker: the key is never in the caller's thread. */
  | { wallet: WalletRecord; passphrase: string }
  /** A throwaway key made in the worker (`--generate-key`). */
  | { generate: true };

/** The first message: where the key comes from. */
export interface SignerKeyMessage {
  t: "key";
  source: WorkerKeySource;
}

/** Every later message: one request, answered under the same `id`. */
export interface SignerAskMessage {
  t: "ask";
  id: number;
  request: NodeSignerRequest;
}

/** A failure carried across the boundary with its name, so callers can tell errors apart. */
export interface SignerErrorData {
  name: string;
  message: string;
}

/** Everything the worker posts. */
export type SignerWorkerMessage =
  /** Loaded; waiting for its key. */
  | { t: "ready" }
  /** Has its key. */
  | { t: "keyed"; pubkey: string; evmAddress: `0x${string}` }
  /** Could not get its key (a wrong passphrase, a corrupt wallet). */
  | { t: "key-failed"; error: SignerErrorData }
  | { t: "answer"; id: number; ok: true; value: unknown }
  | { t: "answer"; id: number; ok: false; error: SignerErrorData }
  /** A line about itself (tests probe the worker's permissions this way). */
  | { t: "log"; line: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<SignerKeyMessage | SignerAskMessage>) => void) | null;
  postMessage(message: SignerWorkerMessage): void;
}

const scope = globalThis as unknown as WorkerScope;
let secretKey: Uint8Array | undefined;

function errorData(err: unknown): SignerErrorData {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

async function keyOf(source: WorkerKeySource): Promise<Uint8Array> {
  if ("secretKey" in source) return source.secretKey;
  if ("wallet" in source) return (await unlockWallet(source.wallet, source.passphrase)).secretKey;
  return generateSecretKey();
}

scope.onmessage = async (event) => {
  const message = event.data;
  if (message.t === "key") {
    try {
      secretKey = await keyOf(message.source);
      const { pubkey, evmAddress } = publicIdentity(secretKey);
      scope.postMessage({ t: "keyed", pubkey, evmAddress });
    } catch (err) {
      scope.postMessage({ t: "key-failed", error: errorData(err) });
    }
    return;
  }
  if (secretKey === undefined) return;
  try {
    const value = await answerSignerRequest(secretKey, message.request);
    scope.postMessage({ t: "answer", id: message.id, ok: true, value });
  } catch (err) {
    scope.postMessage({ t: "answer", id: message.id, ok: false, error: errorData(err) });
  }
};
// Sent once the module graph (nostr-wasm's top-level await included) is evaluated: a message
// posted to a worker still evaluating is dropped, see pipeline/stage_worker_host.ts.
scope.postMessage({ t: "ready" });
