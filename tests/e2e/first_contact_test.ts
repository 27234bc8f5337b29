/**
 * The README's first command as a newcomer runs it: a copy of the project in a fresh directory
 * under a 0700 parent, no tools/ installed, HOME another 0700 directory holding the Deno that
 * runs it (npx keeps Deno in the user's home). `deno task demo` must install what it needs,
 * run the paid job through a sandbox that reaches that Deno, and settle (chain = books).
 *
 * To spare the network, the copy shares this machine's npm and Deno download caches (read by
 * npm and Deno only; nothing of the project's own state is shared).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";

/** What a fresh checkout holds: the tracked files, without anything installed. */
const LEFT_OUT = [
  "node_modules",
  "tools/node_modules",
  "harness/peers/node_modules",
  ".git",
  "dist",
];

async function copyProject(to: string): Promise<void> {
  const excludes = LEFT_OUT.flatMap((p) => ["--exclude", `./${p}`]);
  const { success, stderr } = await new Deno.Command("sh", {
    args: ["-c", 'tar -cf - "$@" . | tar -xf - -C "$0"', to, ...excludes],
    stderr: "piped",
  }).output();
  assert(success, new TextDecoder().decode(stderr));
}

async function npmCacheDir(): Promise<string> {
  const { stdout } = await new Deno.Command("npm", { args: ["config", "get", "cache"] }).output();
  return new TextDecoder().decode(stdout).trim();
}

async function denoDir(): Promise<string> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    env: { NO_COLOR: "1" },
  }).output();
  return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
}

Deno.test("first contact: `deno task demo` in a fresh copy under a 0700 home, Deno in another", async () => {
  const top = await Deno.makeTempDir({ prefix: "turnpike-first-contact-" });
  try {
    const clones = `${top}/clones`;
    const home = `${top}/home`;
    for (const d of [clones, home, `${home}/.deno-bin`]) await Deno.mkdir(d, { mode: 0o700 });
    const project = `${clones}/turnpike`;
    await Deno.mkdir(project);
    await copyProject(project);
    const deno = `${home}/.deno-bin/deno`;
    await Deno.copyFile(Deno.execPath(), deno);
    await Deno.chmod(deno, 0o755); // as npm leaves it; its directories are the private part
    // The newcomer's own environment (a proxy's CA for npm, say), with HOME elsewhere.
    const env = {
      ...Deno.env.toObject(),
      HOME: home,
      PATH: `${home}/.deno-bin:${Deno.env.get("PATH")}`,
      npm_config_cache: await npmCacheDir(),
      DENO_DIR: await denoDir(),
      NO_COLOR: "1",
    };
    const demo = async () => {
      const out = await new Deno.Command(deno, {
        args: ["task", "demo"],
        cwd: project,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, text };
    };
    const first = await demo();
    assertEquals(first.code, 0, first.text.slice(-3000));
    assertStringIncludes(first.text, "installed @foundry-rs/anvil");
    assertStringIncludes(first.text, "ci-run    passed (exit 0");
    assertStringIncludes(first.text, "(chain = books)");
    // Installed once: the second run goes straight to the job.
    const second = await demo();
    assertEquals(second.code, 0, second.text.slice(-3000));
    assert(!second.text.includes("installing"), second.text.slice(0, 1000));
    assertStringIncludes(second.text, "(chain = books)");
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});
