/**
 * A {@linkcode NodeSigner} whose key lives only in a Worker with no permissions (see
 * `protocol/node_signer.ts` for why, and docs/ARCHITECTURE.md for what it costs per signature).
 * Given a wallet and its passphrase, the worker unlocks it itself: the key is then never in the
 * caller's thread at all.
 *
 * @module
 */
import {
  type NodeSigner,
  NodeSignerError,
  type NodeSignerRequest,
} from "../protocol/node_signer.ts";
import { signerFromRequests } from "./local_node_signer.ts";
import { CorruptVaultError, WrongPassphraseError } from "./key_vault.ts";
import type {
  SignerErrorData,
  SignerWorkerMessage,
  WorkerKeySource,
} from "./node_signer_worker.ts";

export type { WorkerKeySource } from "./node_signer_worker.ts";

export { NodeSignerError } from "../protocol/node_signer.ts";

/** Options for {@linkcode openWorkerNodeSigner}. */
export interface WorkerNodeSignerOptions {
  /**
   * With `{ secretKey }`: zero the caller's bytes once the worker has its copy, so that the key
   * is left in no buffer of this thread. Default false (the caller may still need it).
   */
  wipe?: boolean;
  /** The worker's entry module; tests give one that also probes its own permissions. */
  entry?: URL;
  /** Lines the worker reports about itself (`{ t: "log", line }` messages). */
  onLog?: (line: string) => void;
  /**
   * Told once if the worker fails after the signer is open (every request fails from then on):
   * a node cannot work without its key, so a long-running command stops on it.
   */
  onFailure?: (error: NodeSignerError) => void;
}

// The errors getting a key can end in, revived as themselves so callers can catch them by class.
const KEY_ERRORS: Record<string, new (message: string) => Error> = {
  WrongPassphraseError,
  CorruptVaultError,
};

function revive(error: SignerErrorData): Error {
  const Known = KEY_ERRORS[error.name];
  if (Known) return new Known(error.message);
  return Object.assign(new Error(error.message), { name: error.name });
}

/**
 * Starts a signer Worker with no permissions and gives it its key: the key's bytes, a wallet to
 * unlock there, or a throwaway key to make there.
 *
 * @example
 * ```ts
 * const signer = await openWorkerNodeSigner({ wallet: record, passphrase });
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * signer.close();
 * ```
 * @throws {WrongPassphraseError} when the wallet's passphrase is wrong.
 * @throws {CorruptVaultError} when the wallet cannot be opened.
 * @throws {NodeSignerError} when the worker cannot start.
 */
export async function openWorkerNodeSigner(
  source: WorkerKeySource,
  options: WorkerNodeSignerOptions = {},
): Promise<NodeSigner> {
  const worker = new Worker(options.entry ?? new URL("./node_signer_worker.ts", import.meta.url), {
    type: "module",
    deno: { permissions: "none" },
  } as WorkerOptions);
  const pending = new Map<number, PromiseWithResolvers<unknown>>();
  const loaded = Promise.withResolvers<void>();
  const keyed = Promise.withResolvers<{ pubkey: string; evmAddress: `0x${string}` }>();
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const p of [loaded, keyed, ...pending.values()]) p.reject(failure);
    pending.clear();
    worker.terminate();
  };
  worker.onmessage = (event: MessageEvent<SignerWorkerMessage>) => {
    const message = event.data;
    switch (message.t) {
      case "ready":
        return loaded.resolve();
      case "keyed":
        return keyed.resolve(message);
      case "key-failed":
        return fail(revive(message.error));
      case "log":
        return options.onLog?.(message.line);
      case "answer": {
        const waiter = pending.get(message.id);
        if (waiter === undefined) return;
        pending.delete(message.id);
        if (message.ok) waiter.resolve(message.value);
        else waiter.reject(revive(message.error));
      }
    }
  };
  let open = false;
  worker.onerror = (event) => {
    event.preventDefault();
    const error = new NodeSignerError(`the signer's worker failed: ${event.message}`);
    const first = failure === undefined;
    fail(error);
    if (first && open) options.onFailure?.(error);
  };
  keyed.promise.catch(() => {}); // rejected with `loaded` when the worker cannot start
  await loaded.promise;
  if ("secretKey" in source) {
    const copy = source.secretKey.slice();
    worker.postMessage({ t: "key", source: { secretKey: copy } }, [copy.buffer]);
    if (options.wipe) source.secretKey.fill(0);
  } else {
    worker.postMessage({ t: "key", source });
  }
  const { pubkey, evmAddress } = await keyed.promise;
  open = true;
  // Requests already asked are answered before the worker ends; later ones are refused.
  let closing = false;
  const endIfIdle = () => {
    if (closing && pending.size === 0) fail(new NodeSignerError("the signer is closed"));
  };
  let nextId = 0;
  const ask = (request: NodeSignerRequest): Promise<unknown> => {
    if (closing) return Promise.reject(new NodeSignerError("the signer is closed"));
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    const waiter = Promise.withResolvers<unknown>();
    pending.set(id, waiter);
    try {
      worker.postMessage({ t: "ask", id, request });
    } catch (err) {
      // Not cloneable: never asked, so nothing will answer it (and `close` must not wait for it).
      pending.delete(id);
      return Promise.reject(err);
    }
    return waiter.promise.finally(endIfIdle);
  };
  return signerFromRequests({
    pubkey,
    evmAddress,
    ask,
    close: () => {
      closing = true;
      endIfIdle();
    },
  });
}
