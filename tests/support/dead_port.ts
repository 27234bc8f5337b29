/**
 * Test helper: a local URL nothing listens on (a port the kernel just handed out, then
 * closed), for "the peer is unreachable" cases.
 *
 * @module
 */

/**
 * `btp+ws://127.0.0.1:<port>` with no listener behind it.
 *
 * @example
 * ```ts
 * const closed = await runCli(["channel", "close", id, "--connector-btp-url", deadBtpUrl()]);
 * ```
 */
export function deadBtpUrl(): string {
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (dead.addr as Deno.NetAddr).port;
  dead.close();
  return `btp+ws://127.0.0.1:${port}`;
}
