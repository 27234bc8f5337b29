/**
 * docker-build through turnpike (context uploaded as a paid blob, job posted, provider fetches,
 * builds, tests, publishes logs as blobs, result received) vs the same build and test by hand
 * (`tar | docker build - && docker run`) on the same engine, in the same run; for the docker
 * sample and for the sample plus a 50 MB incompressible file in its context.
 *
 * Needs a Docker engine: DOCKER_HOST (TURNPIKE_TEST_DOCKER_HOST) or, as root, a private dockerd.
 * Run: deno run -A bench/docker_build_bench_script.ts [rounds, default 3]
 *
 * @module
 */
import { startTestDockerEngine } from "../harness/docker_daemon.ts";
import { startRequesterNetwork } from "../harness/requester_network.ts";
import { dockerSampleContext } from "../roles/demo/docker_sample_context.ts";
import { archiveProject } from "../roles/requester/project_archive.ts";

const rounds = Number(Deno.args[0] ?? 3);
await using engine = await startTestDockerEngine();
const net = await startRequesterNetwork({ providerOptions: { dockerHost: engine.host } });
const req = await net.startRequester();

async function byHand(tarball: string): Promise<number> {
  const t0 = performance.now();
  const env = { DOCKER_HOST: engine.host, DOCKER_BUILDKIT: "0" };
  const build = await new Deno.Command("sh", {
    args: [
      "-c",
      'docker build --network none --no-cache --force-rm -q -t bench-hand:1 - < "$1" >/dev/null && ' +
      "docker run --rm --network none bench-hand:1 sh /app/test.sh >/dev/null && " +
      "docker image rm -f bench-hand:1 >/dev/null",
      "bench",
      tarball,
    ],
    env,
  }).output();
  if (!build.success) throw new Error("the build by hand failed");
  return performance.now() - t0;
}

async function throughTurnpike(tarball: string): Promise<number> {
  const t0 = performance.now();
  const blob = await req.publishBlob(tarball);
  const job = await req.submit({
    kind: 5602,
    inputs: [],
    params: [{ name: "test", values: ["sh /app/test.sh"] }],
    bid: 500_000n,
    providers: [],
    skill: "none",
    timeoutMs: 600_000,
    encrypt: false,
    then: [],
    blobs: [{ url: blob.url, sha256: blob.sha256 }],
  });
  const done = await req.waitFor(job.id);
  if (done.status !== "done") throw new Error(`the job ended ${done.status}: ${done.error}`);
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

try {
  for (const size of [0, 50_000_000]) {
    const dir = await dockerSampleContext(`${net.root}/ctx-${size}`);
    if (size > 0) {
      const f = await Deno.open(`${dir}/payload.bin`, { write: true, create: true });
      const chunk = new Uint8Array(65536);
      for (let left = size; left > 0; left -= chunk.length) {
        crypto.getRandomValues(chunk);
        await f.write(chunk.subarray(0, Math.min(left, chunk.length)));
      }
      f.close();
    }
    const tarball = `${net.root}/ctx-${size}.tar.gz`;
    await archiveProject(dir, tarball);
    const hand: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < rounds; i++) {
      hand.push(await byHand(tarball));
      // A fresh copy each round: the same bytes would be "stored already" and skip the upload.
      const copy = `${net.root}/ctx-${size}-${i}`;
      await Deno.mkdir(copy);
      for await (const e of Deno.readDir(dir)) {
        await Deno.copyFile(`${dir}/${e.name}`, `${copy}/${e.name}`);
      }
      await Deno.writeTextFile(`${copy}/round.txt`, `${i}\n`);
      await archiveProject(copy, `${copy}.tar.gz`);
      ours.push(await throughTurnpike(`${copy}.tar.gz`));
    }
    const label = size === 0 ? "sample (1 MB context)" : "sample + 50 MB in the context";
    console.log(
      `${label}: by hand median ${median(hand).toFixed(0)} ms, through turnpike median ` +
        `${median(ours).toFixed(0)} ms, ratio ${(median(ours) / median(hand)).toFixed(2)} ` +
        `(${rounds} rounds; hand ${hand.map((x) => x.toFixed(0)).join("/")}, ours ${
          ours.map((x) => x.toFixed(0)).join("/")
        })`,
    );
  }
} finally {
  await req.close();
  await net.stop();
}
