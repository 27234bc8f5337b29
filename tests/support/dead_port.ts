/**
 * Test helper: a local port (or URL) nothing listens on (a port the kernel just handed out, then
 * closed), for "the peer is unreachable" cases.
 *
 * @module
 */

/**
 * A 127.0.0.1 TCP port with no listener behind it.
 *
 * @example
 * ```ts
 * const relayUrl = `ws://127.0.0.1:${deadPort()}`;
 * ```
 */
export function deadPort(): number {
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (dead.addr as Deno.NetAddr).port;
  dead.close();
  return port;
}

/**
 * `btp+ws://127.0.0.1:<port>` with no listener behind it.
 *
 * @example
 * ```ts
 * import { runCli } from "../../harness/run_cli.ts";
 *
 * declare const id: string;
 * const closed = await runCli(["channel", "close", id, "--connector-btp-url", deadBtpUrl()]);
 * ```
 */
export function deadBtpUrl(): string {
  return `btp+ws://127.0.0.1:${deadPort()}`;
}
