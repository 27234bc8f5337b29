/**
 * A worker for tests/unit/transport/worker_host_test.ts, on the real `transport/worker_service.ts`:
 * answers `{ op }` requests (echo, throw a named error, crash the worker, never answer, read a
 * file to probe its permissions). Its name `fail-setup` makes its setup throw.
 *
 * @module
 */
import { inWorker, serveWorker } from "../../transport/worker_service.ts";

/** A request to the echo worker. */
export interface EchoRequest {
  op: "echo" | "throw" | "crash" | "hang" | "read";
  value?: string;
}

class TeapotError extends Error {
  override name = "TeapotError";
}

if (inWorker()) {
  const handle = serveWorker<EchoRequest, unknown>({
    setup: () => {
      if ((globalThis as unknown as { name: string }).name === "fail-setup") {
        throw new TeapotError("setup failed on purpose");
      }
    },
    onRequest: (request) => {
      switch (request.op) {
        case "echo":
          return request.value;
        case "throw":
          throw new TeapotError(request.value ?? "teapot");
        case "crash":
          setTimeout(() => {
            throw new Error("crashed on purpose");
          });
          return new Promise(() => {});
        case "hang":
          return new Promise(() => {});
        case "read":
          return Deno.readTextFileSync(request.value ?? "/etc/hostname");
      }
    },
    onEvent: (body) => handle.send({ heard: body }),
  });
}
