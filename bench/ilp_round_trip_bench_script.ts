/**
 * ILP round trip through the reference connector (sender BtpClient -> ilp-connector -> receiver
 * BtpClient -> FULFILL back), sequential and with 16 packets in flight, compared in the same run
 * with a direct BTP round trip to an ilp-plugin-btp server (Node) that fulfils itself.
 *
 *   deno run -A bench/ilp_round_trip_bench_script.ts [packets=2000]
 *
 * Stays under the connector's 10,000 packets/min per account (T05): one connector per run and
 * at most 2 x packets + warm-up through it. Any reject is counted and printed.
 *
 * @module
 */
import { freePort } from "../harness/free_port.ts";
import { startReferenceConnector } from "../harness/reference_connector.ts";
import { startIlpReceiver } from "../harness/ilp_receiver.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { fulfillmentFor, importFulfillmentKey } from "../protocol/ilp_fulfillment.ts";
import type { IlpPrepare } from "../protocol/ilp_packet.ts";
import { REFERENCE_PEERS_DIR } from "../harness/reference_peers.ts";

const PACKETS = Number(Deno.args[0] ?? 2000);
const WARMUP = 200;
const SECRET = crypto.getRandomValues(new Uint8Array(32));
const KEY = await importFulfillmentKey(SECRET);

interface Figures {
  p50: number;
  p99: number;
  max: number;
  perSecond: number;
  rejects: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Distinct data per packet: the connector answers a repeated identical PREPARE from cache. */
async function makePrepare(destination: string, i: number, run: string): Promise<IlpPrepare> {
  const data = new TextEncoder().encode(`${run}-${i}-${"x".repeat(200)}`);
  const { condition } = await fulfillmentFor(KEY, data);
  return {
    amount: "2000",
    destination,
    executionCondition: condition,
    expiresAt: new Date(Date.now() + 30_000),
    data,
  };
}

async function measure(
  client: BtpClient,
  destination: string,
  count: number,
  inFlight: number,
  run: string,
): Promise<Figures> {
  const prepares = await Promise.all(
    Array.from({ length: count }, (_, i) => makePrepare(destination, i, run)),
  );
  const latencies: number[] = [];
  const rejects: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const prepare = prepares[next++];
      prepare.expiresAt = new Date(Date.now() + 30_000);
      const t0 = performance.now();
      const reply = await client.sendPrepare(prepare);
      latencies.push(performance.now() - t0);
      if (reply.type === "reject") rejects[reply.code] = (rejects[reply.code] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1],
    perSecond: (count / elapsed) * 1000,
    rejects,
  };
}

/** ilp-plugin-btp as a BTP server under Node that fulfils every PREPARE with the same scheme. */
async function startDirectPeer(port: number, secret: string) {
  const script = `
    const Plugin = require('ilp-plugin-btp');
    const IlpPacket = require('ilp-packet');
    const crypto = require('crypto');
    const secret = Buffer.from(${JSON.stringify(Array.from(SECRET))});
    const key = crypto.createHmac('sha256', secret).update('ilp_stream_fulfillment').digest();
    const plugin = new Plugin({ listener: { port: ${port}, secret: ${JSON.stringify(secret)} } });
    plugin.registerDataHandler(async (data) => {
      const { data: payload } = IlpPacket.deserializeIlpPrepare(data);
      const fulfillment = crypto.createHmac('sha256', key).update(payload).digest();
      return IlpPacket.serializeIlpFulfill({ fulfillment, data: Buffer.alloc(0) });
    });
    plugin.connect();
    console.log('listening');
  `;
  const child = new Deno.Command("node", {
    args: ["-e", script],
    cwd: REFERENCE_PEERS_DIR.pathname,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("direct peer exited before listening");
    seen += value;
  }
  return {
    stop: async () => {
      child.kill("SIGKILL");
      await reader.cancel();
      await child.status;
    },
  };
}

function line(label: string, f: Figures): string {
  const rejects = Object.keys(f.rejects).length ? ` rejects=${JSON.stringify(f.rejects)}` : "";
  return `${label.padEnd(34)} p50 ${f.p50.toFixed(3)} ms  p99 ${f.p99.toFixed(3)} ms  max ${
    f.max.toFixed(1)
  } ms  ${f.perSecond.toFixed(0)} packets/s${rejects}`;
}

const connector = await startReferenceConnector({ accounts: { alice: {}, bob: {} } });
const receiver = await startIlpReceiver({
  url: connector.accounts.bob.url,
  authToken: connector.accounts.bob.secret,
  sharedSecret: SECRET,
});
const sender = new BtpClient({
  url: connector.accounts.alice.url,
  authToken: connector.accounts.alice.secret,
});
await sender.connect();
const directPort = freePort();
const direct = await startDirectPeer(directPort, "direct-secret");
const directClient = new BtpClient({
  url: `btp+ws://127.0.0.1:${directPort}`,
  authToken: "direct-secret",
});
await directClient.connect();

console.log(`ILP round trip, ${PACKETS} packets per row, 200-byte data, loopback, 2-core VM`);
try {
  await measure(sender, "test.conn.bob", WARMUP, 4, "warm");
  await measure(directClient, "test.direct", WARMUP, 4, "warm");
  console.log(
    line("connector, sequential", await measure(sender, "test.conn.bob", PACKETS, 1, "seq")),
  );
  console.log(
    line("direct BTP, sequential", await measure(directClient, "test.direct", PACKETS, 1, "seq")),
  );
  console.log(
    line("connector, 16 in flight", await measure(sender, "test.conn.bob", PACKETS, 16, "w16")),
  );
  console.log(
    line(
      "direct BTP, 16 in flight",
      await measure(directClient, "test.direct", PACKETS, 16, "w16"),
    ),
  );
} finally {
  await directClient.close();
  await direct.stop();
  await sender.close();
  await receiver.close();
  await connector.stop();
}
