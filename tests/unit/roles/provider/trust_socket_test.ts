/**
 * The provider's `trust publish` socket (roles/provider/trust_socket.ts) over a real Unix socket:
 * it signs and writes for a request with the passphrase's proof, and does nothing for one
 * without it or for another request; connections past its cap, and silent ones past the request
 * deadline, are closed. The towns' write is a recorder: no town here.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import type { NostrEvent } from "../../../../protocol/nostr_event.ts";
import {
  MAX_TRUST_CLIENTS,
  serveTrustSocket,
  trustSocketPath,
} from "../../../../roles/provider/trust_socket.ts";
import { encodeNodeLine, readNodeLines } from "../../../../roles/requester/node_wire.ts";

async function ask(path: string, request: object): Promise<Record<string, unknown>[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(encodeNodeLine(request)));
  writer.releaseLock();
  const lines: Record<string, unknown>[] = [];
  for await (const line of readNodeLines(conn.readable)) lines.push(line);
  return lines;
}

Deno.test("the provider's trust socket writes a proven request's assertions and refuses one without the proof or another op", async () => {
  const stateDir = await Deno.makeTempDir();
  const key = generateSecretKey();
  const written: NostrEvent[] = [];
  const proof = "ab".repeat(32);
  const subject = "cd".repeat(32);
  const action = { do: "assert", ranks: [{ subject, rank: 57.4 }] };
  try {
    await using _served = await serveTrustSocket({
      stateDir,
      proof,
      signer: { signEvent: (t) => Promise.resolve(finalizeEvent(t, key)) },
      write: (e) => Promise.resolve(written.push(e)),
    });
    const path = trustSocketPath(stateDir);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);

    const refused = await ask(path, { op: "gt", action });
    assertEquals(refused.map((l) => l.type), ["error"]);
    const other = await ask(path, { op: "gt", action: { do: "roster", pubkeys: [] }, proof });
    assertEquals(other.map((l) => l.type), ["error"]);
    assertEquals(written.length, 0);

    const lines = await ask(path, { op: "gt", action, proof });
    assertEquals(lines.map((l) => l.type), ["gt", "done"]);
    assertEquals(written.map((e) => [e.kind, e.pubkey]), [[30382, getPublicKey(key)]]);
    assertEquals(lines[0].asserted, [{ subject, rank: 57, event: written[0].id }]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

/** Reads a connection to its end: the bytes the server sent before it closed it. */
async function drained(conn: Deno.UnixConn): Promise<number> {
  let bytes = 0;
  for await (const chunk of conn.readable) bytes += chunk.length;
  return bytes;
}

Deno.test("the provider's trust socket closes unanswered a connection past its cap, and a silent one at the request deadline", async () => {
  const stateDir = await Deno.makeTempDir();
  const proof = "ab".repeat(32);
  const written: NostrEvent[] = [];
  try {
    await using _served = await serveTrustSocket({
      stateDir,
      proof,
      signer: { signEvent: (t) => Promise.resolve(finalizeEvent(t, generateSecretKey())) },
      write: (e) => Promise.resolve(written.push(e)),
    });
    const path = trustSocketPath(stateDir);
    const silent: Deno.UnixConn[] = [];
    for (let i = 0; i < MAX_TRUST_CLIENTS; i++) {
      silent.push(await Deno.connect({ transport: "unix", path }));
    }
    // Every slot is held: one more is closed with nothing said.
    const extra = await Deno.connect({ transport: "unix", path });
    assertEquals(await drained(extra), 0);
    // The silent ones are let go at the request deadline (the socket's dispose then ends).
    assertEquals(await Promise.all(silent.map(drained)), silent.map(() => 0));
    // And the socket serves again.
    const lines = await ask(path, { op: "gt", action: { do: "assert", ranks: [] }, proof });
    assertEquals(lines.map((l) => l.type), ["gt", "done"]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
