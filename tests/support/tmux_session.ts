/**
 * A command run in a detached tmux session of a fixed size, for tests of a terminal UI: keys
 * go in with `send-keys`, the screen comes out with `capture-pane -p`. tmux is one of the
 * system packages `deno task setup` installs; without it the test fails saying so.
 *
 * @module
 */

/** Options for {@linkcode startTmuxSession}. */
export interface TmuxSessionOptions {
  /** The command line, as a shell would run it. */
  command: string;
  columns?: number;
  rows?: number;
}

/** A running session. */
export interface TmuxSession {
  name: string;
  /** The screen as text, one line per row. */
  capture(): Promise<string>;
  /** Sends keys (`q`, `Enter`, `Down`, `Escape`...). */
  sendKeys(...keys: string[]): Promise<void>;
  /**
   * Captures until `test` holds, every few ms; fails (with the last screen) after `timeoutMs`,
   * a bound for a broken run only.
   */
  waitFor(test: (screen: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** True while the session (its command) runs. */
  alive(): Promise<boolean>;
  /** Ends the session, if it still runs, and removes its server's socket. */
  kill(): Promise<void>;
}

/** tmux is not installed. */
export class TmuxMissingError extends Error {
  override name = "TmuxMissingError";
}

/**
 * Runs tmux on the session's own server (`-S socket`): sessions started side by side by tests
 * running at once would otherwise race to start the one default server, and one of them fails.
 */
async function tmux(
  socket: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const out = await new Deno.Command("tmux", {
      args: ["-S", socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      ok: out.success,
      out: decoder.decode(out.stdout),
      err: decoder.decode(out.stderr).trim(),
    };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new TmuxMissingError(
        "tmux is not installed: `deno task setup` installs it as root, or apt-get install tmux",
      );
    }
    throw err;
  }
}

/**
 * Starts `command` in a new detached session.
 *
 * @example
 * ```ts
 * const s = await startTmuxSession({ command: "top" });
 * await s.waitFor((screen) => screen.includes("load average"), "top's header");
 * await s.kill();
 * ```
 */
export async function startTmuxSession(o: TmuxSessionOptions): Promise<TmuxSession> {
  const name = `turnpike-test-${crypto.randomUUID().slice(0, 8)}`;
  const socket = `${await Deno.makeTempDir({ prefix: "turnpike-tmux-" })}/socket`;
  const started = await tmux(socket, [
    "new-session",
    "-d",
    "-s",
    name,
    "-x",
    String(o.columns ?? 80),
    "-y",
    String(o.rows ?? 24),
    o.command,
  ]);
  if (!started.ok) {
    throw new Error(`tmux new-session failed for ${o.command}: ${started.err}`);
  }
  const capture = async () => (await tmux(socket, ["capture-pane", "-p", "-t", name])).out;
  return {
    name,
    capture,
    sendKeys: async (...keys) => {
      await tmux(socket, ["send-keys", "-t", name, ...keys]);
    },
    async waitFor(test, what, timeoutMs = 60_000) {
      const deadline = performance.now() + timeoutMs;
      let screen = "";
      while (performance.now() < deadline) {
        screen = await capture();
        if (test(screen)) return screen;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`the screen never showed ${what}; last screen:\n${screen}`);
    },
    alive: async () => (await tmux(socket, ["has-session", "-t", name])).ok,
    kill: async () => {
      // The server is the session's own.
      await tmux(socket, ["kill-server"]);
      await Deno.remove(socket.slice(0, -"/socket".length), { recursive: true });
    },
  };
}
