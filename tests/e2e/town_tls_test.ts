/**
 * A town on TLS (docs/OPERATIONS.md "A town on the internet"), every role its own process: a CA
 * and two server certificates made here with `openssl`; `town up --tls-cert --tls-key`; a
 * provider (`node up`, the CA from `TURNPIKE_CA_FILE`) and a requester (`ca_file` in its
 * config.toml) over `wss://` and `btp+wss://` do a paid `ci-run` job whose project goes as a paid
 * blob over `https://`; a client without the CA is refused with an `Error:` line that names the
 * certificate problem and `ca_file`; the certificate replaced on disk and SIGHUP sent: a
 * WebSocket opened before still answers, a new connection gets the new certificate (its serial,
 * read by `openssl s_client`), and a second paid job goes through.
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { type CliProcess, spawnCli } from "../support/cli_process.ts";
import { runCli } from "../support/run_cli.ts";
import { freePort } from "../support/reference_connector.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";

/** Runs a command; its stdout, or a failure with its stderr. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assertEquals(out.code, 0, `${cmd} ${args.join(" ")}: ${text(out.stderr)}`);
  return text(out.stdout);
}

/** A CA and two server certificates for 127.0.0.1 and localhost (serials 1001, 1002). */
async function makeCertificates(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=turnpike test CA",
  ], dir);
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const serial of [1001, 1002]) {
    const name = `server-${serial}`;
    await run("openssl", [
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      "/CN=127.0.0.1",
    ], dir);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(serial),
      "-days",
      "2",
      "-extfile",
      "san.cnf",
      "-out",
      `${name}.pem`,
    ], dir);
  }
}

/** The serial of the certificate a new TLS connection to `port` gets (hex, as openssl prints). */
async function servedSerial(port: number, caFile: string): Promise<string> {
  const pem = await run("sh", [
    "-c",
    `openssl s_client -connect 127.0.0.1:${port} -CAfile ${caFile} -verify_return_error ` +
      `</dev/null 2>/dev/null | openssl x509 -noout -serial`,
  ]);
  return pem.trim().replace(/^serial=/, "");
}

/** A WebSocket trusting `ca`; resolves once open. */
async function openTrusting(url: string, ca: string): Promise<WebSocket> {
  const client = Deno.createHttpClient({ caCerts: [ca] });
  const ws = new WebSocket(url, { client });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
  });
  return ws;
}

/** Sends a REQ on an open socket and resolves at its EOSE. */
function roundTrip(ws: WebSocket, subId: string): Promise<void> {
  return new Promise((resolve) => {
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg[0] === "EOSE" && msg[1] === subId) resolve();
    };
    ws.send(JSON.stringify(["REQ", subId, { kinds: [65535], limit: 1 }]));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hang guard: timed out waiting for ${what}`);
}

Deno.test("town on TLS: a paid job with a blob input over wss:// and btp+wss://; no CA, a clear error; SIGHUP serves a renewed certificate to new connections and keeps the open ones", async () => {
  const home = await Deno.makeTempDir({ prefix: "town_tls_" });
  const tls = `${home}/tls`;
  await makeCertificates(tls);
  const caFile = `${tls}/ca.pem`;
  const ca = await Deno.readTextFile(caFile);
  // The files the town is configured with; a renewal writes over them.
  await Deno.copyFile(`${tls}/server-1001.pem`, `${tls}/town.pem`);
  await Deno.copyFile(`${tls}/server-1001.key`, `${tls}/town.key`);
  const pass = `${home}/pass`;
  await Deno.writeTextFile(pass, "a long passphrase of your own\n", { mode: 0o600 });
  const env = { TURNPIKE_HOME: home };
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const [townPort, btpPort] = [freePort(), freePort()];
  const town = `wss://127.0.0.1:${townPort}`;
  const btp = `btp+wss://127.0.0.1:${btpPort}`;
  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...extraEnv } });
  const processes: CliProcess[] = [];
  try {
    const inits: string[][] = [
      ["town", "--role", "town", "--town-port", `${townPort}`, "--btp-port", `${btpPort}`],
      ["beta", "--role", "provider", "--town", town, "--btp-url", btp, "--btp-token", "beta-token"],
      ["alice", "--role", "requester", "--town", town, "--btp-url", btp, "--btp-token", "a-token"],
    ];
    inits[0].push("--peer", "beta:beta-token", "--peer", "alice:a-token");
    for (const [profile, ...rest] of inits) {
      const init = await cli(["--profile", profile, "init", ...rest, ...secret]);
      assertEquals(init.code, 0, init.stderr);
    }
    // alice trusts the CA from her config.toml (a top-level key: before the first table).
    const aliceConfig = `${home}/alice/config.toml`;
    const config = await Deno.readTextFile(aliceConfig);
    await Deno.writeTextFile(aliceConfig, `ca_file = "${caFile}"\n${config}`);

    const townUp = spawnCli([
      "--profile",
      "town",
      "--json",
      "town",
      "up",
      "--tls-cert",
      `${tls}/town.pem`,
      "--tls-key",
      `${tls}/town.key`,
      ...secret,
    ], { env });
    processes.push(townUp);
    const banner = JSON.parse(await townUp.waitForLine((l) => l.includes('"town-up"')));
    assertEquals([banner.nip01Url, banner.btpUrl], [town, btp]);
    const fingerprint = async (file: string) =>
      (await run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", file]))
        .trim().split("=")[1];
    assertEquals(banner.tls, await fingerprint(`${tls}/server-1001.pem`));
    assertEquals(await servedSerial(townPort, caFile), "03E9"); // 1001
    assertEquals(await servedSerial(btpPort, caFile), "03E9");

    const node = spawnCli(["--profile", "beta", "node", "up", ...secret], {
      env: { ...env, TURNPIKE_CA_FILE: caFile },
    });
    processes.push(node);
    await node.waitForLine((l) => l === "provider up");
    const alice = (...args: string[]) => cli(["--profile", "alice", "--json", ...args]);
    await until("beta online", async () => {
      const out = await alice("providers", "--kind", "ci-run");
      const listed = out.code === 0 ? JSON.parse(out.stdout).providers : [];
      return listed.some((p: { online: boolean }) => p.online) ? true : undefined;
    });

    const project = `${home}/project`;
    await Deno.mkdir(project);
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    await Deno.writeFile(`${project}/data.bin`, data);
    await Deno.writeTextFile(
      `${project}/test.sh`,
      'test "$(wc -c < data.bin)" -eq 60000 && echo "ok 1 - data over TLS" && ' +
        'echo "1 passed, 0 failed"\n',
    );
    const submit = async () => {
      const out = await alice(
        "job",
        "submit",
        "ci-run",
        "--dir",
        project,
        "--param",
        "cmd=sh test.sh",
        "--bid",
        "200000",
        "--wait",
        ...secret,
      );
      assertEquals(out.code, 0, out.stderr + out.stdout);
      const result = JSON.parse(out.stdout.trim().split("\n").pop()!);
      assertEquals(result.status, "done", out.stdout);
      return result;
    };
    const first = await submit();
    // The project went as a paid blob (the request names it by its sha256), over https://.
    const sidecar = await readJobSidecar(`${home}/alice`, first.job);
    const request = decodeEventToon(sidecar!.requestToon, { verify: false });
    assert(request.tags.some((t) => t[0] === "x"), "the request names a blob");
    const log = (await Deno.readTextFile(`${home}/alice/payment_log.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert(log.some((e) => e.jobId.startsWith("blob:") && e.event === "fulfilled"), "blob paid");

    // A client without the CA: refused, and told what is wrong and what fixes it.
    const stranger = await cli(["--state-dir", `${home}/stranger`, "providers"], {
      TURNPIKE_RELAY_URL: town,
    });
    assertEquals(stranger.code === 0, false, stranger.stdout);
    const errorLine = stranger.stderr.split("\n").find((l) => l.startsWith("Error:")) ?? "";
    assertStringIncludes(errorLine, "invalid peer certificate: UnknownIssuer");
    assertStringIncludes(errorLine, "ca_file");

    // A renewal: the files replaced, SIGHUP, while a WebSocket is open.
    const held = await openTrusting(town, ca);
    await roundTrip(held, "before");
    await Deno.copyFile(`${tls}/server-1002.pem`, `${tls}/town.pem`);
    await Deno.copyFile(`${tls}/server-1002.key`, `${tls}/town.key`);
    const renewed = await fingerprint(`${tls}/server-1002.pem`);
    townUp.child.kill("SIGHUP");
    const reloaded = JSON.parse(
      await townUp.waitForLine((l) => l.includes('"tls-reloaded"')),
    );
    assertEquals(reloaded.fingerprint, renewed);
    await roundTrip(held, "after"); // the connection opened before answers still
    assertEquals(held.readyState, WebSocket.OPEN);
    held.close();
    assertEquals(await servedSerial(townPort, caFile), "03EA"); // 1002, on both ports
    assertEquals(await servedSerial(btpPort, caFile), "03EA");
    const second = await submit();
    assert(second.job !== first.job);
  } finally {
    for (const p of processes.reverse()) {
      try {
        p.child.kill("SIGINT");
      } catch {
        // already gone
      }
      await p.done;
    }
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
