/**
 * The worker's side of `transport/worker_host.ts`: answers requests by id (a thrown error goes
 * back by name and message), hands the host's other messages to `onEvent`, and says "ready" once
 * its module graph is evaluated and its setup done.
 *
 * @module
 */
import type { WorkerErrorData, WorkerHostMessage, WorkerServiceMessage } from "./worker_host.ts";

/** Options for {@linkcode serveWorker}. */
export interface ServeWorkerOptions<Req, Res> {
  /** Answers one request; what it throws is sent back as a {@linkcode WorkerErrorData}. */
  onRequest?: (body: Req) => Res | Promise<Res>;
  /** Messages of the host that get no answer. */
  onEvent?: (body: unknown) => void;
  /** Run before "ready" is said; if it throws, the worker reports `fatal` instead. */
  setup?: () => void | Promise<void>;
}

/** The handle a served worker keeps to talk to its host of its own accord. */
export interface WorkerServiceHandle {
  /** Sends an `event` to the host (a log line, a report). */
  send(body: unknown): void;
  /** Reports a failure the worker cannot go on from: the host treats it as a crash. */
  fatal(error: unknown): void;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerHostMessage>) => void) | null;
  postMessage(message: WorkerServiceMessage, transfer?: Transferable[]): void;
}

/** True in a Worker (a module may also be imported on the main thread for its types). */
export function inWorker(): boolean {
  return "WorkerGlobalScope" in globalThis;
}

/** An error as the name and message the host revives it from. */
export function workerErrorData(err: unknown): WorkerErrorData {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

/**
 * Serves requests in this worker.
 *
 * @example
 * ```ts
 * import { inWorker, serveWorker } from "./worker_service.ts";
 *
 * if (inWorker()) serveWorker<number, number>({ onRequest: (n) => n * 2 });
 * ```
 */
export function serveWorker<Req, Res>(
  options: ServeWorkerOptions<Req, Res>,
): WorkerServiceHandle {
  const scope = globalThis as unknown as WorkerScope;
  const post = (message: WorkerServiceMessage) => scope.postMessage(message);
  const handle: WorkerServiceHandle = {
    send: (body) => post({ t: "event", body }),
    fatal: (error) => post({ t: "fatal", error: workerErrorData(error) }),
  };
  scope.onmessage = async (event) => {
    const message = event.data;
    if (message.t === "event") return options.onEvent?.(message.body);
    try {
      if (!options.onRequest) throw new Error("this worker takes no requests");
      const value = await options.onRequest(message.body as Req);
      post({ t: "response", id: message.id, ok: true, value });
    } catch (err) {
      post({ t: "response", id: message.id, ok: false, error: workerErrorData(err) });
    }
  };
  const ready = async () => {
    try {
      await options.setup?.();
    } catch (err) {
      return handle.fatal(err);
    }
    post({ t: "ready" });
  };
  ready();
  return handle;
}
