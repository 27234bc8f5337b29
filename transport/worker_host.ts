/**
 * The one way this code base runs a Worker: started with a permission set, a "ready" handshake
 * (a message posted to a worker still evaluating its module graph is dropped, so nothing is sent
 * before it), requests answered by id, errors carried across by name and revived as the caller's
 * own classes, crash detection that fails every pending request, and terminate. The worker's
 * side is `transport/worker_service.ts`; the wire shapes are {@linkcode WorkerHostMessage} and
 * {@linkcode WorkerServiceMessage}. What to do after a crash (restart with a backoff, fall back
 * inline, stop) is the caller's: it starts a new host. See docs/ARCHITECTURE.md ("Workers").
 *
 * @module
 */
import { TransportError } from "./transport_error.ts";

/** A failure carried across the worker boundary by name, so callers can tell errors apart. */
export interface WorkerErrorData {
  name: string;
  message: string;
}

/** Main thread -> worker. */
export type WorkerHostMessage =
  /** A request, answered under the same `id`. */
  | { t: "request"; id: number; body: unknown }
  /** A message that gets no answer. */
  | { t: "event"; body: unknown };

/** Worker -> main thread. */
export type WorkerServiceMessage =
  /** Loaded: messages can be sent from now on. */
  | { t: "ready" }
  | { t: "response"; id: number; ok: true; value: unknown }
  | { t: "response"; id: number; ok: false; error: WorkerErrorData }
  /** A message of its own (a log line, a report). */
  | { t: "event"; body: unknown }
  /** The worker cannot go on (its setup failed, its work errored): the host treats it as a crash. */
  | { t: "fatal"; error: WorkerErrorData };

/** The worker crashed, failed to load, said it cannot go on, or was terminated. */
export class WorkerCrashedError extends TransportError {
  override name = "WorkerCrashedError";
  /** The name of the error the worker died of (e.g. `NotCapable`, `DataCloneError`). */
  readonly errorName: string;
  constructor(message: string, errorName = "Error") {
    super(message);
    this.errorName = errorName;
  }
}

/** A request got no answer within its `timeoutMs`. */
export class WorkerTimeoutError extends TransportError {
  override name = "WorkerTimeoutError";
}

/** Options for {@linkcode WorkerHost}. */
export interface WorkerHostOptions {
  /** The worker's module. */
  url: URL | string;
  /** What the worker may do: `"none"`, or a permission set (read/write paths, ...). */
  permissions: "none" | Deno.PermissionOptionsObject;
  /** The worker's name (its `self.name`). */
  name?: string;
  /** Error classes the worker's failures are revived as, by name; others become a named Error. */
  errors?: Record<string, new (message: string) => Error>;
  /** Messages the worker sends of its own (`event`). */
  onEvent?: (body: unknown) => void;
  /** Told once, when the worker crashes (not on `terminate`); pending requests fail with it. */
  onCrash?: (error: WorkerCrashedError) => void;
}

/** Options for one {@linkcode WorkerHost.request}. */
export interface WorkerRequestOptions {
  /** Objects moved, not copied, to the worker. */
  transfer?: Transferable[];
  /** Fail with {@linkcode WorkerTimeoutError} if unanswered by then; a late answer is dropped. */
  timeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

/** The name of the error behind a worker's `error` event. */
export function workerErrorName(event: ErrorEvent): string {
  const error: unknown = event.error;
  if (error instanceof Error) return error.name;
  // Deno reports an uncaught error as "Uncaught (in promise) NotCapable: ..." in the message.
  const m = /^Uncaught (?:\(in promise\) )?(\w+)/.exec(event.message);
  return m ? m[1] : "Error";
}

/**
 * One worker, seen from the thread that started it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHost } from "./worker_host.ts";
 *
 * const url = URL.createObjectURL(
 *   new Blob([
 *     `import { serveWorker } from ${JSON.stringify(import.meta.resolve("./worker_service.ts"))};
 *      serveWorker({ onRequest: (n) => Number(n) * 2 });`,
 *   ], { type: "text/javascript" }),
 * );
 * const host = new WorkerHost<number, number>({ url, permissions: { read: true } });
 * assert.equal(await host.request(21), 42);
 * host.terminate();
 * ```
 */
export class WorkerHost<Req = unknown, Res = unknown> {
  readonly #worker: Worker;
  readonly #options: WorkerHostOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #ready = Promise.withResolvers<void>();
  #queued: { message: WorkerHostMessage; transfer: Transferable[] }[] = [];
  #isReady = false;
  #failure: Error | undefined;
  #nextId = 1;
  #closing = false;
  #closed = Promise.withResolvers<void>();

  constructor(options: WorkerHostOptions) {
    this.#options = options;
    this.#ready.promise.catch(() => {}); // also told through the requests and onCrash
    this.#worker = new Worker(options.url, {
      type: "module",
      name: options.name,
      deno: { permissions: options.permissions },
    } as WorkerOptions);
    this.#worker.onmessage = (event: MessageEvent<WorkerServiceMessage>) =>
      this.#onMessage(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // keep this thread alive: the caller decides what a crash means
      this.#crash(new WorkerCrashedError(event.message, workerErrorName(event)));
    };
    this.#worker.onmessageerror = () => {
      this.#crash(new WorkerCrashedError("a message could not be deserialized", "DataCloneError"));
    };
  }

  /** Resolves once the worker has loaded; rejects if it fails first. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** True once the worker has loaded (and until it fails). */
  get isReady(): boolean {
    return this.#isReady && this.#failure === undefined;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Why the worker stopped, once it has. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Sends a request; resolves with the worker's answer, rejects with its (revived) error. */
  request(body: Req, options: WorkerRequestOptions = {}): Promise<Res> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new WorkerCrashedError("the worker is closed"));
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Res>();
    const entry: Pending = { resolve: resolve as (value: unknown) => void, reject };
    if (options.timeoutMs !== undefined) {
      entry.timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        reject(new WorkerTimeoutError(`no answer from the worker in ${options.timeoutMs} ms`));
        this.#endIfIdle();
      }, options.timeoutMs);
    }
    this.#pending.set(id, entry);
    try {
      this.#send({ t: "request", id, body }, options.transfer ?? []);
    } catch (err) {
      // Not cloneable: never sent, so nothing will answer it.
      this.#settle(id);
      return Promise.reject(err);
    }
    return promise;
  }

  /** Sends a message that gets no answer (queued until the worker is ready). */
  post(body: unknown, transfer: Transferable[] = []): void {
    if (this.#failure) return;
    this.#send({ t: "event", body }, transfer);
  }

  /** Refuses new requests, lets the pending ones be answered, then terminates. */
  close(): Promise<void> {
    this.#closing = true;
    this.#endIfIdle();
    return this.#closed.promise;
  }

  /** Stops the worker now; pending requests fail with `reason`. */
  terminate(reason: Error = new WorkerCrashedError("the worker was terminated")): void {
    this.#stop(reason);
  }

  #send(message: WorkerHostMessage, transfer: Transferable[]): void {
    if (this.#isReady) this.#worker.postMessage(message, transfer);
    else this.#queued.push({ message, transfer });
  }

  #settle(id: number): Pending | undefined {
    const entry = this.#pending.get(id);
    if (entry === undefined) return undefined;
    this.#pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    return entry;
  }

  #endIfIdle(): void {
    if (this.#closing && this.#pending.size === 0) {
      this.#stop(new WorkerCrashedError("the worker is closed"));
    }
  }

  #revive(error: WorkerErrorData): Error {
    const Known = this.#options.errors?.[error.name];
    if (Known) return new Known(error.message);
    return Object.assign(new Error(error.message), { name: error.name });
  }

  #onMessage(message: WorkerServiceMessage): void {
    if (this.#failure) return;
    switch (message.t) {
      case "ready": {
        this.#isReady = true;
        const queued = this.#queued;
        this.#queued = [];
        for (const q of queued) this.#worker.postMessage(q.message, q.transfer);
        this.#ready.resolve();
        return;
      }
      case "response": {
        const entry = this.#settle(message.id);
        if (entry === undefined) return; // timed out meanwhile
        if (message.ok) entry.resolve(message.value);
        else entry.reject(this.#revive(message.error));
        this.#endIfIdle();
        return;
      }
      case "event":
        return this.#options.onEvent?.(message.body);
      case "fatal": {
        const revived = this.#revive(message.error);
        return this.#crash(new WorkerCrashedError(revived.message, revived.name));
      }
    }
  }

  #crash(error: WorkerCrashedError): void {
    if (this.#failure) return;
    this.#stop(error);
    this.#options.onCrash?.(error);
  }

  #stop(reason: Error): void {
    if (this.#failure) return;
    this.#failure = reason;
    this.#worker.terminate();
    this.#queued = [];
    this.#ready.reject(reason);
    for (const entry of this.#pending.values()) {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      entry.reject(reason);
    }
    this.#pending.clear();
    this.#closed.resolve();
  }
}
