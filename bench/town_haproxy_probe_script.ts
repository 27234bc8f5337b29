/**
 * Tries a town on two processes behind HAProxy (Debian's `haproxy`, TCP mode), as on two
 * hosts (docs/OPERATIONS.md, "A town on several machines"): both processes on their own ports
 * and one PostgreSQL; HAProxy's two ports are the town's one address. Paid writes stream
 * through HAProxy's BTP port; one process is killed (SIGKILL) midway; writers reconnect to the
 * same address and go on. Prints the writes FULFILLed before and after, how many were served
 * from HAProxy's NIP-01 port afterwards, and the reconnects.
 *
 * Run (as root or with haproxy on PATH): deno run -A bench/town_haproxy_probe_script.ts
 */
import { freePort } from "../harness/free_port.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { startSharedTownProcess } from "../harness/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../harness/town_test_node.ts";

/**
 * The HAProxy configuration of docs/OPERATIONS.md for two town processes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { haproxyConfig } from "./town_haproxy_probe_script.ts";
 *
 * const cfg = haproxyConfig({ http: 7100, btp: 3000 }, [{ host: "10.0.0.1", http: 7100, btp: 3000 }]);
 * assert.match(cfg, /bind 127\.0\.0\.1:7100/);
 * assert.match(cfg, /server town0 10\.0\.0\.1:3000 check port 7100/);
 * ```
 */
export function haproxyConfig(
  front: { http: number; btp: number },
  towns: { host: string; http: number; btp: number }[],
): string {
  const servers = (port: "http" | "btp") =>
    towns.map((t, i) =>
      `  server town${i} ${t.host}:${t[port]} check port ${t.http} inter 1s fall 2 rise 2`
    ).join("\n");
  return `global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend nostr
  bind 127.0.0.1:${front.http}
  default_backend towns_http
frontend btp
  bind 127.0.0.1:${front.btp}
  default_backend towns_btp
backend towns_http
  balance leastconn
  option httpchk
  http-check send meth GET uri /health ver HTTP/1.1 hdr Host town
  http-check expect status 200
${servers("http")}
backend towns_btp
  balance leastconn
  option httpchk
  http-check send meth GET uri /health ver HTTP/1.1 hdr Host town
  http-check expect status 200
${servers("btp")}
`;
}

if (import.meta.main) {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const key = generateSecretKey();
  const a = await startSharedTownProcess({ storeUrl, secretKey: key });
  const b = await startSharedTownProcess({ storeUrl, secretKey: key });
  const front = { http: freePort(), btp: freePort() };
  const dir = await Deno.makeTempDir({ prefix: "haproxy_probe_" });
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    haproxyConfig(
      front,
      [a, b].map((t) => ({ host: "127.0.0.1", http: t.httpPort, btp: t.btpPort })),
    ),
  );
  const haproxy = new Deno.Command("haproxy", {
    args: ["-f", `${dir}/haproxy.cfg`, "-db"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const early = await Promise.race([
    haproxy.status.then((status) => status.code),
    new Promise((r) => setTimeout(r, 1500)),
  ]);
  if (typeof early === "number") {
    throw new Error(`haproxy exited ${early}: ${await new Response(haproxy.stderr).text()}`);
  }
  const fulfilled = new Set<string>();
  let reconnects = 0;
  let stop = false;
  const loop = async (n: number) => {
    let client: PayingClient | undefined;
    let pending;
    while (!stop || pending) {
      try {
        client ??= await connectPayingClient({
          url: `btp+ws://127.0.0.1:${front.btp}`,
          token: `w${n}`,
          townAddress: "test.town",
          townPubkey: getPublicKey(key),
        });
        pending ??= client.sign();
        const reply = await client.write(pending);
        // Sent again after a dead process committed it: the town's free duplicate REJECT.
        if (reply.type === "fulfill" || await client.isDuplicate(pending, reply)) {
          fulfilled.add(pending.id);
          pending = undefined;
        }
      } catch {
        await client?.close().catch(() => {});
        client = undefined;
        reconnects++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client?.close();
  };
  const loops = Array.from({ length: 8 }, (_, n) => loop(n));
  while (fulfilled.size < 200) await new Promise((r) => setTimeout(r, 50));
  await a.kill();
  const atKill = fulfilled.size;
  const t0 = performance.now();
  while (fulfilled.size < atKill + 200) await new Promise((r) => setTimeout(r, 50));
  const afterMs = performance.now() - t0;
  stop = true;
  await Promise.all(loops);
  // Everything FULFILLed is served through HAProxy's NIP-01 port (by the survivor).
  const ws = new WebSocket(`ws://127.0.0.1:${front.http}`);
  await new Promise((r) => ws.onopen = r);
  const served = new Set<string>();
  await new Promise<void>((resolve) => {
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg[0] === "EVENT") served.add(msg[2].id);
      if (msg[0] === "EOSE") resolve();
    };
    ws.send(JSON.stringify(["REQ", "all", { kinds: [1], limit: 5000 }]));
  });
  ws.close();
  const missing = [...fulfilled].filter((id) => !served.has(id)).length;
  console.log(
    `HAProxy ${front.http}/${front.btp} -> 2 town processes: ${atKill} FULFILLed before the ` +
      `SIGKILL, ${fulfilled.size - atKill} after (the next 200 took ${afterMs.toFixed(0)} ms), ` +
      `${reconnects} reconnects; ${served.size} served through HAProxy, ${missing} FULFILLed ` +
      "writes missing",
  );
  haproxy.kill("SIGTERM");
  await haproxy.status;
  await b.stop();
  await Deno.remove(dir, { recursive: true });
}
