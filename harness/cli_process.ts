/**
 * Starts the real `turnpike` command (`deno run -A cli.ts ...`) as a long-running subprocess
 * (`town up`, `node up`) and lets a test wait for a line it prints, kill it, and read what it
 * wrote. For commands that run to completion, use `run_cli.ts`.
 *
 * @module
 */

/** Options for {@linkcode spawnCli}. */
export interface SpawnCliOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * What runs before `args`: default `deno run -A cli.ts`; e.g. `docker run ... <image>` for the
   * image's entrypoint (tests/e2e/image_test.ts).
   */
  command?: string[];
}

/** A running CLI process. */
export interface CliProcess {
  child: Deno.ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Non-empty stderr lines so far. */
  stderr: string[];
  /**
   * Resolves with the first stdout line (already printed or to come) that `match` accepts;
   * rejects, with the stderr, when the process ends without printing one.
   */
  waitForLine(match: (line: string) => boolean): Promise<string>;
  /** Resolves once the process has exited and both outputs are drained. */
  done: Promise<Deno.CommandStatus>;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface LineWaiter {
  match: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

/**
 * Spawns `turnpike <args>` with stdin closed; both outputs are read continuously (so a chatty
 * process never blocks on a full pipe) until it exits.
 *
 * The example of `startCliTown` (harness/cli_town.ts) runs a town with it until it stops it;
 * tests/e2e/db_up_test.ts and tests/e2e/provider_channel_test.ts spawn theirs with it.
 */
export function spawnCli(args: string[], options: SpawnCliOptions = {}): CliProcess {
  const [program, ...before] = options.command ?? [Deno.execPath(), "run", "-A", CLI];
  const child = new Deno.Command(program, {
    args: [...before, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let out = "";
  const lines: string[] = [];
  const stderr: string[] = [];
  let waiters: LineWaiter[] = [];
  let ended = false;
  const settle = (line: string) => {
    waiters = waiters.filter((w) => {
      if (!w.match(line)) return true;
      w.resolve(line);
      return false;
    });
  };
  const outDone = (async () => {
    let partial = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        settle(line);
      }
    }
    if (partial !== "") {
      lines.push(partial);
      settle(partial);
    }
  })();
  const errDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr.push(...chunk.split("\n").filter((l) => l !== ""));
    }
  })();
  const done = (async () => {
    await Promise.all([outDone, errDone]);
    ended = true;
    for (const w of waiters) {
      w.reject(new Error(`turnpike ${args.join(" ")} ended first: ${stderr.join("\n")}`));
    }
    waiters = [];
    return await child.status;
  })();
  const waitForLine = (match: (line: string) => boolean): Promise<string> => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    if (ended) {
      return Promise.reject(
        new Error(`turnpike ${args.join(" ")} ended first: ${stderr.join("\n")}`),
      );
    }
    return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
  };
  return { child, stdout: () => out, stderr, waitForLine, done };
}
