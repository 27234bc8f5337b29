/**
 * The entry module of a worker signer's Worker (see `identity/worker_node_signer.ts`): holds the
 * key it is given in its first message and answers signing requests with it. The Worker is
 * started with no permissions: no file, network, environment or subprocess.
 *
 * @module
 */
import { answerSignerRequest, type NodeSignerRequest } from "./node_signer.ts";

/** The first message: the key, transferred (the sender's copy is detached). */
export interface SignerKeyMessage {
  t: "key";
  secretKey: Uint8Array;
}

/** Every later message: one request, answered under the same `id`. */
export interface SignerAskMessage {
  t: "ask";
  id: number;
  request: NodeSignerRequest;
}

/** The worker's answer to one request. */
export type SignerAnswerMessage =
  | { t: "answer"; id: number; ok: true; value: unknown }
  | { t: "answer"; id: number; ok: false; error: { name: string; message: string } };

/** Everything the worker posts: answers, `ready` once loaded, and `log` lines about itself. */
export type SignerWorkerMessage = SignerAnswerMessage | { t: "ready" } | { t: "log"; line: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<SignerKeyMessage | SignerAskMessage>) => void) | null;
  postMessage(message: SignerWorkerMessage): void;
}

const scope = globalThis as unknown as WorkerScope;
let secretKey: Uint8Array | undefined;

scope.onmessage = async (event) => {
  const message = event.data;
  if (message.t === "key") {
    secretKey = message.secretKey;
    return;
  }
  if (secretKey === undefined) return;
  try {
    const value = await answerSignerRequest(secretKey, message.request);
    scope.postMessage({ t: "answer", id: message.id, ok: true, value });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    scope.postMessage({
      t: "answer",
      id: message.id,
      ok: false,
      error: { name: e.name, message: e.message },
    });
  }
};
// Sent once the module graph (nostr-wasm's top-level await included) is evaluated: a message
// posted to a worker still evaluating is dropped, see pipeline/stage_worker_host.ts.
scope.postMessage({ t: "ready" });
