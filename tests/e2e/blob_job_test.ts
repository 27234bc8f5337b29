/**
 * Real payloads end to end (docs/PROTOCOL.md "Blobs in jobs"): a project sent as a paid blob
 * by `job submit --dir`, fetched and verified by a real provider before its sandbox starts,
 * large outputs returned as blobs and fetched with `job results --save`; a 50 MB incompressible
 * project through `turnpike demo --project`; a provider killed mid-download completes the job
 * once, paid once.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { priceBlob } from "../../protocol/blob_pricing.ts";
import { blobOutputsOf } from "../../protocol/job_blobs.ts";
import { hashFile } from "../../transport/blossom_client.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readJobSidecar } from "../../roles/requester/job_sidecar.ts";

/** A project whose test checks `size` random bytes against their recorded sha256. */
async function bigProject(dir: string, size: number, logLines = 0): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const f = await Deno.open(`${dir}/data.bin`, { write: true, create: true });
  const chunk = new Uint8Array(65536);
  for (let left = size; left > 0; left -= chunk.length) {
    crypto.getRandomValues(chunk);
    await f.write(chunk.subarray(0, Math.min(chunk.length, left)));
  }
  f.close();
  const { sha256 } = await hashFile(`${dir}/data.bin`);
  await Deno.writeTextFile(`${dir}/data.sha256`, `${sha256}\n`);
  await Deno.writeTextFile(`${dir}/.gitignore`, "scratch/\n");
  await Deno.mkdir(`${dir}/scratch`);
  await Deno.writeTextFile(`${dir}/scratch/ignored.txt`, "must not be sent\n");
  await Deno.writeTextFile(
    `${dir}/test.sh`,
    `#!/bin/sh
i=0; while [ $i -lt ${logLines} ]; do echo "log line $i of a long build"; i=$((i+1)); done
test -e scratch/ignored.txt && { echo "not ok 1 - ignored file was sent"; echo "0 passed, 1 failed"; exit 1; }
if [ "$(cat data.sha256)" = "$(sha256sum data.bin | cut -d' ' -f1)" ]; then
  echo "ok 1 - data intact"; echo "1 passed, 0 failed"; exit 0
fi
echo "not ok 1 - data corrupted"; echo "0 passed, 1 failed"; exit 1
`,
    { mode: 0o755 },
  );
}

Deno.test("blob jobs: job submit --dir sends the project as a paid blob; results --save fetches the log blob", async () => {
  const net = await startRequesterNetwork();
  const dir = `${net.root}/cli`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  const project = `${net.root}/project`;
  // 2 MB of data and ~30 KB of log: the input and the log are both blobs.
  await bigProject(project, 2_000_000, 1000);
  try {
    const submit = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "job",
      "submit",
      "ci-run",
      "--dir",
      project,
      "--param",
      "cmd=sh test.sh",
      "--bid",
      "200000",
      "--wait",
      "--relay-url",
      net.relayUrl,
      "--connector-btp-url",
      net.btpUrl.replace("btp+ws://", "btp+ws://cli:r@"),
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ]);
    assertEquals(submit.code, 0, submit.stderr);
    const job = JSON.parse(submit.stdout.trim().split("\n").pop()!);
    assertEquals(job.status, "done", submit.stderr);
    // The request carried the blob, not the bytes: it is small.
    const sidecar = await readJobSidecar(dir, job.job);
    const request = decodeEventToon(sidecar!.requestToon, { verify: false });
    assert(request.tags.some((t) => t[0] === "x"), "request has an x tag");
    assert(sidecar!.requestToon.length < 2048, `request of ${sidecar!.requestToon.length} bytes`);
    // The blob payment is on record, at the town's price for the archive's size.
    const log = (await Deno.readTextFile(`${dir}/payment_log.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    const blobPaid = log.find((e) => e.jobId.startsWith("blob:") && e.event === "fulfilled");
    assert(blobPaid !== undefined, "blob payment recorded");
    const sha256 = blobPaid.jobId.slice(5);
    const stored = net.town.blobs.get(sha256)!;
    assertEquals(BigInt(blobPaid.amount), priceBlob(stored.size, 200n));
    assert(stored.size > 1_900_000 && stored.size < 2_200_000, `archive of ${stored.size} bytes`);
    const saveDir = `${net.root}/saved`;
    const results = await runCli([
      "--state-dir",
      dir,
      "--output",
      "json",
      "job",
      "results",
      job.job,
      "--save",
      saveDir,
      "--raw",
      // The blobs come by hash from the profile's towns: this profile names its town by flag.
      "--relay-url",
      net.relayUrl,
    ]);
    assertEquals(results.code, 0, results.stderr);
    const out = JSON.parse(results.stdout);
    const report = out.report;
    assertEquals([report.status, report.summary.passed, report.logBlob], ["passed", 1, "ci.log"]);
    assertEquals(out.artifacts, blobOutputsOf(out.event.tags));
    const blobs = blobOutputsOf(out.event.tags);
    // The log, and the report itself (larger than ci-run's result_bytes: a blob too).
    assertEquals(blobs.map((b) => b.name).sort(), ["ci.log", "result"]);
    const saved = await Deno.readTextFile(`${saveDir}/ci.log`);
    assertStringIncludes(saved, "log line 0 of a long build");
    assertStringIncludes(saved, "log line 999 of a long build");
    assertEquals(saved.length, report.logBytes);
    // The result never repeats the input's bytes (only its small request, with the blob's URL).
    assert(out.toon.length < 8192, `result event of ${out.toon.length} bytes`);
  } finally {
    await net.stop();
  }
});

Deno.test("blob jobs: a 50 MB incompressible project through turnpike demo --project", async () => {
  const root = await Deno.makeTempDir({ prefix: "turnpike-big-" });
  try {
    await bigProject(`${root}/p`, 50_000_000);
    const res = await runCli([
      "--output",
      "json",
      "demo",
      "--project",
      `${root}/p`,
      "--cmd",
      "sh test.sh",
      "--no-chain",
    ]);
    assertEquals(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout);
    assertEquals(report.status, "done");
    assertEquals(report.result.status, "passed");
    assertEquals(report.result.summary.passed, 1);
    assert(report.context.size > 50_000_000, `context ${report.context.size} bytes`);
    assertEquals(BigInt(report.context.paid), priceBlob(report.context.size, 200n));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
