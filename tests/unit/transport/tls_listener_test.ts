/**
 * The TLS listener whose certificate is replaced while it runs (transport/tls_listener.ts), the
 * key pair reader (transport/tls_key_pair.ts), the client's extra CAs (transport/tls_trust.ts)
 * and `ca_file` / `tls_cert` / `tls_key` (config/ca_file.ts, config/town_tls.ts), on
 * certificates made here with `openssl`.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../../harness/assert.ts";
import { ReloadableTlsListener } from "../../../transport/tls_listener.ts";
import {
  certificateFingerprint,
  readTlsKeyPair,
  TlsKeyPairError,
} from "../../../transport/tls_key_pair.ts";
import { TlsTrustError, untrustedCertificate } from "../../../transport/tls_trust.ts";
import { listenHttpFront } from "../../../transport/http_front.ts";
import { openWebSocket } from "../../../transport/nodelay_websocket.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveTownTls } from "../../../config/town_tls.ts";
import { ConfigError } from "../../../config/config_error.ts";

async function openssl(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("openssl", { args, cwd, stdin: "null" }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** A CA and two certificates for 127.0.0.1 it signed; their PEM text. */
async function certificates() {
  const dir = await Deno.makeTempDir({ prefix: "tls_listener_" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=CA"],
    dir,
  );
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1\n");
  for (const n of [1, 2]) {
    await openssl(
      ["req", ...ec, "-keyout", `s${n}.key`, "-out", `s${n}.csr`, "-subj", "/CN=x"],
      dir,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      `s${n}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(n),
      "-extfile",
      "san.cnf",
      "-out",
      `s${n}.pem`,
    ], dir);
  }
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  return {
    dir,
    ca: await read("ca.pem"),
    one: { cert: await read("s1.pem"), key: await read("s1.key") },
    two: { cert: await read("s2.pem"), key: await read("s2.key") },
  };
}

/** Echoes what each accepted connection sends. */
async function echo(listener: ReloadableTlsListener): Promise<void> {
  for (;;) {
    let raw: Deno.TcpConn;
    try {
      raw = await listener.accept();
    } catch {
      return;
    }
    (async () => {
      const { conn, close } = await listener.secure(raw);
      const buf = new Uint8Array(256);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return close();
        await conn.write(buf.subarray(0, n));
      }
    })();
  }
}

async function ping(conn: Deno.Conn, text: string): Promise<string> {
  await conn.write(new TextEncoder().encode(text));
  const buf = new Uint8Array(256);
  const n = await conn.read(buf);
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

Deno.test("tls listener: a replaced certificate goes to new connections; an open one keeps talking; a bad pair keeps the old", async () => {
  const pem = await certificates();
  const listener = new ReloadableTlsListener({ hostname: "127.0.0.1", port: 0, keyPair: pem.one });
  const serving = echo(listener);
  const { port } = listener.addr;
  const connect = () => Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pem.ca] });
  const open = await connect();
  assertEquals(await ping(open, "before"), "before");
  listener.replace(pem.two);
  assertEquals(await ping(open, "after"), "after");
  const serial = async () =>
    (await new Deno.Command("sh", {
      args: [
        "-c",
        `openssl s_client -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -serial`,
      ],
    }).output()).stdout;
  assertEquals(new TextDecoder().decode(await serial()).trim(), "serial=02");
  assertThrows(() => listener.replace({ cert: pem.two.cert, key: "not a key" }), Error);
  const fresh = await connect();
  assertEquals(await ping(fresh, "still"), "still");
  // A second listener on the port is refused, as a plain one would be.
  assertThrows(
    () => new ReloadableTlsListener({ hostname: "127.0.0.1", port, keyPair: pem.one }),
    Deno.errors.AddrInUse,
  );
  open.close();
  fresh.close();
  listener.close();
  await serving;
  await Deno.remove(pem.dir, { recursive: true });
});

Deno.test("tls key pair: the files read, the fingerprint as openssl prints it, a wrong file named", async () => {
  const pem = await certificates();
  const pair = await readTlsKeyPair(`${pem.dir}/s1.pem`, `${pem.dir}/s1.key`);
  assertEquals(pair, pem.one);
  const printed = await openssl(
    ["x509", "-noout", "-fingerprint", "-sha256", "-in", "s1.pem"],
    pem.dir,
  );
  assertEquals(await certificateFingerprint(pair.cert), printed.trim().split("=")[1]);
  const err = await assertRejects(
    () => readTlsKeyPair(`${pem.dir}/s1.key`, `${pem.dir}/s1.key`),
    TlsKeyPairError,
  );
  assert(
    (err as Error).message.includes("s1.key holds no PEM certificate"),
    (err as Error).message,
  );
  await Deno.remove(pem.dir, { recursive: true });
});

Deno.test("tls trust: a wss:// front without the CA is refused as TlsTrustError naming ca_file; with it, it opens", async () => {
  const pem = await certificates();
  const front = listenHttpFront({
    hostname: "127.0.0.1",
    port: 0,
    tls: pem.one,
    headTimeoutMs: 5000,
    maxConnectionsPerAddress: 8,
    maxConnections: 16,
    upgrade: () => ({
      maxMessageBytes: 1024,
      onSocket: (ws) => ws.addEventListener("message", (e) => ws.send((e as MessageEvent).data)),
    }),
  });
  const url = `wss://127.0.0.1:${front.port}`;
  const refused = openWebSocket(url, { caCerts: [] });
  const error = await new Promise<Error>((resolve) =>
    refused.addEventListener("error", (e) => resolve((e as ErrorEvent).error))
  );
  assert(error instanceof TlsTrustError, String(error));
  assert(
    error.message.includes("UnknownIssuer") && error.message.includes("ca_file"),
    error.message,
  );
  const trusted = openWebSocket(url, { caCerts: [pem.ca] });
  await new Promise((resolve) => trusted.addEventListener("open", resolve));
  const answer = new Promise((resolve) =>
    trusted.addEventListener("message", (e) => resolve((e as MessageEvent).data))
  );
  trusted.send("hello");
  assertEquals(await answer, "hello");
  await new Promise((resolve) => {
    trusted.addEventListener("close", resolve);
    trusted.close();
  });
  assertEquals(untrustedCertificate(new Error("connection refused"), url), undefined);
  await front.close();
  await Deno.remove(pem.dir, { recursive: true });
});

Deno.test("tls settings: ca_file unreadable is a ConfigError naming it; tls_cert without tls_key is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tls_settings_" });
  const err = await assertRejects(
    () =>
      loadSettings({
        flags: { stateDir: dir },
        env: (n) => n === "TURNPIKE_CA_FILE" ? `${dir}/none.pem` : undefined,
      }),
    ConfigError,
  );
  assertEquals((err as ConfigError).key, "caFile");
  const pick = (flag: unknown) => flag;
  assertThrows(() => resolveTownTls(pick, { tlsCert: "/x/cert.pem" }), ConfigError, "go together");
  assertEquals(resolveTownTls(pick, { tlsCert: "c.pem", tlsKey: "/k.pem" }), {
    certFile: `${Deno.cwd()}/c.pem`,
    keyFile: "/k.pem",
  });
  await Deno.remove(dir, { recursive: true });
});
