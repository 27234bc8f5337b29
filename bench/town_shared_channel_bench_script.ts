/**
 * A town on several processes: payment channel claims and blobs across processes.
 *
 * 1. Claims/s: writes each paid by a new claim on one real channel (anvil), through real
 *    `turnpike town up` processes: one process on SQLite (books in the process and its channel
 *    file), then one and two processes on one PostgreSQL (books shared, decided under a row
 *    lock, state/postgres/postgres_claim_books.ts); 8 writes in flight in all (split over the
 *    processes); writes/s and p50/p99 per write.
 * 2. Blob download: a blob uploaded through process A (town processes sharing `[store]
 *    blobs_dir`), downloaded from A and from B: MiB/s and p50 per download.
 *
 * Run: deno run -A bench/town_shared_channel_bench_script.ts [writes=1500] [blobMiB=16]
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { startChannelPair } from "../harness/anvil_channel_pair.ts";
import { BOB_MNEMONIC } from "../harness/anvil_channel_pair.ts";
import { chainToml } from "../harness/chain_toml.ts";
import { createCliWallet } from "../harness/cli_wallet.ts";
import { type CliTown, startCliTown } from "../harness/cli_town.ts";
import { type ClaimClient, connectClaimClient } from "../harness/channel_town.ts";
import { openPairChannel } from "../harness/pair_channel.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { startSharedTownProcess } from "../harness/shared_town_process.ts";
import { connectPayingClient } from "../harness/town_test_node.ts";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { channelFilePath, readChannel, saveChannel } from "../state/channels/channel_file.ts";
import { authorizationHeader } from "../protocol/blob_authorization.ts";
import { payBlob, randomBytes, sha256Hex } from "../harness/town_blob_kit.ts";

const WRITES = Number(Deno.args[0] ?? 1500);
const BLOB_MIB = Number(Deno.args[1] ?? 16);
const IN_FLIGHT = 8;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function claimRun(
  label: string,
  towns: CliTown[],
  aliceDir: string,
  channelId: `0x${string}`,
  aliceKey: Uint8Array,
): Promise<void> {
  const record = await readChannel(channelFilePath(aliceDir, channelId));
  const clients: ClaimClient[] = [];
  for (const town of towns) {
    clients.push(
      await connectClaimClient({
        url: town.btpUrl,
        townAddress: town.field("ilpAddress"),
        townPubkey: town.field("pubkey"),
        stateDir: aliceDir,
        secretKey: aliceKey,
        record,
        shareClaimsOf: clients[0],
      }),
    );
  }
  const events = Array.from({ length: WRITES }, (_, i) => clients[0].sign(`bench ${label} ${i}`));
  const latencies: number[] = [];
  let next = 0;
  let rejected = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, lane) => {
    const client = clients[lane % clients.length];
    while (next < WRITES) {
      const event = events[next++];
      const t0 = performance.now();
      const { reply } = await client.write(event);
      latencies.push(performance.now() - t0);
      if (reply.type !== "fulfill") rejected++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  for (const c of clients) await c.close();
  latencies.sort((a, b) => a - b);
  console.log(
    `| ${label} | ${Math.round(WRITES / seconds)}/s | ${
      percentile(latencies, 0.5).toFixed(1)
    } ms | ` +
      `${percentile(latencies, 0.99).toFixed(1)} ms | ${rejected} |`,
  );
}

async function claimsBench(): Promise<void> {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "bench_shared_channel_" });
  try {
    const peers = `[town]
ilp_address = "test.shtown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channelId}"
credit_limit = "0"

${chainToml(pair)}`;
    const lone = await createCliWallet({
      dir,
      name: "lone",
      mnemonic: BOB_MNEMONIC,
      config: peers,
    });
    const bob = await createCliWallet({
      dir,
      name: "town0",
      mnemonic: BOB_MNEMONIC,
      config: `[store]\nurl = "${storeUrl}"\nprocesses = 2\n\n${peers}`,
    });
    for (const w of [lone, bob]) {
      const recovered = await w.run(["channel", "recover"]);
      if (recovered.code !== 0) throw new Error(recovered.stderr);
    }
    await new Deno.Command("cp", { args: ["-a", bob.stateDir, `${dir}/town1`] }).output();
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const up = (stateDir: string) =>
      startCliTown({ stateDir, secret: bob.secret, ready: (l) => l.includes("settles") });
    console.log(`\n${WRITES} writes, each with a new claim, ${IN_FLIGHT} in flight in all\n`);
    console.log("| town | writes/s | p50 | p99 | rejected |\n| --- | --- | --- | --- | --- |");
    {
      await using town = await up(lone.stateDir);
      await claimRun("SQLite, 1 process", [town], aliceDir, channelId, pair.aliceKey);
    }
    {
      await using town = await up(bob.stateDir);
      await claimRun("PostgreSQL, 1 process", [town], aliceDir, channelId, pair.aliceKey);
    }
    {
      await using a = await up(bob.stateDir);
      await using b = await up(`${dir}/town1`);
      await claimRun("PostgreSQL, 2 processes", [a, b], aliceDir, channelId, pair.aliceKey);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function blobBench(): Promise<void> {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const blobsDir = await Deno.makeTempDir({ prefix: "bench_shared_blobs_" });
  const secretKey = generateSecretKey();
  try {
    await using a = await startSharedTownProcess({ storeUrl, secretKey, blobsDir });
    await using b = await startSharedTownProcess({ storeUrl, secretKey, blobsDir });
    const payer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${a.btpPort}`,
      token: "p",
      townAddress: "test.town",
      townPubkey: getPublicKey(secretKey),
    });
    const size = BLOB_MIB * 1024 * 1024;
    const bytes = randomBytes(size);
    const sha256 = await sha256Hex(bytes);
    const { reply: paid, auth } = await payBlob(payer, sha256, size, 200n);
    if (paid.type !== "fulfill") throw new Error(`blob payment: ${JSON.stringify(paid)}`);
    const up = await fetch(`http://127.0.0.1:${a.httpPort}/upload`, {
      method: "PUT",
      headers: { authorization: authorizationHeader(auth), "content-length": String(size) },
      body: bytes,
    });
    if (up.status !== 200) throw new Error(`upload: ${up.status} ${await up.text()}`);
    await up.body?.cancel();
    await payer.close();
    console.log(`\n${BLOB_MIB} MiB blob uploaded through A, 20 downloads each\n`);
    console.log("| from | MiB/s | p50 per download |\n| --- | --- | --- |");
    for (const [label, port] of [["A (uploaded there)", a.httpPort], ["B", b.httpPort]] as const) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/${sha256}`);
        let n = 0;
        for await (const chunk of res.body!) n += chunk.length;
        times.push(performance.now() - t0);
        if (n !== size) throw new Error(`short download: ${n}`);
      }
      times.sort((x, y) => x - y);
      const total = times.reduce((s, t) => s + t, 0) / 1000;
      console.log(
        `| ${label} | ${Math.round((20 * BLOB_MIB) / total)} | ${
          percentile(times, 0.5).toFixed(1)
        } ms |`,
      );
    }
  } finally {
    await Deno.remove(blobsDir, { recursive: true });
  }
}

await claimsBench();
await blobBench();
