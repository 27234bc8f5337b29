/**
 * The town killed (SIGKILL) between forwarding a payment to its provider and recording the
 * answer: the packet was on the town's books before it left, so after the restart it is in
 * doubt (not owed, not lost); when the provider connects to the restarted town, the town asks it
 * (protocol/payment_in_doubt.ts) and its fulfillment proves the payment, once; what was fulfilled
 * before the crash is owed exactly once (state/payments/peer_ledger.ts).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assertEquals } from "../../harness/assert.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";

const HANG_GUARD_MS = 60_000;

function spawnTown(stateDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../support/town_books_process.ts", import.meta.url).pathname,
      stateDir,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const ready = (async () => {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the town process ended before it was ready");
      text += value;
    }
    return JSON.parse(text.split("\n")[0]) as { url: string };
  })();
  return { child, ready: guard(ready, "the town process to start") };
}

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang guard: no ${what}`)), HANG_GUARD_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("town killed between forwarding and recording: the payment is in doubt, proven once", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "town_books_crash_" });
  const secrets = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
  const town = spawnTown(stateDir);
  const { url } = await town.ready;
  const third = Promise.withResolvers<void>();
  const beta = new BtpClient({
    url,
    authToken: "beta-token",
    reconnect: false,
    onPrepare: async (p) => {
      const secret = secrets.find((s) => sha256(s).join() === p.executionCondition.join())!;
      if (secret === secrets[2]) {
        // Beta takes the third payment; the town dies before it hears the FULFILL.
        third.resolve();
        await new Promise(() => {});
      }
      return { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) };
    },
  });
  const alice = new BtpClient({ url, authToken: "alice-token", reconnect: false });
  const pay = (secret: Uint8Array): Promise<IlpReply> =>
    alice.sendPrepare({
      destination: "test.town.beta",
      amount: "1000",
      executionCondition: sha256(secret),
      expiresAt: new Date(Date.now() + 30_000),
      data: new Uint8Array(0),
    });
  try {
    await beta.connect();
    await alice.connect();
    assertEquals((await pay(secrets[0])).type, "fulfill");
    assertEquals((await pay(secrets[1])).type, "fulfill");
    const lost = pay(secrets[2]).catch((err: Error) => err);
    await guard(third.promise, "third payment at beta");
    town.child.kill("SIGKILL");
    await guard(town.child.status, "town exit");
    await guard(lost, "the sender's answer");
  } finally {
    await alice.close();
    await beta.close();
  }
  let stopRestarted = async () => {};
  try {
    const books = await openPeerLedger({ stateDir });
    const b = books.balance("beta");
    assertEquals([b.owed, b.inDoubt, b.inFlight, b.packets], [2000n, 1000n, 0n, 2]);
    // A restarted town resumes the same books and asks beta, when it connects, which payments
    // in doubt it fulfilled (protocol/payment_in_doubt.ts): beta's fulfillment proves the third.
    const restarted = spawnTown(stateDir);
    stopRestarted = async () => {
      try {
        restarted.child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await restarted.child.status;
    };
    const again = await restarted.ready;
    const asked: string[][] = [];
    const reconnect = async () => {
      const link = new BtpClient({
        url: again.url,
        authToken: "beta-token",
        reconnect: false,
        onInDoubt: (conditions) => {
          asked.push(conditions);
          // An older peer's answer: the fulfillments without their PREPAREs' expiries.
          return Promise.resolve(
            secrets.filter((s) => conditions.includes(bytesToHex(sha256(s))))
              .map((s) => ({ fulfillment: bytesToHex(s) })),
          );
        },
      });
      await link.connect();
      return link;
    };
    const first = await reconnect();
    try {
      await guard(
        (async () => {
          while ((await openPeerLedger({ stateDir })).balance("beta").owed !== 3000n) {
            await new Promise((r) => setTimeout(r, 25));
          }
        })(),
        "the payment in doubt proven",
      );
    } finally {
      await first.close();
    }
    assertEquals(asked, [[bytesToHex(sha256(secrets[2]))]], "only the payment in doubt is asked");
    // Connecting again asks nothing: nothing is in doubt any more.
    const second = await reconnect();
    await new Promise((r) => setTimeout(r, 200));
    await second.close();
    restarted.child.kill("SIGTERM");
    await guard(restarted.child.status, "restarted town exit");
    assertEquals(asked.length, 1);
    const final = (await openPeerLedger({ stateDir })).balance("beta");
    assertEquals([final.owed, final.inDoubt, final.packets], [3000n, 0n, 3]);
    // Proven once: the same fulfillment again changes nothing.
    const books2 = await openPeerLedger({ stateDir });
    assertEquals(await books2.prove("beta", secrets[2]), { kind: "none" });
  } finally {
    await stopRestarted();
    await Deno.remove(stateDir, { recursive: true });
  }
});
