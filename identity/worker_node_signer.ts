/**
 * A {@linkcode NodeSigner} whose key lives only in a Worker with no permissions (see
 * `protocol/node_signer.ts` for why, and docs/ARCHITECTURE.md for what it costs per signature).
 * Given a wallet and its passphrase, a `deno run` process with no permissions unlocks it
 * (identity/wallet_unlock_process.ts) and sends the key back sealed to an X25519 key the signer's
 * worker made, so that the caller's thread carries a box it cannot open; where this process may
 * not start Deno, a second Worker with no permissions unlocks it (identity/wallet_unlock_worker.ts)
 * and sends the key straight to the signer's on a `MessagePort`, then ends. Either way the key is
 * never in the caller's thread, and the unlocking's memory (Argon2id's 64 MiB) does not stay with
 * the signer (docs/OPERATIONS.md "Memory"); the process keeps Argon2id's WebAssembly out of this
 * process altogether (docs/SCALE.md "An idle town's memory").
 *
 * @module
 */
import {
  type NodeSigner,
  NodeSignerError,
  type NodeSignerRequest,
} from "../protocol/node_signer.ts";
import { WorkerCrashedError, WorkerHost } from "../transport/worker_host.ts";
import { signerFromRequests } from "./local_node_signer.ts";
import { IdleStoppingSignerWorker } from "./signer_worker_idle_stop.ts";
import { CorruptVaultError, WrongPassphraseError } from "./vault_errors.ts";
import type { SignerKeyed, SignerWorkerRequest, WorkerKeySource } from "./node_signer_worker.ts";
import type { WalletUnlocked, WalletUnlockRequest } from "./wallet_unlock_worker.ts";

// A wallet's unlock by a process of its own: named by URL and imported with a wallet only, so a
// node on a throwaway key or key bytes does not evaluate it (docs/SCALE.md "An idle town's
// memory"; as cli/lazy_import.ts).
const WALLET_UNLOCK_PROCESS = new URL("./wallet_unlock_process.ts", import.meta.url);
type WalletUnlockProcess = typeof import("./wallet_unlock_process.ts");

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
  /** Lines the worker reports about itself (string `event` messages). */
  onLog?: (line: string) => void;
  /**
   * Told once if the worker fails after the signer is open (every request fails from then on):
   * a node cannot work without its key, so a long-running command stops on it.
   */
  onFailure?: (error: NodeSignerError) => void;
  /**
   * Stops the worker after this many milliseconds without a request and starts it again at the
   * next one, its key kept meanwhile in a `MessageChannel` this thread holds the other end of
   * and never reads (identity/signer_worker_idle_stop.ts). Default: the worker runs until closed.
   */
  stopWhenIdleMs?: number;
  /** Told each time the worker stopped (false) or started again (true) with `stopWhenIdleMs`. */
  onWorkerState?: (running: boolean) => void;
  /**
   * Where a wallet is unlocked: in a `deno run` process of its own (identity/wallet_unlock_process.ts)
   * or in a worker of this process (identity/wallet_unlock_worker.ts). Default: a process where
   * this one may start Deno's binary, else a worker.
   */
  unlockIn?: "process" | "worker";
}

// The errors getting a key can end in, revived as themselves so callers can catch them by class.
const KEY_ERRORS: Record<string, new (message: string) => Error> = {
  WrongPassphraseError,
  CorruptVaultError,
};

/**
 * Starts a signer Worker with no permissions and gives it its key: the key's bytes, a wallet to
 * unlock there, or a throwaway key to make there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMnemonic } from "./mnemonic.ts";
 * import { createWalletRecord } from "./wallet.ts";
 *
 * const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase: "pw" });
 * const signer = await openWorkerNodeSigner({ wallet: record, passphrase: "pw" }); // the key stays in the worker
 * const event = await signer.signEvent({ kind: 1, created_at: 1, tags: [], content: "hi" });
 * assert.equal(event.pubkey, record.pubkey);
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
  // A wallet is unlocked first, in a worker that ends before the signer's starts: the two
  // isolates (Argon2id's 64 MiB in the first) are not alive at once.
  let unlocked: { wallet: WalletUnlocked; port: MessagePort } | undefined;
  const inProcess = "wallet" in source
    ? await (import(WALLET_UNLOCK_PROCESS.href) as Promise<WalletUnlockProcess>)
    : undefined;
  const unlockIn = options.unlockIn ?? (inProcess?.canUnlockInProcess() ? "process" : "worker");
  if ("wallet" in source && unlockIn === "worker") {
    const channel = new MessageChannel();
    try {
      unlocked = { wallet: await unlockInWorker(source, channel.port1), port: channel.port2 };
    } catch (err) {
      channel.port2.close();
      throw err;
    }
  }
  let open = false;
  let failed: NodeSignerError | undefined;
  const startHost = () =>
    new WorkerHost<SignerWorkerRequest, unknown>({
      url: options.entry ?? new URL("./node_signer_worker.ts", import.meta.url),
      permissions: "none",
      errors: KEY_ERRORS,
      onEvent: (body) => {
        if (typeof body === "string") options.onLog?.(body);
      },
      onCrash: (crash) => {
        failed = new NodeSignerError(`the signer's worker failed: ${crash.message}`);
        if (open) options.onFailure?.(failed);
      },
    });
  // A crash is told as a NodeSignerError; the host's own errors (closed, terminated) likewise.
  const asSignerError = (err: unknown): never => {
    if (failed) throw failed;
    if (err instanceof WorkerCrashedError) throw new NodeSignerError(err.message);
    throw err;
  };
  const host = startHost();
  let keyed: SignerKeyed;
  try {
    await host.ready;
    if ("secretKey" in source) {
      const copy = source.secretKey.slice();
      const asked = host.request({ t: "key", source: { secretKey: copy } }, {
        transfer: [copy.buffer],
      });
      if (options.wipe) source.secretKey.fill(0);
      keyed = await asked as SignerKeyed;
    } else if (unlocked) {
      keyed = await keyFromPort(host, unlocked.port, unlocked.wallet);
    } else if ("wallet" in source && inProcess) {
      keyed = await keyFromProcess(host, source, inProcess);
    } else {
      keyed = await host.request({ t: "key", source: { generate: true } }) as SignerKeyed;
    }
  } catch (err) {
    unlocked?.port.close(); // the key waiting in it, if it was never handed over, goes with it
    host.terminate();
    return asSignerError(err);
  }
  open = true;
  if (options.stopWhenIdleMs === undefined) {
    const ask = (request: NodeSignerRequest): Promise<unknown> =>
      host.request({ t: "ask", request }).catch(asSignerError);
    return signerFromRequests({
      pubkey: keyed.pubkey,
      evmAddress: keyed.evmAddress,
      ask,
      // Requests already asked are answered before the worker ends; later ones are refused.
      close: () => void host.close(),
    });
  }
  const worker = new IdleStoppingSignerWorker(host, {
    idleMs: options.stopWhenIdleMs,
    onState: options.onWorkerState,
    restart: async (port) => {
      const next = startHost();
      try {
        await next.ready;
        await keyFromPort(next, port, keyed);
        return next;
      } catch (err) {
        port.close();
        next.terminate();
        const error = err instanceof NodeSignerError
          ? err
          : new NodeSignerError(`the signer's worker did not start again: ${String(err)}`);
        failed ??= error;
        options.onFailure?.(failed);
        throw failed;
      }
    },
  });
  return signerFromRequests({
    pubkey: keyed.pubkey,
    evmAddress: keyed.evmAddress,
    ask: (request) => worker.request({ t: "ask", request }).catch(asSignerError),
    close: () => void worker.close(),
  });
}

/** Keys `host` from `port` and checks that it names the key `expected` names. */
async function keyFromPort(
  host: WorkerHost<SignerWorkerRequest, unknown>,
  port: MessagePort,
  expected: { pubkey: string; evmAddress: string },
): Promise<SignerKeyed> {
  const keyed = await host.request({ t: "key", source: { port } }, {
    transfer: [port],
  }) as SignerKeyed;
  if (keyed.pubkey !== expected.pubkey || keyed.evmAddress !== expected.evmAddress) {
    throw new NodeSignerError("the signer's worker names another key than the wallet's");
  }
  return keyed;
}

/**
 * Unlocks `source`'s wallet in a process of its own, which seals the key to an X25519 key `host`'s
 * worker made; the worker opens it and must name the wallet's key.
 */
async function keyFromProcess(
  host: WorkerHost<SignerWorkerRequest, unknown>,
  source: { wallet: WalletUnlockRequest["wallet"]; passphrase: string },
  inProcess: WalletUnlockProcess,
): Promise<SignerKeyed> {
  const recipient = await host.request({ t: "recipient" }) as Uint8Array;
  const unlocked = await inProcess.unlockWalletInProcess(source, recipient);
  const keyed = await host.request({
    t: "key",
    source: { sealed: unlocked.sealed },
  }) as SignerKeyed;
  if (keyed.pubkey !== source.wallet.pubkey || keyed.evmAddress !== unlocked.evmAddress) {
    throw new NodeSignerError("the signer's worker names another key than the wallet's");
  }
  return keyed;
}

/**
 * Unlocks `source`'s wallet in a worker of its own, which sends the key on `port` and is ended
 * once it answered; the key waits in the channel for the signer's worker, started after it.
 */
async function unlockInWorker(
  source: { wallet: WalletUnlockRequest["wallet"]; passphrase: string },
  port: MessagePort,
): Promise<WalletUnlocked> {
  const unlocker = new WorkerHost<WalletUnlockRequest, WalletUnlocked>({
    url: new URL("./wallet_unlock_worker.ts", import.meta.url),
    permissions: "none",
    errors: KEY_ERRORS,
  });
  try {
    await unlocker.ready;
    return await unlocker.request(
      { wallet: source.wallet, passphrase: source.passphrase, port },
      { transfer: [port] },
    );
  } catch (err) {
    if (err instanceof WorkerCrashedError) {
      throw new NodeSignerError(`the wallet's worker failed: ${err.message}`);
    }
    throw err;
  } finally {
    unlocker.terminate();
  }
}
