/**
 * The docker-build runner: builds a job's Docker image for a platform on the provider's own
 * engine and runs its tests in it (docs/PROTOCOL.md "docker-build", docs/OPERATIONS.md). It
 * answers like the skill sandbox (a {@linkcode SkillOutcome} whose stdout is a JSON report, files
 * in the work dir's `out/` returned as blobs), so the provider treats both alike.
 *
 * Isolation: the job's code runs only inside the engine's containers (RUN steps, the test), never
 * with the daemon's socket; builds and tests have no network (`--network none`), no privileges,
 * no host mounts, memory/CPU/process limits, and the job's deadline; the build cache is not used
 * (`--no-cache`: another requester's layer must never stand in for this job's RUN step); the
 * image, its tag, the test container and the layers a failed or cancelled build left are removed
 * afterwards. Cancelling kills the docker client (the engine then stops the build) and removes
 * the container.
 *
 * Request (kind 5602): the build context is the first blob input (a tar.gz) or an inline base64
 * tar.gz `i` tag; params `dockerfile` (default `Dockerfile`), `platform` (default
 * `linux/amd64`), `build-arg` (`KEY=VALUE`, repeatable), `tag` (reported back; the image on the
 * engine is only ever named `turnpike-job-<id>:build`, so a job cannot replace or remove an image
 * of the operator's), `test` (a command run with `sh -c` in the built image), `test-image-cmd`
 * (`true`: run the image's own ENTRYPOINT/CMD as the test instead), `save` (`true`: the
 * image as a `docker save` tarball blob, tagged `turnpike-job-<id>:build`).
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { sleep } from "../../../protocol/backoff.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { parseTestSummary, type TestSummary } from "../../../protocol/test_summary.ts";
import { blobInputsOf } from "../../../protocol/job_blobs.ts";
import { docker, type DockerEngineInfo, type DockerRunOptions } from "./docker_engine.ts";
import type { SkillJob, SkillOutcome } from "../sandbox/skill_sandbox.ts";
import { OUTPUTS_DIR } from "../sandbox/sandbox_mounts.ts";
import { type RunnerOutcome, runnerOutcome } from "../jobs/runner_outcome.ts";

/** A docker-build request's settings, checked. */
export interface DockerBuildRequest {
  dockerfile: string;
  platform: string;
  buildArgs: string[];
  tag?: string;
  test?: string;
  /** Run the image's own ENTRYPOINT/CMD as the test (`test-image-cmd` = `true`). */
  testImageCmd?: boolean;
  save: boolean;
  /** The context: the sha256 of a blob input, or inline base64. */
  context: { sha256: string } | { base64: string };
}

/** A request this provider cannot or will not build; `status` says which outcome it is. */
export class DockerBuildRequestError extends RoleError {
  override name = "DockerBuildRequestError";
  constructor(readonly status: "bad-input" | "refused", message: string) {
    super(message);
  }
}

/** Options for {@linkcode createDockerBuildRunner}. */
export interface DockerBuildRunnerOptions {
  /** Per-job work dirs are created here. */
  jobsRoot: string;
  engine: DockerEngineInfo;
  dockerHost?: string;
  /** CPUs a build or test may use (default 1). */
  cpus?: number;
  /** Most processes in the test container (default 256). */
  maxProcesses?: number;
  /** Bytes kept of each log file (default 16 MiB); the report holds the last 16 KiB. */
  maxLogBytes?: number;
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const TAG = /^[a-z0-9]+(?:[._\/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;
const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*=[\s\S]{0,4096}$/;
const LOG_TAIL_BYTES = 16 * 1024;

/**
 * Reads and checks a docker-build request's tags against this engine. Throws
 * {@linkcode DockerBuildRequestError}: `refused` for a platform the engine does not build natively,
 * `bad-input` for anything malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDockerBuildRequest, DockerBuildRequestError } from "./docker_build_runner.ts";
 *
 * const engine = { platform: "linux/amd64" }; // what probeDockerEngine found
 * const emptyTarGz = "H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ43oAAAAAAAAAAAAIA3A5reHScAKAAA";
 * const tags = [["i", emptyTarGz, "text"], ["param", "tag", "app:1"]];
 * const request = checkDockerBuildRequest(tags, engine);
 * assert.equal(request.dockerfile, "Dockerfile");
 * assert.equal(request.tag, "app:1");
 * assert.throws(
 *   () => checkDockerBuildRequest([...tags, ["param", "platform", "linux/arm64"]], engine),
 *   (err) => err instanceof DockerBuildRequestError && err.status === "refused",
 * );
 * ```
 */
export function checkDockerBuildRequest(
  tags: readonly string[][],
  engine: Pick<DockerEngineInfo, "platform">,
): DockerBuildRequest {
  const params = (name: string) => tags.filter((t) => t[0] === "param" && t[1] === name);
  const one = (name: string) => params(name)[0]?.[2];
  const bad = (why: string): never => {
    throw new DockerBuildRequestError("bad-input", why);
  };
  const dockerfile = one("dockerfile") ?? "Dockerfile";
  if (
    dockerfile.length > 256 || dockerfile.startsWith("/") || dockerfile.split("/").includes("..")
  ) {
    bad(`dockerfile must be a relative path inside the context, got ${JSON.stringify(dockerfile)}`);
  }
  const platform = one("platform") ?? "linux/amd64";
  if (!PLATFORM.test(platform)) bad(`platform ${JSON.stringify(platform)} is not os/arch`);
  if (platform !== engine.platform) {
    throw new DockerBuildRequestError(
      "refused",
      `unsupported platform ${platform}: this provider builds ${engine.platform} natively only`,
    );
  }
  const buildArgs = params("build-arg").map((t) => t[2] ?? "");
  for (const a of buildArgs) {
    if (!BUILD_ARG.test(a)) bad(`build-arg ${JSON.stringify(a.slice(0, 60))} is not KEY=VALUE`);
  }
  if (buildArgs.length > 64) bad("more than 64 build-args");
  const tag = one("tag");
  if (tag !== undefined && (!TAG.test(tag) || tag.length > 200)) {
    bad(`tag ${JSON.stringify(tag)} is not an image name[:tag]`);
  }
  const test = one("test");
  if (test !== undefined && (test.trim() === "" || test.length > 4096)) {
    bad("test must be a command of at most 4096 bytes");
  }
  const testImageCmd = one("test-image-cmd") === "true";
  if (testImageCmd && test !== undefined) bad("give either test or test-image-cmd, not both");
  const blob = blobInputsOf(tags)[0];
  const inline = tags.find((t) => t[0] === "i" && t[2] === "text")?.[1];
  const context = blob !== undefined
    ? { sha256: blob.sha256 }
    : inline !== undefined
    ? { base64: inline }
    : bad("no build context: a blob input (i url + x) or an inline base64 tar.gz (i text)");
  return {
    dockerfile,
    platform,
    buildArgs,
    tag,
    test,
    ...(testImageCmd ? { testImageCmd } : {}),
    save: one("save") === "true",
    context,
  };
}

/**
 * The runner, with the skill sandbox's `run` signature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { createDockerBuildRunner } from "./docker_build_runner.ts";
 * import { encodeEventToon } from "../../../protocol/toon_codec.ts";
 * import { parseSkillManifest } from "../skills/skill_manifest.ts";
 *
 * const skillDir = new URL("../../../skills/docker-build", import.meta.url).pathname;
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${skillDir}/SKILL.md`));
 * const engine = {
 *   version: "28.2.2",
 *   architecture: "x86_64",
 *   platform: "linux/amd64",
 *   storageDriver: "overlay2",
 *   host: "unix:///var/run/docker.sock",
 * };
 * const stateDir = await Deno.makeTempDir();
 * const runner = createDockerBuildRunner({ jobsRoot: `${stateDir}/work`, engine });
 * // A request for a platform the engine does not build is refused before any docker call (a
 * // build runs in tests/e2e/docker_build_test.ts).
 * const emptyTarGz = "H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ43oAAAAAAAAAAAAIA3A5reHScAKAAA";
 * const event = finalizeEvent({
 *   kind: 5602,
 *   created_at: Math.floor(Date.now() / 1000),
 *   tags: [["i", emptyTarGz, "text"], ["param", "platform", "linux/arm64"]],
 *   content: "",
 * }, generateSecretKey());
 * const input = encodeEventToon(event);
 * const outcome = await runner.run({ jobId: "j1", skillDir, manifest, input });
 * assert.equal(outcome.status, "refused");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function createDockerBuildRunner(
  options: DockerBuildRunnerOptions,
): { run(job: SkillJob): Promise<SkillOutcome> } {
  return { run: (job) => runDockerBuild(job, options) };
}

async function runDockerBuild(job: SkillJob, o: DockerBuildRunnerOptions): Promise<SkillOutcome> {
  const started = performance.now();
  const workDir = `${o.jobsRoot}/${job.jobId}`;
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${workDir}/${OUTPUTS_DIR}`, { recursive: true, mode: 0o700 });
  const outcome = runnerOutcome(workDir, started);
  let request: DockerBuildRequest;
  let context: string;
  try {
    const input = typeof job.input === "string" ? job.input : new TextDecoder().decode(job.input);
    request = checkDockerBuildRequest(decodeEventToon(input, { verify: false }).tags, o.engine);
    context = await contextFile(request, job, workDir);
  } catch (err) {
    if (err instanceof DockerBuildRequestError) return outcome(err.status, err.message);
    return outcome("bad-input", (err as Error).message);
  }
  const deadline = Date.now() + job.manifest.timeoutMs;
  const ref = `turnpike-job-${job.jobId.slice(0, 16).toLowerCase()}:build`;
  const container = `turnpike-job-${job.jobId.slice(0, 16).toLowerCase()}`;
  const limits = {
    memory: String(job.manifest.memoryBytes),
    cpus: String(o.cpus ?? 1),
  };
  const call = { dockerHost: o.dockerHost, signal: job.signal };
  // Every docker call but `inspect` gets what is left of the job's deadline when it starts.
  const untilDeadline = () => ({ ...call, timeoutMs: Math.max(0, deadline - Date.now()) });
  const toLog = (name: string) => ({
    ...untilDeadline(),
    logPath: `${workDir}/${OUTPUTS_DIR}/${name}`,
    maxLogBytes: o.maxLogBytes,
  });
  try {
    const build = await dockerToLog([
      "build",
      "--platform",
      request.platform,
      "--network",
      "none",
      "--no-cache",
      "--force-rm",
      "--rm",
      "--memory",
      limits.memory,
      "--memory-swap",
      limits.memory,
      "--cpu-period",
      "100000",
      "--cpu-quota",
      String(Math.round(Number(limits.cpus) * 100000)),
      "--label",
      `turnpike.job=${job.jobId}`,
      "-f",
      request.dockerfile,
      "-t",
      ref,
      ...request.buildArgs.flatMap((a) => ["--build-arg", a]),
      "-",
    ], { ...toLog("build.log"), stdinFile: context });
    if (build.result.killed !== undefined) return killedOutcome(build.result.killed, job, outcome);
    const report: Record<string, unknown> = {
      status: build.result.code === 0 ? "built" : "build-failed",
      platform: request.platform,
      build: {
        exitCode: build.result.code,
        durationMs: build.durationMs,
        logBytes: build.bytes,
        logTail: build.tail,
        log: "build.log",
      },
      test: null,
      image: null,
    };
    if (build.result.code === 0) {
      report.image = await inspect(ref, request.tag, call);
      if (request.test !== undefined || request.testImageCmd) {
        const test = await dockerToLog([
          "run",
          "--name",
          container,
          "--network",
          "none",
          "--memory",
          limits.memory,
          "--memory-swap",
          limits.memory,
          "--cpus",
          limits.cpus,
          "--pids-limit",
          String(o.maxProcesses ?? 256),
          "--cap-drop",
          "ALL",
          "--security-opt",
          "no-new-privileges",
          "--platform",
          request.platform,
          ref,
          // Without a command the image's own ENTRYPOINT/CMD runs (test-image-cmd).
          ...(request.test === undefined ? [] : ["sh", "-c", request.test]),
        ], toLog("test.log"));
        if (test.result.killed !== undefined) {
          return killedOutcome(test.result.killed, job, outcome);
        }
        const summary: TestSummary | null = parseTestSummary(test.tail);
        report.status = test.result.code === 0 ? "tests-passed" : "tests-failed";
        report.test = {
          command: request.test ?? "(the image's CMD)",
          exitCode: test.result.code,
          durationMs: test.durationMs,
          summary,
          logBytes: test.bytes,
          logTail: test.tail,
          log: "test.log",
        };
      }
      if (request.save) {
        const saved = await docker(
          ["save", "-o", `${workDir}/${OUTPUTS_DIR}/image.tar`, ref],
          untilDeadline(),
        );
        if (saved.killed !== undefined) return killedOutcome(saved.killed, job, outcome);
        report.saved = saved.code === 0 ? "image.tar" : null;
      }
    }
    return outcome("ok", `docker-build ${report.status}`, JSON.stringify(report) + "\n");
  } finally {
    await cleanUp(job.jobId, ref, container, o.dockerHost);
  }
}

/** Writes the build context to the work dir when it came inline; else the fetched blob. */
async function contextFile(request: DockerBuildRequest, job: SkillJob, workDir: string) {
  if ("sha256" in request.context) {
    const sha256 = request.context.sha256;
    const file = (job.files ?? []).find((f) => f.name === sha256);
    if (file === undefined) {
      throw new Error(`the context blob ${sha256.slice(0, 12)} was not fetched`);
    }
    return file.path;
  }
  const path = `${workDir}/context.tar.gz`;
  try {
    const bytes = Uint8Array.from(
      atob(request.context.base64.replace(/\s+/g, "")),
      (c) => c.charCodeAt(0),
    );
    await Deno.writeFile(path, bytes, { mode: 0o600 });
  } catch {
    throw new DockerBuildRequestError("bad-input", "the inline context is not base64 of a tar.gz");
  }
  return path;
}

interface Logged {
  result: Awaited<ReturnType<typeof docker>>;
  bytes: number;
  tail: string;
  durationMs: number;
}

interface DockerToLogOptions extends Omit<DockerRunOptions, "onOutput"> {
  logPath: string;
  /** Bytes kept in the log file (default 16 MiB); the rest is counted, not written. */
  maxLogBytes?: number;
}

/** Runs a docker command, its output to a capped log file, and keeps the tail. */
async function dockerToLog(args: string[], options: DockerToLogOptions): Promise<Logged> {
  const { logPath, maxLogBytes: maxBytes = 16 * 1024 * 1024, ...run } = options;
  const started = performance.now();
  const file = await Deno.open(logPath, { write: true, create: true, truncate: true, mode: 0o600 });
  let bytes = 0;
  let tail = new Uint8Array(0);
  try {
    const result = await docker(args, {
      ...run,
      onOutput: (chunk) => {
        bytes += chunk.length;
        if (bytes - chunk.length < maxBytes) {
          const room = maxBytes - (bytes - chunk.length);
          file.writeSync(chunk.subarray(0, Math.min(chunk.length, room)));
        }
        const joined = new Uint8Array(tail.length + chunk.length);
        joined.set(tail);
        joined.set(chunk, tail.length);
        tail = joined.subarray(Math.max(0, joined.length - LOG_TAIL_BYTES));
      },
    });
    return {
      result,
      bytes,
      tail: new TextDecoder().decode(tail),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    file.close();
  }
}

async function inspect(ref: string, tag: string | undefined, call: { dockerHost?: string }) {
  const out = await docker(["image", "inspect", ref, "--format", "{{json .}}"], call);
  if (out.code !== 0) return null;
  const info = JSON.parse(out.stdout) as {
    Id: string;
    Size: number;
    Architecture: string;
    Os: string;
    RootFS?: { Layers?: string[] };
  };
  return {
    id: info.Id,
    // Built locally and pushed nowhere, the image has no registry digest: its id is the digest
    // of its config, which `docker save` and a later push keep.
    digest: info.Id,
    size: info.Size,
    layers: info.RootFS?.Layers?.length ?? 0,
    platform: `${info.Os}/${info.Architecture}`,
    tag: tag ?? null,
  };
}

function killedOutcome(
  why: "timeout" | "aborted",
  job: SkillJob,
  outcome: RunnerOutcome,
): SkillOutcome {
  return why === "timeout"
    ? outcome("timeout", `timeout after ${job.manifest.timeoutMs} ms`)
    : outcome("cancelled", "cancelled; the build and its containers were stopped");
}

/**
 * Removes what the job left on the engine: its container, image and tag, and the untagged
 * layers of a build that did not finish (they carry no label: dangling images are pruned).
 */
async function cleanUp(
  jobId: string,
  ref: string,
  container: string,
  dockerHost: string | undefined,
): Promise<void> {
  const call = { dockerHost, timeoutMs: 60_000 };
  await docker(["rm", "-f", container], call).catch(() => {});
  await docker(["image", "rm", "-f", ref], call).catch(() => {});
  await docker(["image", "prune", "-f", "--filter", `label=turnpike.job=${jobId}`], call)
    .catch(() => {});
  // A cancelled build is stopped by the engine a moment after its client dies, and its last
  // layers are committed while it stops: prune until no dangling layer is left (at most ~10 s).
  for (let i = 0; i < 20; i++) {
    await docker(["image", "prune", "-f"], call).catch(() => {});
    const left = await docker(["images", "-q", "--filter", "dangling=true"], call)
      .catch(() => undefined);
    const busy = await docker(["ps", "-aq", "--filter", "status=running"], call)
      .catch(() => undefined);
    if (left?.stdout.trim() === "" && busy?.stdout.trim() === "") return;
    await sleep(500);
  }
}
