/**
 * A town on TLS (`wss://`, `btp+wss://`) against connections that never send a ClientHello, from
 * one address: each port holds at most its per-address cap of them and closes the rest at once,
 * closes the held ones at the head deadline (transport/tls_listener.ts says why that needs a
 * plain listener in front of TLS), and an honest `wss://` client from another address is served
 * during the attack. The town listens on `::`: the attack comes from `::1`, the honest client
 * from 127.0.0.1 (the test certificates name 127.0.0.1).
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { makeCertificates } from "../support/test_certificates.ts";
import { startTestTown } from "../../harness/town_test_node.ts";
import { openWebSocket } from "../../transport/nodelay_websocket.ts";

const ATTACK = 200;
const CAP = 16;
/**
 * How long a wait may take before the test fails instead of hanging: a guard against a bug
 * turning into a stuck suite, far above any healthy wait (not a timing assertion).
 */
const HANG_GUARD_MS = 60_000;

/** Resolves when the town closes `conn` (a read ends), or rejects at the hang guard. */
function closedByTown(conn: Deno.TcpConn): Promise<void> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(
      () => reject(new Error("not closed in 60 s (hang guard)")),
      HANG_GUARD_MS,
    );
    conn.read(new Uint8Array(64)).catch(() => null).then(() => {
      clearTimeout(guard);
      resolve();
    });
  });
}

/** Resolves once `count` of `waits` have resolved. */
function firstOf(waits: Promise<void>[], count: number): Promise<void> {
  let done = 0;
  return new Promise((resolve, reject) => {
    for (const wait of waits) {
      wait.then(() => ++done === count && resolve(), reject);
    }
  });
}

/** A REQ over `wss://` answered with EOSE. */
async function honestRead(url: string, ca: string): Promise<void> {
  const ws = openWebSocket(url, { caCerts: [ca] });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", () => reject(new Error("the honest client did not connect")));
  });
  const eose = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String((e as MessageEvent).data));
      if (msg[0] === "EOSE" && msg[1] === "honest") resolve();
    })
  );
  ws.send(JSON.stringify(["REQ", "honest", { limit: 1 }]));
  await eose;
  await new Promise((resolve) => {
    ws.addEventListener("close", resolve);
    ws.close();
  });
}

async function metric(url: string, client: Deno.HttpClient, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { client })).text();
  const line = text.split("\n").find((l) => l.startsWith(`turnpike_town_${name} `));
  assert(line !== undefined, `metric ${name} missing`);
  return Number(line.split(" ")[1]);
}

for (const port of ["wss", "btp+wss"] as const) {
  Deno.test(`tls flood: ${ATTACK} silent connections from one address on the ${port} port: at most the cap held, the rest closed at once, the held ones at the deadline, an honest client served`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "town_tls_flood_" });
    await makeCertificates(dir);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const client = Deno.createHttpClient({ caCerts: [ca] });
    const town = await startTestTown({
      host: "::",
      tls: { certFile: `${dir}/server-1001.pem`, keyFile: `${dir}/server-1001.key` },
      limits: {
        maxConnectionsPerAddress: CAP,
        httpHeadTimeoutMs: 5000,
        btpHandshakeTimeoutMs: 5000,
      },
    });
    const https = `https://127.0.0.1:${town.httpPort}`;
    try {
      const target = port === "wss" ? town.httpPort : town.btpPort;
      const conns: Deno.TcpConn[] = [];
      for (let i = 0; i < ATTACK; i++) {
        conns.push(await Deno.connect({ hostname: "::1", port: target }));
      }
      const closes = conns.map(closedByTown);
      // The connections over the cap are closed without waiting for any deadline...
      await firstOf(closes, ATTACK - CAP);
      // ...while the town still holds the ones within it (they send nothing), an honest client
      // from another address is served.
      await honestRead(`wss://127.0.0.1:${town.httpPort}`, ca);
      assertEquals((await fetch(`${https}/health`, { client })).status, 200);
      const refused = port === "wss"
        ? "connections_refused_total"
        : "btp_connections_refused_total";
      assert(await metric(https, client, refused) >= ATTACK - CAP);
      // The held ones end at the head deadline, counted as failed handshakes.
      await Promise.all(closes);
      const failed = port === "wss"
        ? "http_handshakes_failed_total"
        : "btp_handshakes_failed_total";
      assertEquals(await metric(https, client, failed), CAP);
      for (const conn of conns) conn.close();
    } finally {
      await town.stop();
      client.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
