/**
 * Abuse limits of a town on several processes held town-wide (real processes, a real
 * PostgreSQL server): failed BTP auths from one address, spread over two processes, block it on
 * both after the town's limit, not after the limit on each; guesses at both processes at once
 * stay within the town's total; connections opened on both at once stop at the town's cap.
 */
import { generateSecretKey } from "nostr-tools";
import { BtpClient } from "../../transport/btp_client.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import {
  type SharedTownProcess,
  startSharedTownProcess,
} from "../../harness/shared_town_process.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";

/** A hang guard, not a timing assertion. */
const GUARD_MS = 60_000;

/**
 * Opens a WebSocket to the process's BTP port and sends a frame that is no BTP auth:
 * "auth-failed" when the town read it (and closed), "refused" when the upgrade was refused.
 */
function badAuth(p: SharedTownProcess): Promise<"auth-failed" | "refused"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${p.btpPort}`);
    let opened = false;
    const guard = setTimeout(() => {
      socket.close();
      reject(new Error("no answer to a bad BTP auth within the guard"));
    }, GUARD_MS);
    socket.onopen = () => {
      opened = true;
      socket.send(new Uint8Array([0xff, 0x00, 0x01]));
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      clearTimeout(guard);
      resolve(opened ? "auth-failed" : "refused");
    };
  });
}

Deno.test("shared limits: failed BTP auths from one address are counted town-wide", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  // A block outlasts the test and a blocked address gets no trial meanwhile.
  const limits = { btpAuthFailuresPerMinute: 4, btpAuthTrialSeconds: 600 };
  await using a = await startSharedTownProcess({ storeUrl, secretKey, limits });
  await using b = await startSharedTownProcess({ storeUrl, secretKey, limits });
  const outcomes: string[] = [];
  for (let i = 0; i < 12; i++) outcomes.push(await badAuth(i % 2 === 0 ? a : b));
  const failed = outcomes.filter((o) => o === "auth-failed").length;
  // Per process alone this would be 8 (4 on each). Town-wide: 4, plus one on the other process
  // (where the address's next failure finds the town's bucket empty).
  assert(failed >= 4 && failed <= 5, outcomes.join());
  assert(outcomes.slice(failed).every((o) => o === "refused"), outcomes.join());
  // Both processes refuse the address now.
  assertEquals(await badAuth(a), "refused");
  assertEquals(await badAuth(b), "refused");
});

Deno.test("shared limits: guesses at both processes at once stay within the town's total of failed auths", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  // The town's total as configured: 120 a minute, a burst of 20 (a sixth), 2 a second after.
  // Every guess comes from 127.0.0.1, so the per-address limits are out of the way.
  const limits = {
    btpAuthFailuresPerMinuteTotal: 120,
    btpAuthFailuresPerMinute: 100_000,
    maxConnectionsPerAddress: 1000,
  };
  await using a = await startSharedTownProcess({ storeUrl, secretKey, limits });
  await using b = await startSharedTownProcess({ storeUrl, secretKey, limits });
  // 1.5 s of guesses, 16 at a time on each process.
  const started = Date.now();
  const outcomes = { a: [] as string[], b: [] as string[] };
  const guesser = async (p: SharedTownProcess, into: string[]) => {
    while (Date.now() - started < 1500) into.push(await badAuth(p));
  };
  await Promise.all([
    ...Array.from({ length: 16 }, () => guesser(a, outcomes.a)),
    ...Array.from({ length: 16 }, () => guesser(b, outcomes.b)),
  ]);
  const seconds = (Date.now() - started) / 1000;
  const failed = [...outcomes.a, ...outcomes.b].filter((o) => o === "auth-failed").length;
  // The burst and what refilled meanwhile; one more for a token refilled as the clock read.
  const allowed = 20 + Math.floor(2 * seconds) + 1;
  console.log(
    `failed auths admitted town-wide in ${seconds.toFixed(2)} s: ${failed} ` +
      `(a ${outcomes.a.filter((o) => o === "auth-failed").length}, ` +
      `b ${outcomes.b.filter((o) => o === "auth-failed").length}; allowed ${allowed}; ` +
      `${outcomes.a.length + outcomes.b.length} tries)`,
  );
  assert(failed >= 20, `the burst is admitted: ${failed}`);
  assert(failed <= allowed, `${failed} failed auths, the town allows ${allowed}`);
  // Each process refused guesses: the total is the town's, whichever process a guess hits.
  assert(outcomes.a.includes("refused") && outcomes.b.includes("refused"));
});

Deno.test("shared limits: connections opened on both processes at once stop at the town's cap", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  const limits = { maxConnectionsPerAddress: 8 };
  await using a = await startSharedTownProcess({ storeUrl, secretKey, limits });
  await using b = await startSharedTownProcess({ storeUrl, secretKey, limits });
  const opened = await Promise.all([
    ...Array.from({ length: 12 }, () => openReader(a)),
    ...Array.from({ length: 12 }, () => openReader(b)),
  ]);
  const held = opened.filter((s): s is WebSocket => s !== "refused");
  try {
    console.log(
      `readers admitted town-wide: ${held.length} of 24 opened at once (cap 8; ` +
        `a ${opened.slice(0, 12).filter((s) => s !== "refused").length}, ` +
        `b ${opened.slice(12).filter((s) => s !== "refused").length})`,
    );
    assertEquals(held.length, 8);
    // The ninth is refused on either process, and a closed one frees a slot on the other.
    assertEquals(await openReader(a), "refused");
    assertEquals(await openReader(b), "refused");
    await closeSocket(held.pop()!);
    const again = await admittedWithin(held.length % 2 === 0 ? a : b);
    assert(again !== undefined);
    held.push(again);
  } finally {
    for (const socket of held) await closeSocket(socket);
  }
});

/**
 * A NIP-01 WebSocket to the process with an open subscription (so it is never evicted as idle),
 * or "refused" when the upgrade was refused.
 */
function openReader(p: SharedTownProcess): Promise<WebSocket | "refused"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${p.httpPort}`);
    const guard = setTimeout(() => {
      socket.close();
      reject(new Error("no answer to a WebSocket upgrade within the guard"));
    }, GUARD_MS);
    socket.onopen = () => {
      clearTimeout(guard);
      socket.send(JSON.stringify(["REQ", "live", { kinds: [1], limit: 1 }]));
      resolve(socket);
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      clearTimeout(guard);
      resolve("refused");
    };
  });
}

async function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
  socket.close();
  await closed;
}

/**
 * Opens readers on `p` until one is refused (the town-wide count reached it) or the guard
 * passes; each one opened on the way is closed again. True when refused.
 */
async function refusedWithin(p: SharedTownProcess, guardMs = GUARD_MS): Promise<boolean> {
  const until = Date.now() + guardMs;
  while (Date.now() < until) {
    const socket = await openReader(p);
    if (socket === "refused") return true;
    await closeSocket(socket);
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Opens readers on `p` until one opens (or the guard passes); that one, or undefined. */
async function admittedWithin(p: SharedTownProcess): Promise<WebSocket | undefined> {
  const until = Date.now() + GUARD_MS;
  while (Date.now() < until) {
    const socket = await openReader(p);
    if (socket !== "refused") return socket;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

Deno.test("shared limits: connections per address are capped town-wide, a dead process's lapse", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  const limits = { maxConnectionsPerAddress: 4 };
  await using a = await startSharedTownProcess({ storeUrl, secretKey, limits });
  const b = await startSharedTownProcess({ storeUrl, secretKey, limits });
  const held: WebSocket[] = [];
  try {
    for (const p of [a, a, b, b]) {
      const socket = await openReader(p);
      assert(socket !== "refused", "the first four connections are admitted");
      held.push(socket);
    }
    // Four from this address on the town: a fifth is refused on either process once the counts
    // were exchanged (each process alone would admit two more).
    assert(await refusedWithin(a), "A refuses a fifth connection");
    assert(await refusedWithin(b), "B refuses a fifth connection");
    // B dies with its two connections: once its heartbeat lapses, A admits two more.
    await b.kill();
    const first = await admittedWithin(a);
    assert(first !== undefined, "A admits again after B's heartbeat lapsed");
    held.push(first);
    const second = await openReader(a);
    assert(second !== "refused");
    held.push(second);
    const third = await openReader(a);
    assertEquals(third, "refused");
  } finally {
    for (const socket of held) await closeSocket(socket);
    await b.stop();
  }
});

Deno.test("shared limits: sixty honest peers from one address connecting at once all authenticate (twelve times the failed-auth limit)", async () => {
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const secretKey = generateSecretKey();
  // The default failed-auth limit (5 a minute per address); sixty peers on one host, as a
  // requester host of agents restarting is, connect to both processes at the same moment.
  await using a = await startSharedTownProcess({ storeUrl, secretKey });
  await using b = await startSharedTownProcess({ storeUrl, secretKey });
  const clients = Array.from(
    { length: 60 },
    (_, i) =>
      new BtpClient({
        url: `btp+ws://127.0.0.1:${(i % 2 === 0 ? a : b).btpPort}`,
        authToken: `peer${i}`,
        reconnect: false,
      }),
  );
  try {
    const outcomes = await Promise.allSettled(clients.map((c) => c.connect()));
    const refused = outcomes.flatMap((o) => o.status === "rejected" ? [String(o.reason)] : []);
    assertEquals(refused, [], "every honest peer authenticated");
    // A guess from that address is still counted: five in a row fail, the next is refused.
    const guesses: string[] = [];
    for (let i = 0; i < 7; i++) guesses.push(await badAuth(i % 2 === 0 ? a : b));
    assertEquals(guesses.filter((g) => g === "auth-failed").length <= 6, true, guesses.join());
    assertEquals(guesses.at(-1), "refused", guesses.join());
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
});
