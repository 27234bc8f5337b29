/**
 * Test helper: what a third party reads from a relay, on a socket that never AUTHs (NIP-42): the
 * tests that a job's private parts stay off the town's public feedback read with it
 * (docs/PROTOCOL.md "Errors of an encrypted job").
 *
 * @module
 */

/**
 * Every message a relay sends for one REQ (subscription `third-party`), up to its EOSE or
 * CLOSED, as the raw frames.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPublicFrames } from "./public_frames.ts";
 *
 * const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   socket.onmessage = () => socket.send(JSON.stringify(["EOSE", "third-party"]));
 *   return response;
 * });
 * const frames = await readPublicFrames(`ws://127.0.0.1:${server.addr.port}`, { kinds: [1] });
 * assert.deepEqual(frames, ['["EOSE","third-party"]']);
 * await server.shutdown();
 * ```
 */
export async function readPublicFrames(
  url: string,
  filter: Record<string, unknown>,
): Promise<string[]> {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify(["REQ", "third-party", filter]));
    ws.onerror = () => reject(new Error(`cannot read ${url}`));
    ws.onmessage = (m) => {
      const text = String(m.data);
      frames.push(text);
      if (text.startsWith('["EOSE"') || text.startsWith('["CLOSED"')) resolve();
    };
  });
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
  return frames;
}
