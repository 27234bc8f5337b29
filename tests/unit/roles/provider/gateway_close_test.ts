/**
 * The agent-task driver's close of its model gateway (roles/provider/sandbox/gateway_close.sh) on
 * the host's own `sh` and curl, against a real Unix socket: it posts the close, then tries again
 * until the socket refuses, and exits 0 then; without curl, or with a curl that cannot reach a
 * Unix socket, it runs the command it was given instead (the forwarder's close).
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";

const SCRIPT = new URL("../../../../roles/provider/sandbox/gateway_close.sh", import.meta.url)
  .pathname;

/** A stand-in for the gateway: answers the close, then stops listening, as the gateway does. */
function standInGateway(socketPath: string) {
  const seen: { method: string; path: string; host: string | null }[] = [];
  const server = Deno.serve({ path: socketPath, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname, host: req.headers.get("host") });
    if (req.method === "POST" && url.pathname === "/turnpike/agent-over") {
      setTimeout(() => void server.shutdown(), 0);
      return Response.json({ closed: true });
    }
    return new Response("no", { status: 403 });
  });
  return { seen, server };
}

async function close(socketPath: string, env: Record<string, string>, ...fallback: string[]) {
  const out = await new Deno.Command("/bin/sh", {
    args: [SCRIPT, socketPath, ...fallback],
    clearEnv: true,
    env,
    stdout: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("gateway close: with curl it posts the close and exits 0 once the socket refuses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const socketPath = `${dir}/gateway.sock`;
    const { seen, server } = standInGateway(socketPath);
    const done = await close(socketPath, { PATH: "/usr/bin:/bin" }, "sh", "-c", "echo fallback");
    await server.finished;
    assertEquals(done, { code: 0, stdout: "" });
    // The close, once or again (a second try that reached the listener before it stopped).
    assert(seen.length >= 1, "the gateway was never asked to close");
    for (const request of seen) {
      assertEquals(request, { method: "POST", path: "/turnpike/agent-over", host: "127.0.0.1" });
    }
    // No socket at all: closed already.
    assertEquals(await close(`${dir}/none.sock`, { PATH: "/usr/bin:/bin" }, "false"), {
      code: 0,
      stdout: "",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway close: without curl, or with one that cannot reach a Unix socket, it runs the forwarder's close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const socketPath = `${dir}/gateway.sock`;
    const { seen, server } = standInGateway(socketPath);
    // A PATH with the shell's tools and no curl.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    for (const tool of ["sleep", "echo"]) {
      await Deno.symlink(await Deno.realPath(`/bin/${tool}`), `${bin}/${tool}`);
    }
    const none = await close(socketPath, { PATH: bin }, "/bin/sh", "-c", "echo fallback; exit 3");
    assertEquals(none, { code: 3, stdout: "fallback\n" });
    // A curl that refuses its options (exit 2), as one without --unix-socket does.
    await Deno.writeTextFile(`${bin}/curl`, "#!/bin/sh\nexit 2\n", { mode: 0o755 });
    const old = await close(socketPath, { PATH: bin }, "/bin/sh", "-c", "echo fallback");
    assertEquals(old, { code: 0, stdout: "fallback\n" });
    assertEquals(seen, [], "nothing reached the gateway from the script itself");
    await server.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
