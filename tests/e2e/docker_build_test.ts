/**
 * The docker-build job on a real engine (a private dockerd the test starts): a real town and
 * provider, the build context a paid blob, the image built for linux/amd64 and tested; failures
 * (a failing RUN, failing tests), isolation (no network in RUN steps, no daemon socket), cancel
 * mid-build, and a platform the engine cannot run refused before anyone pays. After each job the
 * engine holds no container and no image of it.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { startTestDockerEngine } from "../../harness/docker_daemon.ts";
import { dockerSampleContext } from "../../roles/demo/docker_sample_context.ts";
import { archiveProject } from "../../roles/requester/project_archive.ts";
import type { Requester } from "../../roles/requester/requester_node.ts";
import type { JobSpec } from "../../roles/requester/job_spec.ts";
import { readStoredResult } from "../../roles/requester/result_content.ts";
import { blobOutputsOf } from "../../protocol/job_blobs.ts";
import { downloadBlob } from "../../transport/blossom_client.ts";

const DOCKER_BUILD = 5602;

async function context(root: string, name: string, dockerfile?: string) {
  const dir = await dockerSampleContext(`${root}/${name}`);
  if (dockerfile !== undefined) await Deno.writeTextFile(`${dir}/Dockerfile`, dockerfile);
  await archiveProject(dir, `${root}/${name}.tar.gz`);
  return `${root}/${name}.tar.gz`;
}

function spec(blob: { url: string; sha256: string }, params: [string, string][]): JobSpec {
  return {
    kind: DOCKER_BUILD,
    inputs: [],
    params: params.map(([name, value]) => ({ name, values: [value] })),
    bid: 500_000n,
    providers: [],
    skill: "none",
    timeoutMs: 300_000,
    encrypt: false,
    then: [],
    blobs: [blob],
  };
}

/** The result's report and its event, for a finished job. */
async function report(req: Requester, id: string) {
  // The report is the result's content, or its `result` blob (fetched by the requester).
  const stored = (await readStoredResult(req.stateDir, id))!;
  return { report: JSON.parse(stored.content), event: stored.event };
}

const SCRATCH = "FROM scratch\nCOPY busybox /bin/busybox\n" +
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n';

Deno.test("docker-build: a real linux/amd64 build and test through a town and a provider", async (t) => {
  await using engine = await startTestDockerEngine();
  const net = await startRequesterNetwork({ providerOptions: { dockerHost: engine.host } });
  const req = await net.startRequester();
  const run = async (tarball: string, params: [string, string][]) => {
    const blob = await req.publishBlob(tarball);
    const job = await req.submit(spec(blob, params));
    return await req.waitFor(job.id);
  };
  const clean = async () => {
    assertEquals(await engine.containers(), [], "no container left");
    assertEquals(await engine.images(), [], "no image left");
  };
  try {
    assert(net.provider!.docker !== undefined && "platform" in net.provider!.docker);
    await t.step("passing tests: tests-passed, digest, size, layers; logs as blobs", async () => {
      const done = await run(await context(net.root, "ok"), [["test", "sh /app/test.sh"], [
        "save",
        "true",
      ]]);
      assertEquals(done.status, "done", done.error);
      const { report: r, event } = await report(req, done.id);
      assertEquals(r.status, "tests-passed", JSON.stringify(r).slice(0, 2000));
      assertEquals([r.test.exitCode, r.test.summary.passed, r.test.summary.failed], [0, 3, 0]);
      assertEquals(r.image.platform, "linux/amd64");
      assert(/^sha256:[0-9a-f]{64}$/.test(r.image.digest), r.image.digest);
      assert(r.image.size > 1_000_000 && r.image.layers >= 4, JSON.stringify(r.image));
      const blobs = blobOutputsOf(event.tags).map((b) => b.name).sort();
      assertEquals(blobs, ["build.log", "image.tar", "result", "test.log"]);
      const log = blobOutputsOf(event.tags).find((b) => b.name === "build.log")!;
      await downloadBlob({
        url: log.url,
        sha256: log.sha256,
        maxBytes: log.size,
        to: `${net.root}/build.log`,
      });
      assertStringIncludes(await Deno.readTextFile(`${net.root}/build.log`), "Successfully built");
      await clean();
    });
    await t.step("test-image-cmd: the image's own CMD runs as the test", async () => {
      const done = await run(await context(net.root, "own-cmd"), [["test-image-cmd", "true"]]);
      assertEquals(done.status, "done", done.error);
      const { report: r } = await report(req, done.id);
      assertEquals([r.status, r.test.command, r.test.exitCode], [
        "tests-passed",
        "(the image's CMD)",
        0,
      ]);
      assertStringIncludes(r.test.logTail, "hello");
      await clean();
    });

    await t.step("a failing RUN step: build-failed with the log tail", async () => {
      const done = await run(
        await context(net.root, "badrun", SCRATCH + 'RUN echo "about to fail" && exit 7\n'),
        [],
      );
      const { report: r } = await report(req, done.id);
      assertEquals([r.status, r.image], ["build-failed", null]);
      assertStringIncludes(r.build.logTail, "about to fail");
      await clean();
    });
    await t.step("failing tests: tests-failed", async () => {
      const done = await run(await context(net.root, "badtest"), [[
        "test",
        "echo '1 passed, 2 failed'; exit 1",
      ]]);
      const { report: r } = await report(req, done.id);
      assertEquals([r.status, r.test.exitCode, r.test.summary.failed], ["tests-failed", 1, 2]);
      await clean();
    });
    await t.step("a RUN step has no network and no daemon socket", async () => {
      const probe = SCRATCH +
        "RUN (wget -q -T 3 -O /dev/null http://1.1.1.1/ && echo NET-OPEN) || echo net-denied\n" +
        "RUN (ls /var/run/docker.sock /run/docker.sock 2>&1 && echo SOCKET-OPEN) || echo socket-absent\n";
      const done = await run(await context(net.root, "probe", probe), []);
      const { report: r } = await report(req, done.id);
      assertEquals(r.status, "built");
      assertStringIncludes(r.build.logTail, "net-denied");
      assertStringIncludes(r.build.logTail, "socket-absent");
      // The step lines quote the commands; only an echoed line alone would mean it got through.
      assert(!/^(NET|SOCKET)-OPEN$/m.test(r.build.logTail), r.build.logTail.slice(-2000));
      await clean();
    });
    await t.step("cancel mid-build: the build stops, nothing is left", async () => {
      const blob = await req.publishBlob(
        await context(net.root, "slow", SCRATCH + "RUN sleep 300\n"),
      );
      const job = await req.submit(spec(blob, []));
      // Cancel once the build's RUN step runs (a container exists).
      for (let i = 0; i < 600 && (await engine.containers()).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals((await engine.containers()).length, 1, "the RUN step's container");
      await req.cancel(job.id);
      // The provider stops the build and cleans the engine before it reports the cancel.
      const feedback = async () =>
        (await Deno.readTextFile(`${net.root}/provider/provider-status.json`).catch(() => ""))
          .match(/"cancelled":\s*1\b/) !== null;
      for (let i = 0; i < 600 && !(await feedback()); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(await feedback(), "the provider recorded the cancel");
      await clean();
    });
    await t.step(
      "a platform the engine does not run natively: refused before payment",
      async () => {
        const blob = await req.publishBlob(await context(net.root, "arm"));
        const job = await req.submit(spec(blob, [["platform", "linux/arm64"]]));
        const done = await req.waitFor(job.id);
        assertEquals(done.status, "error");
        assertStringIncludes(done.error ?? "", "unsupported platform linux/arm64");
        assertEquals(done.payments, [], "nothing was paid");
      },
    );
  } finally {
    await req.close();
    await net.stop();
  }
});
