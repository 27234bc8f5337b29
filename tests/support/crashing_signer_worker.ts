/**
 * A signer worker's entry for tests: the real entry (`identity/node_signer_worker.ts`), which
 * crashes (an uncaught error) when asked to sign an event whose content is `crash`.
 *
 * @module
 */
const scope = globalThis as unknown as {
  addEventListener(type: "message", f: (e: MessageEvent) => void): void;
};
scope.addEventListener("message", (e) => {
  const m = e.data as {
    t: string;
    body?: { t: string; request?: { op: string; template?: { content: string } } };
  };
  if (m.t === "request" && m.body?.request?.template?.content === "crash") {
    setTimeout(() => {
      throw new Error("crashed on purpose");
    });
  }
});
await import("../../identity/node_signer_worker.ts");
