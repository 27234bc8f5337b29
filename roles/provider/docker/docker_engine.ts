/**
 * The provider's Docker engine, driven through the `docker` CLI (the engine's own client, so
 * turnpike speaks whatever API version the operator's engine does): discovery (`doctor`, the
 * provider's start-up), and the few operations the docker-build runner needs, each bounded and
 * killable. The engine is `DOCKER_HOST` or the default socket; jobs never see it (the runner
 * runs in the provider, the job's code only inside containers without network).
 *
 * Builds use the classic builder (`DOCKER_BUILDKIT=0`): it honours `--network none`, memory
 * and CPU limits on RUN steps, and needs no buildx plugin, which engines installed from
 * distribution packages often lack.
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";

/** What an answering engine is. */
export interface DockerEngineInfo {
  /** Server version, e.g. `20.10.24+dfsg1`. */
  version: string;
  /** `x86_64`, `aarch64`... as the engine reports it. */
  architecture: string;
  /** The platform it builds natively, e.g. `linux/amd64`. */
  platform: string;
  storageDriver: string;
  /** The endpoint asked (`DOCKER_HOST`, or the default socket). */
  host: string;
}

/** No engine answered, or a docker command failed; `detail` is its stderr. */
export class DockerEngineError extends RoleError {
  override name = "DockerEngineError";
}

/** Options of every engine call. */
export interface DockerCallOptions {
  /** `DOCKER_HOST` for this engine; default the provider's environment. */
  dockerHost?: string;
}

const ARCH_PLATFORMS: Record<string, string> = {
  x86_64: "linux/amd64",
  amd64: "linux/amd64",
  aarch64: "linux/arm64",
  arm64: "linux/arm64",
};

/**
 * Asks the engine what it is; throws {@linkcode DockerEngineError} when none answers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerEngineError, probeDockerEngine } from "./docker_engine.ts";
 *
 * // Where nothing answers (a daemon that does: tests/e2e/docker_build_test.ts).
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(probeDockerEngine({ dockerHost: `unix://${dir}/docker.sock` }), DockerEngineError);
 * await Deno.remove(dir);
 * ```
 */
export async function probeDockerEngine(o: DockerCallOptions = {}): Promise<DockerEngineInfo> {
  const out = await docker(
    ["info", "--format", "{{.ServerVersion}}|{{.Architecture}}|{{.Driver}}|{{.OSType}}"],
    { ...o, timeoutMs: 10_000 },
  );
  if (out.code !== 0) {
    throw new DockerEngineError(
      `no Docker engine answers (${firstLine(out.stderr) || `exit ${out.code}`})`,
    );
  }
  const [version, architecture, storageDriver, os] = out.stdout.trim().split("|");
  if (!version || version === "<no value>") {
    throw new DockerEngineError(`no Docker engine answers (${firstLine(out.stderr)})`);
  }
  return {
    version,
    architecture,
    platform: `${os || "linux"}/${
      (ARCH_PLATFORMS[architecture] ?? architecture).split("/").at(-1)
    }`,
    storageDriver,
    host: o.dockerHost ?? Deno.env.get("DOCKER_HOST") ?? "unix:///var/run/docker.sock",
  };
}

/** Options for {@linkcode docker}. */
export interface DockerRunOptions extends DockerCallOptions {
  /** Bytes fed to stdin (a build context), or a file streamed there. */
  stdinFile?: string;
  /** Kill the client after this long (the caller cleans the engine up). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each chunk of combined output (a log being written), capped by the caller. */
  onOutput?: (chunk: Uint8Array) => void;
}

/** What a docker command did. */
export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Killed for the timeout or the signal. */
  killed: "timeout" | "aborted" | undefined;
}

/**
 * Runs `docker <args>` against the engine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { docker } from "./docker_engine.ts";
 *
 * const { code, stdout } = await docker(["--version"]); // the CLI alone, no engine asked
 * assert.equal(code, 0);
 * assert.match(stdout, /^Docker version /);
 * ```
 */
export async function docker(args: string[], o: DockerRunOptions = {}): Promise<DockerResult> {
  const env: Record<string, string> = { DOCKER_BUILDKIT: "0", DOCKER_CLI_HINTS: "false" };
  if (o.dockerHost !== undefined) env.DOCKER_HOST = o.dockerHost;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("docker", {
      args,
      env,
      stdin: o.stdinFile === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new DockerEngineError(`cannot run the docker CLI: ${(err as Error).message}`);
  }
  let killed: DockerResult["killed"];
  const kill = (why: "timeout" | "aborted") => {
    if (killed !== undefined) return;
    killed = why;
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  };
  const timer = o.timeoutMs === undefined
    ? undefined
    : setTimeout(() => kill("timeout"), o.timeoutMs);
  const onAbort = () => kill("aborted");
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener("abort", onAbort);
  const feed = o.stdinFile === undefined ? Promise.resolve() : (async () => {
    const file = await Deno.open(o.stdinFile!);
    await file.readable.pipeTo(child.stdin).catch(() => {});
  })();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const parts: Uint8Array[] = [];
    for await (const chunk of stream) {
      o.onOutput?.(chunk);
      if (parts.length < 4096) parts.push(chunk); // the command's own answer, not a build log
    }
    return new TextDecoder().decode(concat(parts));
  };
  try {
    const [stdout, stderr, status] = await Promise.all([
      collect(child.stdout),
      collect(child.stderr),
      child.status,
      feed,
    ]);
    return { code: status.code, stdout, stderr, killed };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onAbort);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.slice(0, 300) ?? "";
}
