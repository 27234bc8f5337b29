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
  kill(): Promise<void>;
}

/** tmux is not installed. */
export class TmuxMissingError extends Error {
  override name = "TmuxMissingError";
}

async function tmux(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" })
      .output();
    return { ok: out.success, out: new TextDecoder().decode(out.stdout) };
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
  const started = await tmux([
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
  if (!started.ok) throw new Error(`tmux new-session failed for ${o.command}`);
  const capture = async () => (await tmux(["capture-pane", "-p", "-t", name])).out;
  return {
    name,
    capture,
    sendKeys: async (...keys) => {
      await tmux(["send-keys", "-t", name, ...keys]);
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
    alive: async () => (await tmux(["has-session", "-t", name])).ok,
    kill: async () => {
      await tmux(["kill-session", "-t", name]);
    },
  };
}
