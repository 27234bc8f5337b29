/**
 * The docker-build sample (`fixtures/projects/docker-hello`) as a build context: a copy with the
 * host's static busybox added. The image is `FROM scratch` because no registry needs to be
 * reachable; busybox gives it a shell and the tools its test uses.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";

/** The sample's folder in this repository. */
export const DOCKER_SAMPLE_PROJECT =
  new URL("../../fixtures/projects/docker-hello", import.meta.url).pathname;

/** No static busybox on this machine. */
export class DockerSampleError extends RoleError {
  override name = "DockerSampleError";
}

/**
 * Copies `project` (default the sample) to `to` and adds `busybox` from PATH.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dockerSampleContext } from "./docker_sample_context.ts";
 *
 * const tmp = await Deno.makeTempDir();
 * const context = await dockerSampleContext(`${tmp}/context`);
 * assert((await Deno.stat(`${context}/Dockerfile`)).isFile);
 * assert((await Deno.stat(`${context}/busybox`)).mode! & 0o100);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 * @throws {DockerSampleError} when there is no busybox (Debian: busybox-static).
 */
export async function dockerSampleContext(
  to: string,
  project: string = DOCKER_SAMPLE_PROJECT,
): Promise<string> {
  const found = await new Deno.Command("sh", {
    args: ["-c", "command -v busybox"],
    stdout: "piped",
  }).output();
  const busybox = new TextDecoder().decode(found.stdout).trim();
  if (!found.success || busybox === "") {
    throw new DockerSampleError(
      "the docker-build sample needs a static busybox on PATH (Debian: apt-get install busybox-static)",
    );
  }
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(project)) {
    if (e.isFile) await Deno.copyFile(`${project}/${e.name}`, `${to}/${e.name}`);
  }
  await Deno.copyFile(await Deno.realPath(busybox), `${to}/busybox`);
  await Deno.chmod(`${to}/busybox`, 0o755);
  return to;
}
