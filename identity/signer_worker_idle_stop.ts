/**
 * The key's worker, stopped while the node has nothing to sign and started again at its next
 * request. A worker isolate costs an idle town about 5 MiB of its resident memory (docs/SCALE.md
 * "An idle town's memory"), for a key an idle town uses a few times an hour. Before it ends, the
 * worker posts its key's bytes on one port of a `MessageChannel`; the caller's thread keeps the
 * other port, never reading it, and hands it to the next worker, which takes the key from it as it
 * takes a wallet's from the unlocking worker (identity/worker_node_signer.ts). The key is then
 * never in the caller's thread, stopped or running (docs/ARCHITECTURE.md "The key's worker").
 *
 * @module
 */
import type { WorkerHost } from "../transport/worker_host.ts";
import { trimFreedMemory } from "../transport/freed_memory_trim.ts";
import type { SignerWorkerRequest } from "./node_signer_worker.ts";

/** Options for {@linkcode IdleStoppingSignerWorker}. */
export interface IdleStoppingSignerWorkerOptions {
  /** Milliseconds without a request after which the worker is stopped. */
  idleMs: number;
  /**
   * Starts a worker keyed from `port` (where the stopped worker posted its key) and resolves
   * once it has the key; it fails when the worker cannot start or names another key.
   */
  restart(port: MessagePort): Promise<WorkerHost<SignerWorkerRequest, unknown>>;
  /** Told each time the worker stopped (its key parked) or started again. */
  onState?: (running: boolean) => void;
}

/**
 * Sends requests to the key's worker, starting it again if it was stopped, and stops it
 * `idleMs` after the last answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHost } from "../transport/worker_host.ts";
 * import type { SignerWorkerRequest } from "./node_signer_worker.ts";
 * import { IdleStoppingSignerWorker } from "./signer_worker_idle_stop.ts";
 *
 * const start = () =>
 *   new WorkerHost<SignerWorkerRequest, unknown>({
 *     url: new URL("./node_signer_worker.ts", import.meta.url),
 *     permissions: "none",
 *   });
 * const host = start();
 * await host.request({ t: "key", source: { generate: true } });
 * const worker = new IdleStoppingSignerWorker(host, {
 *   idleMs: 50,
 *   restart: async (port) => {
 *     const next = start();
 *     await next.request({ t: "key", source: { port } }, { transfer: [port] });
 *     return next;
 *   },
 * });
 * const ask = { t: "ask", request: { op: "derivedSecret", label: "x" } } as const;
 * const secret = await worker.request(ask);
 * await new Promise((r) => setTimeout(r, 200)); // idle: the worker is stopped
 * assert.equal(worker.running, false);
 * assert.deepEqual(await worker.request(ask), secret); // the same key, in a new worker
 * await worker.close();
 * ```
 */
export class IdleStoppingSignerWorker {
  readonly #options: IdleStoppingSignerWorkerOptions;
  #host: WorkerHost<SignerWorkerRequest, unknown> | undefined;
  #parked: MessagePort | undefined;
  #starting: Promise<WorkerHost<SignerWorkerRequest, unknown>> | undefined;
  #stopping: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #closed = false;

  /** `host`: the worker as started, already keyed. */
  constructor(
    host: WorkerHost<SignerWorkerRequest, unknown>,
    options: IdleStoppingSignerWorkerOptions,
  ) {
    this.#host = host;
    this.#options = options;
    this.#arm();
  }

  /** Whether the worker runs now (false while its key is parked). */
  get running(): boolean {
    return this.#host !== undefined;
  }

  /** Sends `body` to the worker, started again first if it was stopped. */
  async request(body: SignerWorkerRequest): Promise<unknown> {
    this.#inFlight++;
    clearTimeout(this.#timer);
    try {
      const host = await this.#running();
      return await host.request(body);
    } finally {
      this.#inFlight--;
      this.#arm();
    }
  }

  /** Lets the key go: the running worker ends after its pending answers, a parked key is dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#stopping;
    this.#parked?.close();
    this.#parked = undefined;
    await this.#host?.close();
  }

  async #running(): Promise<WorkerHost<SignerWorkerRequest, unknown>> {
    if (this.#stopping) await this.#stopping;
    if (this.#host) return this.#host;
    this.#starting ??= this.#restart();
    return await this.#starting;
  }

  async #restart(): Promise<WorkerHost<SignerWorkerRequest, unknown>> {
    const port = this.#parked;
    this.#parked = undefined;
    try {
      if (port === undefined || this.#closed) throw new Error("the signer is closed");
      const host = await this.#options.restart(port);
      if (this.#closed) {
        // Closed while it started: it answers what was asked, then ends.
        void host.close();
      } else {
        this.#host = host;
        this.#options.onState?.(true);
      }
      return host;
    } finally {
      this.#starting = undefined;
    }
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#closed || this.#inFlight > 0 || this.#host === undefined) return;
    const timer = setTimeout(() => {
      if (this.#inFlight === 0 && this.#host !== undefined && this.#stopping === undefined) {
        this.#stopping = this.#stop().finally(() => this.#stopping = undefined);
      }
    }, this.#options.idleMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  async #stop(): Promise<void> {
    const host = this.#host!;
    const channel = new MessageChannel();
    try {
      await host.request({ t: "park", port: channel.port1 }, { transfer: [channel.port1] });
    } catch {
      // The worker failed: the host has told its crash; the key is gone with it.
      channel.port2.close();
      return;
    }
    this.#parked = channel.port2;
    this.#host = undefined;
    await host.close();
    // The isolate's pages go back to the system with it; what its threads' arenas freed, now.
    trimFreedMemory();
    this.#options.onState?.(false);
  }
}
