/**
 * A signer worker's entry for tests: the real entry (`identity/node_signer_worker.ts`), plus a
 * probe of what the worker may do, reported as `event` lines before the real entry's `ready`.
 *
 * @module
 */
const scope = globalThis as unknown as { postMessage(m: unknown): void };
const attempt = async (what: string, f: () => unknown) => {
  try {
    await f();
    scope.postMessage({ t: "event", body: `${what}: allowed` });
  } catch (err) {
    scope.postMessage({ t: "event", body: `${what}: ${(err as Error).name}` });
  }
};
await attempt("read", () => Deno.readTextFileSync("/etc/hostname"));
await attempt("write", () => Deno.writeTextFileSync("/tmp/probing_signer_worker", "x"));
await attempt("net", async () => (await Deno.connect({ hostname: "127.0.0.1", port: 9 })).close());
await attempt("env", () => Deno.env.get("HOME"));
await attempt("run", () => new Deno.Command("true").outputSync());
await import("../../identity/node_signer_worker.ts");
