// A job and an upstream that attack the provider through its model gateway
// (roles/agent_work/provider/agent_gateway.ts): the gateways run in a process of their own under a
// small descriptor limit (tests/support/gateway_host_process.ts), so that what they hold is read
// from
// /proc and an exhausted table ends that process, not the test's.
import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { startGatewayHost } from "../../../support/gateway_host_process.ts";
import { startStandInModelApi } from "../../../../harness/stand_in_model_api.ts";

const KEY = "sk-provider-secret";
const MiB = 1024 * 1024;
/** The provider's descriptor limit: a small host's. */
const OPEN_FILES = 1024;

/** One call through a gateway's socket, as the job's programs make it. */
async function call(socket: string, path = "/v1/messages"): Promise<Response> {
  using client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const res = await fetch(`http://127.0.0.1:8417${path}`, {
    method: "POST",
    body: JSON.stringify({ model: "m", max_tokens: 10, messages: [] }),
    client,
  });
  // Read here, while the client is open.
  return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
}

/** Samples `read` every few milliseconds until stopped; the highest seen. */
function peakOf(read: () => number): { stop(): number } {
  let peak = read();
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, read());
    } catch { /* the process is gone */ }
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

Deno.test("agent gateway attack: thousands of connections from one job are refused beyond its cap; the provider stays up, its descriptors bounded, and another job's call is served", async () => {
  await using api = await startStandInModelApi({ apiKey: KEY });
  await using host = await startGatewayHost({
    openFiles: OPEN_FILES,
    upstream: api.url,
    apiKey: KEY,
  });
  const before = { fds: host.descriptors(), rss: host.rssMiB() };
  const fds = peakOf(() => host.descriptors());
  const rss = peakOf(() => host.rssMiB());
  let refused = 0;
  let failedConnects = 0;
  // Six waves of 4,000 connections held open at once, as the probe made them from inside a job.
  for (let wave = 0; wave < 6 && host.alive(); wave++) {
    const conns: Deno.UnixConn[] = [];
    for (let i = 0; i < 4000; i += 200) {
      const batch = await Promise.allSettled(
        Array.from({ length: 200 }, () => Deno.connect({ transport: "unix", path: host.a })),
      );
      for (const r of batch) {
        if (r.status === "fulfilled") conns.push(r.value);
        else failedConnects++;
      }
    }
    // A connection past the cap was answered 503 and closed: read what came on the last 20.
    for (const conn of conns.slice(-20)) {
      const buf = new Uint8Array(512);
      const n = await conn.read(buf).catch(() => null);
      if (n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP/1.1 503")) {
        refused++;
      }
    }
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  const peakFds = fds.stop();
  const peakRss = rss.stop();
  console.log(
    `flood: descriptors ${before.fds} before, ${peakFds} at most, ${
      host.alive() ? host.descriptors() : "(dead)"
    } after; ` +
      `RSS ${before.rss.toFixed(0)} MiB before, ${peakRss.toFixed(0)} at most, ` +
      `${
        host.alive() ? host.rssMiB().toFixed(0) : "(dead)"
      } after; ${refused} of 120 read (the last 20 of each wave) got 503, ` +
      `${failedConnects} connects failed`,
  );
  assert(host.alive(), `the provider died: ${host.stderr().slice(-2000)}`);
  const served = await call(host.b);
  assertEquals(served.status, 200);
  assertEquals((await served.json()).usage.output_tokens, 200);
  // Job a itself is still served once its flood is over.
  assertEquals((await call(host.a)).status, 200);
  assert(refused > 0, "no connection past the cap was answered 503");
  assert(peakFds < OPEN_FILES / 4, `the provider held ${peakFds} descriptors`);
});

Deno.test("agent gateway attack: an upstream's 64 MiB event-stream line ends that call in an error, the provider's memory stays bounded, and other calls are served", async () => {
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  let sent = 0;
  // A hostile upstream: a streamed call gets one line of 64 MiB (no newline), then the usage;
  // any other call a plain JSON answer.
  await using hostile = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      if (!(await req.text()).includes('"stream":true')) {
        return Response.json({ usage: { input_tokens: 1000, output_tokens: 200 } });
      }
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i === 0) controller.enqueue(new TextEncoder().encode("data: "));
          if (i++ < 1024) {
            sent += chunk.length;
            return controller.enqueue(chunk);
          }
          controller.enqueue(
            new TextEncoder().encode('\ndata: {"usage":{"input_tokens":1,"output_tokens":1}}\n\n'),
          );
          controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  );
  await using host = await startGatewayHost({
    openFiles: OPEN_FILES,
    upstream: `http://127.0.0.1:${hostile.addr.port}`,
    apiKey: KEY,
  });
  const before = { fds: host.descriptors(), rss: host.rssMiB() };
  const rss = peakOf(() => host.rssMiB());
  const cpuBefore = cpuSeconds(host.pid);
  using client = Deno.createHttpClient({ proxy: { transport: "unix", path: host.a } });
  const res = await fetch("http://127.0.0.1:8417/v1/messages", {
    method: "POST",
    body: JSON.stringify({ model: "m", stream: true, messages: [] }),
    client,
  });
  assertEquals(res.status, 200);
  let received = 0;
  const failure = await (async () => {
    try {
      for await (const part of res.body!) received += part.length;
    } catch (err) {
      return err;
    }
  })();
  const cpu = cpuSeconds(host.pid) - cpuBefore;
  const peakRss = rss.stop();
  console.log(
    `64 MiB line: ${(received / MiB).toFixed(1)} MiB reached the caller, ` +
      `${(sent / MiB).toFixed(1)} MiB sent by the upstream; RSS ${before.rss.toFixed(0)} MiB ` +
      `before, ${peakRss.toFixed(0)} at most, ${host.rssMiB().toFixed(0)} after; ` +
      `${cpu.toFixed(2)} s of CPU; descriptors ${before.fds} before, ${host.descriptors()} after`,
  );
  assert(failure !== undefined, `the 64 MiB line was passed whole (${received} bytes)`);
  assert(host.alive(), `the provider died: ${host.stderr().slice(-2000)}`);
  // Another job's call on the same upstream is served.
  const other = await call(host.b);
  assertEquals(other.status, 200);
  assertEquals((await other.json()).usage.output_tokens, 200);
  assertStringIncludes(String(failure), "error");
  assert(received < 4 * MiB, `${received} bytes of the line reached the caller`);
  assert(
    peakRss - before.rss < 256,
    `the provider's RSS grew from ${before.rss} to ${peakRss} MiB`,
  );
});

/** User and system CPU of a process, in seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
