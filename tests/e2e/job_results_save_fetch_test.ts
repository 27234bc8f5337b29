/**
 * `job results --save` against a hostile result (docs/PROTOCOL.md "Blobs in jobs"): its blobs are
 * fetched by hash from the profile's own town, never from the URL the result's tag names; a blob
 * the town holds larger than the tag states, or an agent task's sealed blob over what a provider
 * may seal, is refused with nothing written. Real processes: a town process (its Blossom store,
 * blobs paid over ILP), the `turnpike` CLI, and a server of the provider's choosing on loopback
 * that counts what it is asked.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { makeJobRecord } from "../../harness/job_record_factory.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { connectPayingClient, type PayingClient } from "../../harness/town_test_node.ts";
import { payBlob, randomBytes, sha256Hex, uploadBlob } from "../../harness/town_blob_kit.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import { blobOutputTag, type JobBlobOutput } from "../../protocol/job_blobs.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { signEventTemplate } from "../../identity/event_signer.ts";

/** A server of the provider's choosing: answers every path with endless zeros, counts requests. */
function attackerServer(): { url: string; hits: () => number; close(): Promise<void> } {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    const chunk = new Uint8Array(64 * 1024);
    return new Response(
      new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(chunk) }, { highWaterMark: 0 }),
    );
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hits: () => hits,
    close: () => server.shutdown(),
  };
}

interface World {
  relayUrl: string;
  attacker: ReturnType<typeof attackerServer>;
  /** Pays for `bytes` on the town and uploads them; their sha256. */
  put(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
  /**
   * A requester profile with one finished job of `record`'s kind whose stored result names
   * `blobs`: its state dir and job id.
   */
  profile(
    blobs: JobBlobOutput[],
    record?: Partial<RequesterJobRecord>,
  ): Promise<{ dir: string; id: string }>;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "results_save_" });
  const secretKey = generateSecretKey();
  const attacker = attackerServer();
  let payer: PayingClient | undefined;
  try {
    await using town = await startSharedTownProcess({ secretKey, blobsDir: `${root}/blobs` });
    payer = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${town.btpPort}`,
      token: "requester",
      townAddress: town.ilpAddress,
      townPubkey: getPublicKey(secretKey),
    });
    const paying = payer;
    let profiles = 0;
    await fn({
      relayUrl: `ws://127.0.0.1:${town.httpPort}`,
      attacker,
      async put(bytes) {
        const sha256 = await sha256Hex(bytes);
        const paid = await payBlob(paying, sha256, bytes.length, 200n);
        assertEquals(paid.reply.type, "fulfill", JSON.stringify(paid.reply));
        const up = await uploadBlob(town.httpPort, paid.auth, bytes);
        assertEquals(up.status, 200, up.text);
        return sha256;
      },
      async profile(blobs, overrides = {}) {
        const dir = `${root}/profile${++profiles}`;
        await Deno.mkdir(`${dir}/callbacks`, { recursive: true });
        const record = makeJobRecord(profiles, { status: "done", ...overrides });
        const audit = await openAuditLog({ dir });
        const repo = await openJobRepository({ stateDir: dir, audit });
        await repo.create(record);
        repo.close();
        await audit.close();
        const provider = generateSecretKey();
        const result = signEventTemplate({
          kind: record.kind + 1000,
          created_at: Math.floor(Date.now() / 1000),
          tags: [["e", record.id], ...blobs.map(blobOutputTag)],
          content: JSON.stringify({ status: "passed" }),
        }, provider);
        await Deno.writeTextFile(
          `${dir}/callbacks/${record.id}.in.payload`,
          encodeEventToon(result),
        );
        return { dir, id: record.id };
      },
    });
  } finally {
    await payer?.close();
    await attacker.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** `job results <id> --save <out>` of the profile, against the town `relayUrl`. */
function saveResults(w: World, p: { dir: string; id: string }, out: string) {
  return runCli([
    "--state-dir",
    p.dir,
    "--output",
    "json",
    "job",
    "results",
    p.id,
    "--save",
    out,
    "--relay-url",
    w.relayUrl,
  ]);
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

Deno.test("job results --save fetches each blob by its hash from the profile's town and never asks the server the result names", async () => {
  await withWorld(async (w) => {
    const log = randomBytes(300_000);
    const sha256 = await w.put(log);
    const p = await w.profile([
      { name: "build.log", url: `${w.attacker.url}/${sha256}`, sha256, size: log.length },
    ]);
    const out = `${p.dir}/out`;
    const run = await saveResults(w, p, out);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(await Deno.readFile(`${out}/build.log`), log);
    assertEquals(w.attacker.hits(), 0);
  });
});

Deno.test("job results --save refuses a blob the town holds larger than the result states, writing none of it", async () => {
  await withWorld(async (w) => {
    const log = randomBytes(300_000);
    const sha256 = await w.put(log);
    const p = await w.profile([
      { name: "build.log", url: `${w.attacker.url}/${sha256}`, sha256, size: 100_000 },
    ]);
    const out = `${p.dir}/out`;
    const run = await saveResults(w, p, out);
    assert(run.code !== 0, run.stdout);
    assertMatch(
      run.stderr,
      /cannot fetch the result's blob build\.log: .*over the limit of 100000/,
    );
    assertEquals(await listDir(out), []);
    assertEquals(w.attacker.hits(), 0);
  });
});

Deno.test("job results --save refuses an agent task's sealed blob over what a provider may seal before fetching it", async () => {
  await withWorld(async (w) => {
    // A transcript may be sealed up to 8 MiB + 289 bytes: this one is 9 MiB, on the town, and
    // its tag names the town, its hash and its true size: only its size is wrong.
    const sealed = randomBytes(9 * 1024 * 1024);
    const sha256 = await w.put(sealed);
    const url = `${w.relayUrl.replace("ws://", "http://")}/${sha256}`;
    const p = await w.profile(
      [{ name: "transcript.log.sealed", url, sha256, size: sealed.length }],
      { kind: 5603, skill: "agent-task" },
    );
    const out = `${p.dir}/out`;
    const run = await saveResults(w, p, out);
    assert(run.code !== 0, run.stdout);
    assertMatch(run.stderr, /transcript\.log\.sealed is 9437184 bytes, over the \d+ a provider/);
    assertEquals(await listDir(out), []);
  });
});
