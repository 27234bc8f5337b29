/**
 * Test helper: a town in its own process under `prlimit --nofile=<n>:<n>` (a small host's file
 * limit; Deno raises only the soft limit by itself), for attacks that must exhaust the town's
 * descriptors and not the test's.
 *
 * @module
 */

/** Options for {@linkcode startLimitedTown}. */
export interface LimitedTownOptions {
  /** Soft and hard RLIMIT_NOFILE of the town process. */
  openFiles: number;
}

/** A town process. */
export interface LimitedTown extends AsyncDisposable {
  httpPort: number;
  btpPort: number;
  pid: number;
  /** True while the process runs. */
  alive(): boolean;
}

/**
 * Starts the town process and waits for its ports.
 *
 * @example
 * ```ts
 * await using town = await startLimitedTown({ openFiles: 256 });
 * ```
 */
export async function startLimitedTown(options: LimitedTownOptions): Promise<LimitedTown> {
  const dir = await Deno.makeTempDir({ prefix: "limited_town_" });
  const runner = `${dir}/runner.ts`;
  await Deno.writeTextFile(
    runner,
    `import { startTestTown } from "${new URL("../../harness/town_test_node.ts", import.meta.url)}";
const town = await startTestTown({ databasePath: "${dir}/events.sqlite" });
console.log(JSON.stringify({ httpPort: town.httpPort, btpPort: town.btpPort }));
await new Promise(() => {});
`,
  );
  const child = new Deno.Command("prlimit", {
    args: [
      `--nofile=${options.openFiles}:${options.openFiles}`,
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      runner,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the town process ended before listening");
    text += value;
  }
  // Nothing else is read: a pipe left unread would fill and block the town.
  await lines.cancel();
  const ports = JSON.parse(text.split("\n")[0]) as { httpPort: number; btpPort: number };
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    ...ports,
    pid: child.pid,
    alive: () => !exited,
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGKILL");
      await status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
