/**
 * Builds the `Dockerfile` on a machine that reaches no registry (docs/OPERATIONS.md "The
 * image"): only Debian's apt mirror and the npm registry. It makes the two images the Dockerfile
 * starts from, unless the engine has them already:
 *
 * - the base (`BASE`): Debian bookworm from `debootstrap --variant=minbase` (as root; ~1-2.5 min
 *   once), carrying this machine's extra CA certificates (`/usr/local/share/ca-certificates`,
 *   and its bundle until the image's own ca-certificates replaces it), so RUN steps reach the
 *   registries through a TLS-inspecting proxy as the host does; `docker import`ed. Its rootfs is
 *   kept as a tarball in `tools/image-cache/`, so another engine (a test's) imports it in seconds;
 * - Deno (`DENO_IMAGE`): the running Deno binary (npm's `deno`, as `npx -y deno@2.9.6` runs it) in
 *   a `FROM scratch` image at `/deno`, as `denoland/deno:bin-<version>` has it;
 *
 * then `docker build --network host` (an engine started without a bridge has no other network
 * for RUN steps) with the legacy builder, which needs no buildx.
 *
 * Usage: `deno task image [--tag turnpike]` with `DOCKER_HOST` naming the engine (default its
 * socket).
 *
 * @module
 */

/** The Debian release the base is made from. */
export const BASE_SUITE = "bookworm";
/** The base image's tag on the engine. */
export const LOCAL_BASE_IMAGE = `turnpike-local/debian:${BASE_SUITE}-minbase`;
/** The Deno image's tag on the engine (Deno's version, as Docker Hub names its image). */
export const LOCAL_DENO_IMAGE = `turnpike-local/deno:bin-${Deno.version.deno}`;

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}tools/image-cache`;
const BASE_TARBALL = `${CACHE}/debian-${BASE_SUITE}-minbase.tar.gz`;

/** The image could not be built; the message says which step and why. */
export class ImageBuildError extends Error {
  override name = "ImageBuildError";
}

/** Options for {@linkcode buildLocalImage}. */
export interface BuildLocalImageOptions {
  /** `unix:///...` of the engine; default `DOCKER_HOST`, else the engine's default socket. */
  dockerHost?: string;
  /** The image's tag. Default `turnpike`. */
  tag?: string;
  /** Debian mirror for debootstrap. Default `http://deb.debian.org/debian`. */
  mirror?: string;
  /** Told each step (a human line). Default: stderr. */
  log?: (line: string) => void;
}

/** What {@linkcode buildLocalImage} did, with the seconds of each step. */
export interface LocalImageReport {
  tag: string;
  /** How the base came: already on the engine, imported from the cache, or debootstrapped. */
  base: "present" | "imported" | "debootstrapped";
  baseSeconds: number;
  denoSeconds: number;
  buildSeconds: number;
  /** The image's size on the engine, bytes. */
  sizeBytes: number;
}

type Run = (args: string[], stdin?: string) => Promise<{ ok: boolean; out: string }>;

function runner(cmd: string, env: Record<string, string>): Run {
  return async (args, stdinPath) => {
    const child = new Deno.Command(cmd, {
      args,
      env,
      stdin: stdinPath === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdinPath !== undefined) {
      await (await Deno.open(stdinPath)).readable.pipeTo(child.stdin);
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
  };
}

const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

/**
 * Makes the base and Deno images when the engine lacks them, then builds the Dockerfile with
 * them. It needs a Docker engine (and, the first time, debootstrap as root), so it has no example
 * here: tests/e2e/image_test.ts builds the image with it on a private dockerd it starts, then runs
 * the demo in it.
 *
 * @throws {ImageBuildError}
 */
export async function buildLocalImage(
  options: BuildLocalImageOptions = {},
): Promise<LocalImageReport> {
  const env: Record<string, string> = { DOCKER_BUILDKIT: "0" };
  const host = options.dockerHost ?? Deno.env.get("DOCKER_HOST");
  if (host !== undefined) env.DOCKER_HOST = host;
  const docker = runner("docker", env);
  const log = options.log ?? ((line: string) => console.error(line));
  const tag = options.tag ?? "turnpike";
  const has = async (image: string) => (await docker(["image", "inspect", image])).ok;
  const must = async (what: string, args: string[], stdin?: string) => {
    const r = await docker(args, stdin);
    if (!r.ok) throw new ImageBuildError(`${what} failed: ${r.out.slice(-3000)}`);
    return r.out;
  };
  const version = await docker(["version", "--format", "{{.Server.Version}}"]);
  if (!version.ok) {
    throw new ImageBuildError(
      `no Docker engine answers${host ? ` at ${host}` : ""}: ${version.out.trim().slice(-500)}`,
    );
  }

  let started = performance.now();
  let base: LocalImageReport["base"] = "present";
  if (!await has(LOCAL_BASE_IMAGE)) {
    if (!await exists(BASE_TARBALL)) {
      log(`making the base: debootstrap --variant=minbase ${BASE_SUITE} (once, 1-3 min) ...`);
      await debootstrapTarball(options.mirror ?? "http://deb.debian.org/debian");
      base = "debootstrapped";
    } else base = "imported";
    await must("docker import", ["import", "-", LOCAL_BASE_IMAGE], BASE_TARBALL);
  }
  const baseSeconds = seconds(started);
  log(`base ${LOCAL_BASE_IMAGE}: ${base} (${baseSeconds} s)`);

  started = performance.now();
  if (!await has(LOCAL_DENO_IMAGE)) {
    const dir = await Deno.makeTempDir({ prefix: "turnpike-deno-image-" });
    try {
      await Deno.copyFile(Deno.execPath(), `${dir}/deno`);
      await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM scratch\nCOPY deno /deno\n");
      await must("the Deno image's build", ["build", "-q", "-t", LOCAL_DENO_IMAGE, dir]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const denoSeconds = seconds(started);
  log(`deno ${LOCAL_DENO_IMAGE} (${denoSeconds} s)`);

  started = performance.now();
  log(`docker build -t ${tag} (apt and npm from the network; about 1.5 min with no cache) ...`);
  await must("docker build", [
    "build",
    "--network",
    "host",
    "--build-arg",
    `BASE=${LOCAL_BASE_IMAGE}`,
    "--build-arg",
    `DENO_IMAGE=${LOCAL_DENO_IMAGE}`,
    "--build-arg",
    "DENO_TLS_CA_STORE=mozilla,system",
    "-t",
    tag,
    ROOT,
  ]);
  const buildSeconds = seconds(started);
  const sizeBytes = Number(
    await must("docker image inspect", [
      "image",
      "inspect",
      "--format",
      "{{.Size}}",
      tag,
    ]),
  );
  log(`built ${tag}: ${(sizeBytes / 1e6).toFixed(0)} MB (${buildSeconds} s)`);
  return { tag, base, baseSeconds, denoSeconds, buildSeconds, sizeBytes };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** debootstrap into a temp dir, this machine's extra CAs added, packed into the cache. */
async function debootstrapTarball(mirror: string): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new ImageBuildError(
      "making the base needs root (debootstrap): run `deno task image` as root once, or " +
        `import a Debian ${BASE_SUITE} rootfs yourself as ${LOCAL_BASE_IMAGE}`,
    );
  }
  const work = await Deno.makeTempDir({ prefix: "turnpike-base-" });
  const rootfs = `${work}/rootfs`;
  const sh = runner("sh", {});
  try {
    const boot = await runner("debootstrap", {})([
      "--variant=minbase",
      BASE_SUITE,
      rootfs,
      mirror,
    ]).catch((err) => ({ ok: false, out: String(err) }));
    if (!boot.ok) {
      throw new ImageBuildError(
        `debootstrap failed (apt-get install debootstrap; deno task setup does as root): ` +
          boot.out.slice(-2000),
      );
    }
    const script = [
      `rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/archives/*.deb`,
      `mkdir -p "${rootfs}/usr/local/share/ca-certificates" "${rootfs}/etc/ssl/certs"`,
      `for f in /usr/local/share/ca-certificates/*.crt; do if [ -f "$f" ]; then cp "$f" "${rootfs}/usr/local/share/ca-certificates/"; fi; done`,
      `if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/"; fi`,
      `mkdir -p "${CACHE}"`,
      `tar -C "${rootfs}" -c . | gzip -1 > "${BASE_TARBALL}.part"`,
      `mv "${BASE_TARBALL}.part" "${BASE_TARBALL}"`,
    ].join(" && ");
    const packed = await sh(["-c", script]);
    if (!packed.ok) throw new ImageBuildError(`packing the base failed: ${packed.out}`);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--tag");
  try {
    await buildLocalImage({ tag: i >= 0 ? Deno.args[i + 1] : undefined });
  } catch (err) {
    if (!(err instanceof ImageBuildError)) throw err;
    console.error(`Error: ${err.message}`);
    Deno.exit(1);
  }
}
