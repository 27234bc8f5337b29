/**
 * A provider's blob inputs (docs/PROTOCOL.md "Blobs in jobs"), with `turnpike node up` as a real
 * process against a real town: an input over the provider's limit is refused before anyone
 * pays; bytes that do not match the job's sha256 (a hostile server) are refused before the
 * sandbox starts; a provider SIGKILLed while it downloads completes the job after a restart,
 * once, paid once.
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { buildJobRequest, parseJobFeedback } from "../../protocol/nip90_job.ts";
import { blobInputTags, blobOutputsOf } from "../../protocol/job_blobs.ts";
import { publishBlob } from "../../roles/blob_publisher.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import {
  connectTestRequester,
  feedbackOf,
  PROVIDER_TOKEN,
  resultOf,
  startProviderTestTown,
  type TestRequester,
  waitUntil,
} from "../../harness/provider_test_kit.ts";
import type { TownNode } from "../../roles/town/town_node.ts";
import { readProviderJobRecord } from "../../state/jobs/provider_job_store.ts";
import type { ProviderJobRecord } from "../../state/jobs/provider_job_record.ts";
import { hashFile } from "../../transport/blossom_client.ts";

interface World {
  root: string;
  town: TownNode;
  alice: TestRequester;
  startNode(
    extra?: string[],
  ): Promise<{ child: Deno.ChildProcess; pubkey: string; done: Promise<Deno.CommandStatus> }>;
  /** A ci-run project of `size` random bytes whose test checks them, published as a blob. */
  project(size: number): Promise<{ url: string; sha256: string }>;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "provider-blob-" });
  const town = await startProviderTestTown();
  const alice = await connectTestRequester({ town });
  const children: Deno.ChildProcess[] = [];
  await Deno.writeTextFile(`${root}/pass`, "blob input test passphrase\n");
  await initWalletWithCli({ stateDir: `${root}/state`, passphraseFile: `${root}/pass` });
  const world: World = {
    root,
    town,
    alice,
    async startNode(extra = []) {
      const node = spawnCli([
        "--state-dir",
        `${root}/state`,
        "--output",
        "json",
        "node",
        "up",
        "--connector-btp-url",
        `btp+ws://127.0.0.1:${town.btpPort}`,
        "--btp-token",
        PROVIDER_TOKEN,
        "--relay-url",
        `ws://127.0.0.1:${town.httpPort}`,
        "--passphrase-file",
        `${root}/pass`,
        "--non-interactive",
        ...extra,
      ]);
      children.push(node.child);
      const line = await node.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"'));
      return { child: node.child, pubkey: JSON.parse(line).pubkey, done: node.done };
    },
    async project(size) {
      const dir = `${root}/project-${size}`;
      await Deno.mkdir(dir);
      const f = await Deno.open(`${dir}/data.bin`, { write: true, create: true });
      const chunk = new Uint8Array(65536);
      for (let left = size; left > 0; left -= chunk.length) {
        crypto.getRandomValues(chunk);
        await f.write(chunk.subarray(0, Math.min(chunk.length, left)));
      }
      f.close();
      await Deno.writeTextFile(`${dir}/data.sha256`, (await hashFile(`${dir}/data.bin`)).sha256);
      await Deno.writeTextFile(
        `${dir}/test.sh`,
        '[ "$(cat data.sha256)" = "$(sha256sum data.bin | cut -d" " -f1)" ] && echo "1 passed, 0 failed"\n',
      );
      const tar = `${root}/project-${size}.tar.gz`;
      const { success } = await new Deno.Command("tar", { args: ["-czf", tar, "-C", dir, "."] })
        .output();
      assert(success, "tar");
      const { descriptor } = await publishBlob({
        path: tar,
        server: `http://127.0.0.1:${town.httpPort}`,
        pricePerMiB: 200n,
        signer: localNodeSigner(alice.secretKey),
        pay: (auth, amount) => alice.paying.write(auth, { amount }),
      });
      return { url: descriptor.url, sha256: descriptor.sha256 };
    },
  };
  try {
    await fn(world);
  } finally {
    // A clean stop: a killed provider's git child could still be writing into the state dir.
    for (const c of children) {
      try {
        c.kill("SIGINT");
      } catch { /* exited */ }
      const killer = setTimeout(() => {
        try {
          c.kill("SIGKILL");
        } catch { /* exited */ }
      }, 10_000);
      await c.status;
      clearTimeout(killer);
    }
    await alice.close();
    await town.stop();
    await Deno.remove(root, { recursive: true });
  }
}

function ciJob(provider: string, blob: { url: string; sha256: string }) {
  return buildJobRequest({
    kind: 5600,
    params: [{ name: "cmd", values: ["sh test.sh"] }],
    providers: [provider],
    bid: 100_000n,
    extraTags: blobInputTags(blob),
  });
}

Deno.test("provider blob inputs: over the provider's limit, refused before anyone pays", async () => {
  await withWorld(async (w) => {
    const node = await w.startNode(["--max-input-bytes", "4096"]);
    const blob = await w.project(100_000);
    const job = await w.alice.post(ciJob(node.pubkey, blob));
    const err = parseJobFeedback(await w.alice.waitFor(feedbackOf(job.id, "error")));
    assertStringIncludes(err.extraInfo ?? "", "at most 4096 bytes of input");
    assert(!w.alice.seen().some(feedbackOf(job.id, "payment-required")), "no invoice was sent");
  });
});

Deno.test("provider blob inputs: bytes that do not hash to the job's x are refused before the sandbox", async () => {
  await withWorld(async (w) => {
    // A hostile Blossom server: answers any blob with other bytes.
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(crypto.getRandomValues(new Uint8Array(1000))),
    );
    try {
      const node = await w.startNode();
      const sha256 = "ab".repeat(32);
      const url = `http://127.0.0.1:${server.addr.port}/${sha256}`;
      const job = await w.alice.post(ciJob(node.pubkey, { url, sha256 }));
      await w.alice.payInvoice(await w.alice.waitFor(feedbackOf(job.id, "payment-required")));
      const err = parseJobFeedback(await w.alice.waitFor(feedbackOf(job.id, "error")));
      assertStringIncludes(err.extraInfo ?? "", "sha256 mismatch");
      const cache = [...Deno.readDirSync(`${w.root}/state/blob-cache`)];
      assertEquals(cache.map((e) => e.name), [], "nothing kept of the bad bytes");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("provider blob inputs: SIGKILLed mid-download, restarted: the job completes once, paid once", async () => {
  await withWorld(async (w) => {
    let node = await w.startNode();
    const provider = node.pubkey;
    const blob = await w.project(40_000_000);
    const job = await w.alice.post(ciJob(provider, blob));
    const paid = w.alice.payInvoice(await w.alice.waitFor(feedbackOf(job.id, "payment-required")));
    // A download writes `<hash>.<random>.part` (its own part file), renamed when whole.
    const downloading = async () => {
      for await (const e of Deno.readDir(`${w.root}/state/blob-cache`)) {
        if (e.name.startsWith(`${blob.sha256}.`) && e.name.endsWith(".part")) return true;
      }
      return false;
    };
    await waitUntil(() => downloading().catch(() => false), 30_000, "the download in progress");
    node.child.kill("SIGKILL");
    await node.done;
    assertEquals((await paid).reply.type, "fulfill");
    node = await w.startNode();
    const result = await w.alice.waitFor(resultOf(job.id), 60_000);
    // The report is the content, or the `result` blob when it is over ci-run's result_bytes.
    const blobbed = blobOutputsOf(result.tags).find((b) => b.name === "result");
    const report = result.content || await (await fetch(blobbed!.url)).text();
    assertStringIncludes(report, '"status":"passed"');
    // The record turns `published` just after the result goes out. Read as a file: opening the
    // store beside the running provider would remove its writes' temp files.
    let record: ProviderJobRecord | undefined;
    await waitUntil(
      async () => {
        record = await readProviderJobRecord(`${w.root}/state`, job.id);
        return record?.status === "published";
      },
      60_000,
      "the job published",
    ).catch((err) => {
      throw new Error(`${err.message} (its record: ${record?.status ?? "none"})`, { cause: err });
    });
    assertEquals(record!.attempts, 2, "one run killed mid-download, one that finished");
    // One invoice, one payment, one result.
    const invoices = w.alice.seen().filter(feedbackOf(job.id, "payment-required"));
    assertEquals(invoices.length, 1);
    assertEquals(w.alice.seen().filter(resultOf(job.id)).length, 1);
  });
});
