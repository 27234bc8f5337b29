/**
 * A private Docker engine for tests: `dockerd` (from Debian's docker.io, which `deno task setup`
 * installs when it runs as root) on its own socket, data and exec roots under a temp dir, with no
 * bridge and no iptables; stopped and unmounted afterwards. `TURNPIKE_TEST_DOCKER_HOST` points the
 * tests at an engine of the user's instead (a non-root user cannot start dockerd). Without either,
 * a test that needs an engine FAILS with a message saying how to get one: it never passes
 * silently.

 *
 * @module
 */

/** A running engine. */
export interface TestDockerEngine extends AsyncDisposable {
  /** `unix:///.../docker.sock`. */
  host: string;
  /** Containers that exist on the engine now (`docker ps -a`). */
  containers(): Promise<string[]>;
  /** Image ids on the engine now (`docker images -aq`). */
  images(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Thrown when no engine can be had; the message says what to install or set. */
export class NoDockerEngineError extends Error {
  override name = "NoDockerEngineError";
}

async function which(cmd: string): Promise<string | undefined> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${cmd}`],
    stdout: "piped",
  }).output();
  const path = new TextDecoder().decode(out.stdout).trim();
  return out.success && path !== "" ? path : undefined;
}

async function lines(host: string, args: string[]): Promise<string[]> {
  const out = await new Deno.Command("docker", {
    args,
    env: { DOCKER_HOST: host },
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

/**
 * Starts (or borrows) an engine.
 *
 * It starts a dockerd, so it has no example here: tests/e2e/docker_build_test.ts and
 * tests/e2e/skill_cli_test.ts build on one.
 * @throws {NoDockerEngineError}
 */
export async function startTestDockerEngine(): Promise<TestDockerEngine> {
  const borrowed = Deno.env.get("TURNPIKE_TEST_DOCKER_HOST");
  const make = (host: string, stop: () => Promise<void>): TestDockerEngine => ({
    host,
    containers: () => lines(host, ["ps", "-aq"]),
    images: () => lines(host, ["images", "-aq"]),
    stop,
    [Symbol.asyncDispose]: stop,
  });
  if (borrowed) return make(borrowed, () => Promise.resolve());
  const dockerd = await which("dockerd");
  if (dockerd === undefined || await which("docker") === undefined) {
    throw new NoDockerEngineError(
      "the docker-build tests need a Docker engine: install docker.io and busybox-static " +
        "(`deno task setup` does as root), or set TURNPIKE_TEST_DOCKER_HOST to an engine you may use",
    );
  }
  if (Deno.uid() !== 0) {
    throw new NoDockerEngineError(
      "dockerd needs root to start: run the tests as root (as CI does), or set " +
        "TURNPIKE_TEST_DOCKER_HOST to an engine you may use",
    );
  }
  const root = await Deno.makeTempDir({ prefix: "turnpike-dockerd-" });
  const host = `unix://${root}/docker.sock`;
  const child = new Deno.Command(dockerd, {
    args: [
      "--data-root",
      `${root}/data`,
      "--exec-root",
      `${root}/exec`,
      "-H",
      host,
      "--pidfile",
      `${root}/dockerd.pid`,
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--storage-driver=overlay2",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const draining = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      log.push(chunk);
      if (log.length > 200) log.shift();
    }
  })();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await draining.catch(() => {});
      await new Deno.Command("umount", { args: ["-l", `${root}/exec/netns/default`] }).output()
        .catch(() => {});
      // Overlay mounts of containers a crashed engine left behind.
      await new Deno.Command("sh", {
        args: ["-c", `grep -o "${root}[^ ]*" /proc/mounts | sort -r | xargs -r umount -l`],
      }).output().catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    })();
  for (let i = 0; i < 200; i++) {
    const ping = await new Deno.Command("docker", {
      args: ["version", "--format", "{{.Server.Version}}"],
      env: { DOCKER_HOST: host },
      stdout: "null",
      stderr: "null",
    }).output();
    if (ping.success) return make(host, stop);
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new NoDockerEngineError(`dockerd did not answer within 10 s: ${log.join("").slice(-1500)}`);
}
