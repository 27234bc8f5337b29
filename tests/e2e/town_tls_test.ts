/**
 * A town on TLS (docs/OPERATIONS.md "A town on the internet"), every role its own process: a CA
 * and two server certificates made here with `openssl`; `town up --tls-cert --tls-key`; a
 * provider (`node up`, the CA from `TURNPIKE_CA_FILE`) and a requester (`ca_file` in its
 * config.toml) over `wss://` and `btp+wss://` do a paid `ci-run` job whose project goes as a paid
 * blob over `https://`; a client without the CA is refused with an `Error:` line that names the
 * certificate problem and `ca_file`; the certificate replaced on disk and SIGHUP sent: a
 * WebSocket opened before still answers, a new connection gets the new certificate (its serial,
 * read by `openssl s_client`), and a second paid job goes through over the provider's BTP
 * connection opened before the swap (the same TCP connection, read by `ss`: no reconnect). A
 * client without the CA is told `ca_file` by `relay status` too.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { freePort } from "../../harness/free_port.ts";
import { initTlsJobNetwork } from "../support/tls_job_network.ts";
import { makeCertificates, run, servedSerial } from "../support/test_certificates.ts";

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

/**
 * The local ports of `pid`'s established TCP connections to `port` on 127.0.0.1 (read by `ss`):
 * a connection dropped and opened again gets a new one.
 */
async function connectionsTo(pid: number, port: number): Promise<string[]> {
  const out = await run("ss", ["-tnpH", "state", "established", "dst", `127.0.0.1:${port}`]);
  return out.split("\n").filter((l) => l.includes(`pid=${pid},`))
    .map((l) => l.trim().split(/\s+/)[2].split(":").pop()!).sort();
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

Deno.test("town on TLS: a paid job with a blob input over wss:// and btp+wss://; no CA, a clear error; SIGHUP serves a renewed certificate to new connections and keeps the open ones", async () => {
  const home = await Deno.makeTempDir({ prefix: "town_tls_" });
  const tls = `${home}/tls`;
  await makeCertificates(tls);
  const caFile = `${tls}/ca.pem`;
  const ca = await Deno.readTextFile(caFile);
  // The files the town is configured with; a renewal writes over them.
  await Deno.copyFile(`${tls}/server-1001.pem`, `${tls}/town.pem`);
  await Deno.copyFile(`${tls}/server-1001.key`, `${tls}/town.key`);
  const [townPort, btpPort] = [freePort(), freePort()];
  const town = `wss://127.0.0.1:${townPort}`;
  const btp = `btp+wss://127.0.0.1:${btpPort}`;
  const net = await initTlsJobNetwork({
    home,
    townPort,
    btpPort,
    relayUrl: town,
    btpUrl: btp,
    caFile,
  });
  const { env, secret, cli } = net;
  const processes: CliProcess[] = [];
  try {
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

    const provider = await net.startProvider();
    processes.push(provider);
    const first = await net.submitBlobJob();
    // The provider's BTP link: one connection, whose local port says which.
    const linkBefore = await connectionsTo(provider.child.pid, btpPort);
    assertEquals(linkBefore.length, 1, `beta's connections to the BTP port: ${linkBefore}`);

    // A client without the CA: refused, and told what is wrong and what fixes it.
    const stranger = await cli(["--state-dir", `${home}/stranger`, "providers"], {
      TURNPIKE_RELAY_URL: town,
    });
    assertEquals(stranger.code === 0, false, stranger.stdout);
    const errorLine = stranger.stderr.split("\n").find((l) => l.startsWith("Error:")) ?? "";
    assertStringIncludes(errorLine, "invalid peer certificate: UnknownIssuer");
    assertStringIncludes(errorLine, "ca_file");
    // relay status says the same, not that the town may be down.
    const status = await cli(["--state-dir", `${home}/stranger`, "relay", "status"], {
      TURNPIKE_RELAY_URL: town,
    });
    assertEquals(status.code === 0, false, status.stdout);
    assertStringIncludes(status.stderr, "set ca_file");
    assertEquals(status.stderr.includes("town up` running"), false, status.stderr);

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
    const second = await net.submitBlobJob();
    assert(second.job !== first.job);
    // The second job was paid over the provider's BTP link opened before the swap: the same
    // connection (no reconnect), still the only one.
    assertEquals(await connectionsTo(provider.child.pid, btpPort), linkBefore);
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
