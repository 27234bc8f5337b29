/**
 * A town behind HAProxy terminating TLS (docs/OPERATIONS.md "Behind HAProxy terminating TLS"):
 * Debian's `haproxy` in TCP mode with `ssl crt` on its two ports and `send-proxy-v2` to the town's
 * plain ports, the town started with `--trusted-proxy 127.0.0.1`. A provider and a requester over
 * HAProxy's `wss://` and `btp+wss://` do a paid job with a blob input; then the town's per-address
 * cap counts the real clients: with the cap's worth of connections held open from 127.0.0.2, a
 * further one from 127.0.0.2 is refused "from this address" while one from 127.0.0.3 is served
 * (without the PROXY header every connection would be HAProxy's 127.0.0.1, one count for all).
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { freePort } from "../../harness/free_port.ts";
import { makeCertificates } from "../support/test_certificates.ts";
import { initTlsJobNetwork, until } from "../support/tls_job_network.ts";
import net from "node:net";
import tls from "node:tls";

const CAP = 6;

/** HAProxy's config: TLS on `front`, PROXY v2 to the town's plain `back` ports. */
function haproxyConfig(pem: string, ports: { front: number; back: number }[]): string {
  return [
    "global",
    "  maxconn 256",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    ...ports.flatMap(({ front, back }) => [
      `frontend f${front}`,
      `  bind 127.0.0.1:${front} ssl crt ${pem}`,
      `  default_backend b${back}`,
      `backend b${back}`,
      `  server town 127.0.0.1:${back} send-proxy-v2`,
    ]),
    "",
  ].join("\n");
}

/** `GET /` through HAProxy from `source`: the status and body. */
async function getFrom(source: string, port: number, caFile: string) {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--interface",
      source,
      "--cacert",
      caFile,
      "-w",
      "\n%{http_code}",
      `https://127.0.0.1:${port}/`,
    ],
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return { status: Number(lines.pop()), body: lines.join("\n") };
}

/** A TLS connection from `source` that sends half a request head and holds its slot. */
async function holdFrom(source: string, port: number, ca: string): Promise<tls.TLSSocket> {
  const tcp = net.connect({ host: "127.0.0.1", port, localAddress: source });
  const socket = tls.connect({ socket: tcp, ca, servername: "localhost" });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  socket.write("GET / HTTP/1.1\r\nHost: town\r\n");
  return socket;
}

Deno.test("town behind HAProxy terminating TLS: a paid job with a blob input; the per-address cap counts the real client from the PROXY header", async () => {
  const home = await Deno.makeTempDir({ prefix: "town_haproxy_tls_" });
  const certs = `${home}/tls`;
  await makeCertificates(certs);
  const caFile = `${certs}/ca.pem`;
  const ca = await Deno.readTextFile(caFile);
  // HAProxy's `crt`: the chain and the key in one file.
  const combined = `${certs}/haproxy.pem`;
  await Deno.writeTextFile(
    combined,
    (await Deno.readTextFile(`${certs}/server-1001.pem`)) +
      (await Deno.readTextFile(`${certs}/server-1001.key`)),
  );
  const [townPort, btpPort, frontHttp, frontBtp] = [freePort(), freePort(), freePort(), freePort()];
  await Deno.writeTextFile(
    `${home}/haproxy.cfg`,
    haproxyConfig(combined, [{ front: frontHttp, back: townPort }, {
      front: frontBtp,
      back: btpPort,
    }]),
  );
  const network = await initTlsJobNetwork({
    home,
    townPort,
    btpPort,
    relayUrl: `wss://127.0.0.1:${frontHttp}`,
    btpUrl: `btp+wss://127.0.0.1:${frontBtp}`,
    caFile,
  });
  const processes: CliProcess[] = [];
  const haproxy = new Deno.Command("haproxy", {
    args: ["-f", `${home}/haproxy.cfg`, "-db"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const held: tls.TLSSocket[] = [];
  try {
    const townUp = spawnCli(
      [
        "--profile",
        "town",
        "--json",
        "town",
        "up",
        "--trusted-proxy",
        "127.0.0.1",
        ...network.secret,
      ],
      {
        env: {
          ...network.env,
          TURNPIKE_TOWN_LIMIT_MAX_CONNECTIONS_PER_ADDRESS: String(CAP),
          // The held connections keep their slots for the test's length.
          TURNPIKE_TOWN_LIMIT_HTTP_HEAD_TIMEOUT_MS: "120000",
        },
      },
    );
    processes.push(townUp);
    await townUp.waitForLine((l) => l.includes('"town-up"'));
    await until("HAProxy serving", async () => {
      const r = await getFrom("127.0.0.1", frontHttp, caFile).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    });

    processes.push(await network.startProvider());
    await network.submitBlobJob();

    // The cap's worth from 127.0.0.2, then more from it until the town refuses one.
    for (let i = 0; i < CAP; i++) held.push(await holdFrom("127.0.0.2", frontHttp, ca));
    const refused = await until("the cap reached for 127.0.0.2", async () => {
      const r = await getFrom("127.0.0.2", frontHttp, caFile);
      return r.status === 503 ? r : undefined;
    });
    assertStringIncludes(refused.body, `too many connections from this address (max ${CAP})`);
    // Another client through the same HAProxy is its own address: served.
    const other = await getFrom("127.0.0.3", frontHttp, caFile);
    assertEquals(other.status, 200, other.body);
  } finally {
    for (const socket of held) socket.destroy();
    for (const p of processes.reverse()) {
      try {
        p.child.kill("SIGINT");
      } catch {
        // already gone
      }
      await p.done;
    }
    haproxy.kill("SIGTERM");
    await haproxy.output();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
