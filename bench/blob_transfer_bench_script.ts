/**
 * Blob transfer through a town (`turnpike town up` in its own process) vs the obvious
 * alternative in the same run: a plain HTTP server (also its own process) that streams a PUT
 * body to a file and serves GETs from it, with no hashing, payment or fsync. The same client
 * downloads from both (streamed to a file, sha256 verified). Prints MiB/s for upload and
 * download of each, the ratios, and both servers' peak RSS (VmHWM).
 *
 * Run: deno run -A bench/blob_transfer_bench_script.ts [MiB, default 256]
 *
 * @module
 */
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { generateSecretKey } from "nostr-tools";
import { connectPayingClient } from "../harness/town_test_node.ts";
import { spawnCli } from "../harness/cli_process.ts";
import { publishBlob } from "../roles/blob_publisher.ts";
import { downloadBlob, hashFile } from "../transport/blossom_client.ts";

const mib = Number(Deno.args[0] ?? 256);
const size = mib * 1024 * 1024;
const root = await Deno.makeTempDir({ prefix: "turnpike-blob-bench-" });

function peakRssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, (performance.now() - t0) / 1000];
}

const PLAIN_SERVER = `
const [dir] = Deno.args;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(port) },
  async (req) => {
    const path = dir + "/blob";
    if (req.method === "PUT") {
      const f = await Deno.open(path, { write: true, create: true, truncate: true });
      for await (const c of req.body) for (let at = 0; at < c.length;) at += f.writeSync(c.subarray(at));
      f.close();
      return new Response("ok");
    }
    const f = await Deno.open(path);
    return new Response(f.readable, { headers: { "content-length": String((await f.stat()).size) } });
  });
await server.finished;
`;

try {
  const file = `${root}/blob.bin`;
  const f = await Deno.open(file, { write: true, create: true });
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    for (let at = 0; at < chunk.length; at += 65536) {
      crypto.getRandomValues(chunk.subarray(at, at + 65536));
    }
    await f.write(chunk);
  }
  f.close();
  const { sha256 } = await hashFile(file);

  // The town, in its own process.
  const town = spawnCli([
    "--state-dir",
    `${root}/town`,
    "--output",
    "json",
    "town",
    "up",
    "--generate-key",
    "--town-port",
    "0",
    "--btp-port",
    "0",
    "--peer",
    "bench:b",
    "--max-blob-bytes",
    String(size * 2),
    "--blob-quota-bytes",
    String(size * 4),
  ]);
  const info = JSON.parse(await town.waitForLine((l) => l.includes('"town-up"')));
  const server = `http://127.0.0.1:${info.httpPort}`;
  const client = await connectPayingClient({
    url: `btp+ws://127.0.0.1:${info.btpPort}`,
    token: "b",
    townAddress: info.ilpAddress,
    townPubkey: info.pubkey,
  });
  const [, townUp] = await timed(() =>
    publishBlob({
      path: file,
      server,
      pricePerMiB: 200n,
      signer: localNodeSigner(generateSecretKey()),
      pay: (auth, amount) => client.write(auth, { amount }),
    })
  );
  const [, townDown] = await timed(() =>
    downloadBlob({ url: `${server}/${sha256}`, sha256, maxBytes: size, to: `${root}/town-copy` })
  );
  const townRss = peakRssMiB(town.child.pid);
  await client.close();
  town.child.kill("SIGINT");
  await town.done;

  // The plain server, in its own process too.
  await Deno.mkdir(`${root}/plain`);
  await Deno.writeTextFile(`${root}/plain.ts`, PLAIN_SERVER);
  const plain = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/plain.ts`, `${root}/plain`],
    stdout: "piped",
  }).spawn();
  const reader = plain.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value!.trim());
  const plainUrl = `http://127.0.0.1:${port}/blob`;
  const [, plainUp] = await timed(async () => {
    const body = (await Deno.open(file)).readable;
    const r = await fetch(plainUrl, { method: "PUT", body });
    await r.text();
  });
  const [, plainDown] = await timed(() =>
    downloadBlob({ url: plainUrl, sha256, maxBytes: size, to: `${root}/plain-copy` })
  );
  const plainRss = peakRssMiB(plain.pid);
  plain.kill("SIGTERM");
  await plain.status;

  const rate = (s: number) => (mib / s).toFixed(0);
  console.log(`${mib} MiB blob, loopback`);
  console.log(
    `upload:   town ${rate(townUp)} MiB/s (${townUp.toFixed(2)} s, incl. payment, sha256, fsync)` +
      ` vs plain ${rate(plainUp)} MiB/s (${plainUp.toFixed(2)} s): ratio ${
        (townUp / plainUp).toFixed(2)
      }`,
  );
  console.log(
    `download: town ${rate(townDown)} MiB/s (${townDown.toFixed(2)} s)` +
      ` vs plain ${rate(plainDown)} MiB/s (${plainDown.toFixed(2)} s): ratio ${
        (townDown / plainDown).toFixed(2)
      }`,
  );
  console.log(`peak RSS: town ${townRss.toFixed(0)} MiB, plain server ${plainRss.toFixed(0)} MiB`);
} finally {
  await Deno.remove(root, { recursive: true });
}
