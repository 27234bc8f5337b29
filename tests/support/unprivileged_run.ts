/**
 * Runs a test file again as an unprivileged user (nobody), the way a provider operator without
 * root runs turnpike, even when the suite itself runs as root. The repository and the running
 * Deno are bound into a fresh directory nobody can reach (the clone may live under a 0700 home,
 * and npx keeps Deno under one), in a mount namespace of their own: nothing on the host is
 * loosened.
 *
 * @module
 */

/** What the unprivileged `deno test` printed and how it ended. */
export interface UnprivilegedTestRun {
  code: number;
  output: string;
  passed: number;
  failed: number;
}

/**
 * `deno test -A <file>` as uid/gid 65534, from a bound copy of the current directory.
 * Needs root (to bind and to change user); callers check `Deno.uid() === 0` first.
 *
 * @example
 * ```ts
 * const run = await denoTestAsNobody("tests/unit/roles/provider/skill_sandbox_test.ts");
 * ```
 */
export async function denoTestAsNobody(
  file: string,
  env: Record<string, string> = {},
): Promise<UnprivilegedTestRun> {
  const top = await Deno.makeTempDir({ prefix: "turnpike-unprivileged-" });
  try {
    await Deno.chmod(top, 0o755);
    for (const d of ["repo", "deno", "home"]) await Deno.mkdir(`${top}/${d}`);
    await Deno.chown(`${top}/home`, 65534, 65534);
    const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
    const denoName = Deno.execPath().slice(denoDir.length + 1);
    const script = 'mount --bind "$1" "$2/repo" && mount --bind "$3" "$2/deno" && cd "$2/repo" ' +
      '&& shift 3 && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"';
    const { code, stdout, stderr } = await new Deno.Command("unshare", {
      args: [
        "--mount",
        "--propagation=private",
        "bash",
        "-c",
        script,
        "unprivileged",
        Deno.cwd(),
        top,
        denoDir,
        `${top}/deno/${denoName}`,
        "test",
        "-A",
        file,
      ],
      clearEnv: true,
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: `${top}/home`,
        DENO_DIR: `${top}/home/deno`,
        NO_COLOR: "1",
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const summary = /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(
      output,
    );
    return {
      code,
      output,
      passed: summary === null ? 0 : Number(summary[1]),
      failed: summary === null ? -1 : Number(summary[2]),
    };
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}
