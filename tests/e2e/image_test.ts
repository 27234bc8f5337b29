/**
 * The image (`Dockerfile`) built and run on a real engine (a private dockerd the test starts, as
 * the docker-build tests do; with none it fails saying so): built here with no registry
 * (tools/image_build.ts: a debootstrapped base, cached in tools/image-cache/, and Deno from
 * npm), `docker run <image> demo` runs the paid job and settles on the anvil inside the image,
 * and a provider in a container (the rootless sandbox, docs/OPERATIONS.md "The image") serves a
 * job to a requester on the host over the host's network.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startTestDockerEngine } from "../../harness/docker_daemon.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { buildLocalImage } from "../../tools/image_build.ts";
import { readStoredResult } from "../../roles/requester/result_content.ts";

const TAG = "turnpike-image-test";
/** What a provider's rootless sandbox needs of the engine (docs/OPERATIONS.md "The image"). */
const SANDBOX_FLAGS = [
  "--security-opt",
  "seccomp=unconfined",
  "--security-opt",
  "apparmor=unconfined",
  "--security-opt",
  "systempaths=unconfined",
];

Deno.test("the image: built with no registry, runs the demo to the end, and a provider in it serves a requester outside", async (t) => {
  await using engine = await startTestDockerEngine();
  const env = { DOCKER_HOST: engine.host };
  const built = await buildLocalImage({ dockerHost: engine.host, tag: TAG, log: () => {} });
  console.log(
    `image ${
      (built.sizeBytes / 1e6).toFixed(0)
    } MB; base ${built.base} in ${built.baseSeconds} s, ` +
      `build ${built.buildSeconds} s`,
  );

  await t.step("docker run <image> demo: the paid ci-run job done, settled on chain", async () => {
    const started = performance.now();
    const out = await new Deno.Command("docker", {
      args: ["run", "--rm", "--network", "none", ...SANDBOX_FLAGS, TAG, "demo"],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
    assertEquals(out.code, 0, `${stdout}\n${stderr}`);
    assertStringIncludes(stdout, "ci-run    passed");
    assert(/^job +[0-9a-f]{64} done$/m.test(stdout), stdout);
    assertStringIncludes(stdout, "(chain = books)");
    console.log(`docker run demo: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

  await t.step(
    "a provider in a container serves a paid echo job to a requester on the host",
    async () => {
      const net = await startRequesterNetwork({ provider: false });
      const name = `turnpike-image-provider-${crypto.randomUUID().slice(0, 8)}`;
      const script = [
        "printf 'image test passphrase\\n' > /tmp/pass",
        "turnpike --state-dir /tmp/p wallet init --passphrase-file /tmp/pass --non-interactive >/dev/null",
        `exec turnpike --state-dir /tmp/p --output json node up ` +
        `--connector-btp-url ${net.btpUrl.replace("btp+ws://", "btp+ws://provider:p@")} ` +
        `--btp-token p --relay-url ${net.relayUrl} --passphrase-file /tmp/pass --non-interactive`,
      ].join(" && ");
      const started = performance.now();
      const provider = spawnCli(["-c", script], {
        env,
        command: [
          "docker",
          "run",
          "--rm",
          "--name",
          name,
          "--network",
          "host",
          ...SANDBOX_FLAGS,
          "--entrypoint",
          "sh",
          TAG,
        ],
      });
      const req = await net.startRequester();
      try {
        const up = JSON.parse(await provider.waitForLine((l) => l.includes('"node-up"')));
        console.log(
          `provider in a container: node-up after ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s (wallet init included)`,
        );
        assert(String(up.sandbox).startsWith("rootless "), up.sandbox);
        const job = await req.submit(echoSpec("hello from the host", { providers: [up.pubkey] }));
        const done = await req.waitFor(job.id);
        assertEquals(done.status, "done", done.error);
        assertEquals(done.payments.map((p) => p.status), ["paid"]);
        assertEquals(
          (await readStoredResult(req.stateDir, job.id))?.content,
          "hello from the host",
        );
      } finally {
        await req.close();
        await new Deno.Command("docker", {
          args: ["stop", "-t", "10", name],
          env,
          stdout: "null",
          stderr: "null",
        })
          .output();
        await provider.done;
        await net.stop();
      }
    },
  );
});
