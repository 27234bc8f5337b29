/**
 * What one job costs each side at the default prices (10 base units per TOON byte, 200 per MiB
 * of blob), split by category, from both payment logs: echo, ci-run on the sample project, and
 * ci-run on a project with 50 MB of incompressible data (its context a blob).
 *
 * Run: deno run -A bench/job_costs_bench_script.ts
 *
 * @module
 */
import { startRequesterNetwork } from "../harness/requester_network.ts";
import { archiveProject } from "../roles/requester/project_archive.ts";
import type { JobSpec } from "../roles/requester/job_spec.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { summarizePayments } from "../state/payments/payment_summary.ts";

const net = await startRequesterNetwork();
const req = await net.startRequester();

function spec(kind: number, over: Partial<JobSpec>): JobSpec {
  return {
    kind,
    inputs: [],
    params: [],
    bid: 1_000_000n,
    providers: [],
    skill: "none",
    timeoutMs: 300_000,
    encrypt: false,
    then: [],
    ...over,
  };
}

async function costOf(label: string, make: () => Promise<JobSpec>, blobJob?: string) {
  const s = await make();
  const job = await req.submit(s);
  const done = await req.waitFor(job.id);
  if (done.status !== "done") throw new Error(`${label}: ${done.status} ${done.error}`);
  const ids = [job.id, ...(blobJob ? [blobJob] : [])];
  const side = async (dir: string) =>
    summarizePayments(
      (await openPaymentLog({ stateDir: dir })).entries().filter((e) => ids.includes(e.jobId)),
    )[0];
  const r = await side(req.stateDir);
  const p = await side(`${net.root}/provider`);
  const cat = (t: { byCategory: Record<string, bigint> } | undefined, c: string) =>
    t?.byCategory[c] ?? 0n;
  console.log(
    `${label.padEnd(22)} requester: provider ${cat(r?.spent, "job")}, town writes ` +
      `${cat(r?.spent, "town-write")}, blobs ${
        cat(r?.spent, "town-blob")
      }, total ${r?.spent.total}` +
      ` | provider: earned ${cat(p?.earned, "job")}, town writes ${cat(p?.spent, "town-write")}, ` +
      `blobs ${cat(p?.spent, "town-blob")}, net ${p?.net}`,
  );
}

async function blobProject(dir: string, extra: number): Promise<{ url: string; sha256: string }> {
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir("fixtures/projects/passing")) {
    await Deno.copyFile(`fixtures/projects/passing/${e.name}`, `${dir}/${e.name}`);
  }
  if (extra > 0) {
    const f = await Deno.open(`${dir}/data.bin`, { write: true, create: true });
    const chunk = new Uint8Array(65536);
    for (let left = extra; left > 0; left -= chunk.length) {
      crypto.getRandomValues(chunk);
      await f.write(chunk.subarray(0, Math.min(left, chunk.length)));
    }
    f.close();
  }
  await archiveProject(dir, `${dir}.tar.gz`);
  const blob = await req.publishBlob(`${dir}.tar.gz`);
  lastBlob = `blob:${blob.sha256}`;
  return blob;
}
let lastBlob = "";

try {
  console.log("one job each, default prices (base units; asset scale 6: 1,000,000 = 1 unit)");
  await costOf(
    "echo",
    () => Promise.resolve(spec(5601, { inputs: [{ data: "hello", type: "text" }] })),
  );
  const small = await blobProject(`${net.root}/small`, 0);
  await costOf(
    "ci-run (sample)",
    () =>
      Promise.resolve(
        spec(5600, { blobs: [small], params: [{ name: "cmd", values: ["sh test.sh"] }] }),
      ),
    lastBlob,
  );
  const big = await blobProject(`${net.root}/big`, 50_000_000);
  await costOf(
    "ci-run (50 MB context)",
    () =>
      Promise.resolve(
        spec(5600, { blobs: [big], params: [{ name: "cmd", values: ["sh test.sh"] }] }),
      ),
    lastBlob,
  );
} finally {
  await req.close();
  await net.stop();
}
