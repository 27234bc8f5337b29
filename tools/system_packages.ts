/**
 * Installs the system packages the test suite needs (Debian's docker.io and busybox-static for
 * the docker-build tests, tmux for the dashboard's terminal test, haproxy for the town behind a
 * TLS terminator, debootstrap for the image test's base, libsecp256k1-1 for the native signature
 * verifier, protocol/native_schnorr.ts, libargon2-1 for the passphrase's key,
 * identity/native_argon2.ts) when they are missing and this runs as root on an apt system;
 * otherwise says what to install and carries on (the tests that need an engine then fail saying so). Part of
 * `deno task setup`, which `deno task test` runs first; done in ~25 s once, nothing after.
 *
 * Usage: `deno run --allow-run --allow-env --allow-sys=uid tools/system_packages.ts`
 *
 * @module
 */

/** The Debian packages, and a command each provides. */
const PACKAGES: Record<string, string> = {
  "docker.io": "dockerd",
  "busybox-static": "busybox",
  tmux: "tmux",
  haproxy: "haproxy",
  // The image test's base (tools/image_build.ts).
  debootstrap: "debootstrap",
};

/** The Debian packages that are libraries, and the file name the loader finds each by. */
const LIBRARIES: Record<string, string> = {
  "libsecp256k1-1": "libsecp256k1.so.1",
  // The passphrase's Argon2id (identity/native_argon2.ts).
  "libargon2-1": "libargon2.so.1",
};

async function hasLibrary(name: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `ldconfig -p | grep -qF ${name}`],
    stdout: "null",
  }).output().catch(() => ({ success: false }));
  return out.success;
}

async function has(command: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${command}`],
    stdout: "null",
  })
    .output();
  return out.success;
}

async function apt(args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "inherit",
  }).output().catch(() => ({ success: false }));
  return success;
}

if (import.meta.main) {
  const missing: string[] = [];
  for (const [pkg, command] of Object.entries(PACKAGES)) {
    if (!await has(command)) missing.push(pkg);
  }
  for (const [pkg, file] of Object.entries(LIBRARIES)) {
    if (!await hasLibrary(file)) missing.push(pkg);
  }
  if (missing.length > 0) {
    const list = missing.join(" ");
    if (Deno.uid() !== 0 || !await has("apt-get")) {
      console.error(
        `note: the docker-build and dashboard tests need ${list} (e.g. sudo apt-get install -y ${list}); ` +
          "without them those tests fail and say so",
      );
    } else {
      console.error(`installing ${list} (apt-get; once) ...`);
      const started = performance.now();
      const install = ["install", "-y", "--no-install-recommends", ...missing];
      const ok = await apt(install) ||
        (await apt(["update", "-qq"]) && await apt(install));
      console.error(
        ok
          ? `installed ${list} in ${((performance.now() - started) / 1000).toFixed(1)} s`
          : `could not install ${list}: the docker-build tests will fail and say so`,
      );
    }
  }
}
