/**
 * A {@linkcode NodeSigner} whose key lives only in a Worker with no permissions (see
 * `identity/node_signer.ts` for why, and docs/ARCHITECTURE.md for what it costs per signature).
 *
 * @module
 */
import { getPublicKey } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { privateKeyToAddress } from "viem/accounts";
import { type NodeSigner, type NodeSignerRequest, signerFromRequests } from "./node_signer.ts";
import type { SignerWorkerMessage } from "./node_signer_worker.ts";

/** The signer's worker failed, or the signer was closed. */
export class NodeSignerError extends Error {
  /** `"NodeSignerError"`: explicit so it survives bundling and worker messages. */
  override name = "NodeSignerError";
}

/** Options for {@linkcode openWorkerNodeSigner}. */
export interface WorkerNodeSignerOptions {
  /**
   * Zero the caller's `secretKey` once the worker has its copy, so that the key is left in no
   * buffer of this thread. Default false (the caller may still need it).
   */
  wipe?: boolean;
  /** The worker's entry module; tests give one that also probes its own permissions. */
  entry?: URL;
  /** Lines the worker reports about itself (`{ t: "log", line }` messages). */
  onLog?: (line: string) => void;
}

/**
 * Starts a signer Worker with no permissions and hands it the key.
 *
 * @example
 * ```ts
 * const signer = await openWorkerNodeSigner(secretKey, { wipe: true });
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * signer.close();
 * ```
 * @throws {NodeSignerError} when the worker cannot start.
 */
export async function openWorkerNodeSigner(
  secretKey: Uint8Array,
  options: WorkerNodeSignerOptions = {},
): Promise<NodeSigner> {
  const pubkey = getPublicKey(secretKey);
  const evmAddress = privateKeyToAddress(`0x${bytesToHex(secretKey)}`);
  const worker = new Worker(options.entry ?? new URL("./node_signer_worker.ts", import.meta.url), {
    type: "module",
    deno: { permissions: "none" },
  } as WorkerOptions);
  const pending = new Map<number, PromiseWithResolvers<unknown>>();
  let failure: NodeSignerError | undefined;
  const fail = (error: NodeSignerError) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
    worker.terminate();
  };
  const ready = Promise.withResolvers<void>();
  worker.onmessage = (event: MessageEvent<SignerWorkerMessage>) => {
    const message = event.data;
    if (message.t === "ready") return ready.resolve();
    if (message.t === "log") return options.onLog?.(message.line);
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(Object.assign(new Error(message.error.message), message.error));
  };
  worker.onerror = (event) => {
    event.preventDefault();
    const error = new NodeSignerError(`the signer's worker failed: ${event.message}`);
    ready.reject(error);
    fail(error);
  };
  await ready.promise;
  const copy = secretKey.slice();
  worker.postMessage({ t: "key", secretKey: copy }, [copy.buffer]);
  if (options.wipe) secretKey.fill(0);
  let nextId = 0;
  const ask = (request: NodeSignerRequest): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    const waiter = Promise.withResolvers<unknown>();
    pending.set(id, waiter);
    worker.postMessage({ t: "ask", id, request });
    return waiter.promise;
  };
  return signerFromRequests({
    pubkey,
    evmAddress,
    ask,
    close: () => fail(new NodeSignerError("the signer is closed")),
  });
}
