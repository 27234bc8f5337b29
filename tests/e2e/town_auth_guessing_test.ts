/**
 * BTP token guessing from many addresses against a town on one process (real in-process town,
 * real SQLite, real sockets from distinct loopback addresses 127.0.0.x): every guess the town
 * reads, a blocked address's trial included, is counted against the town's total of failed
 * auths before its auth is read, as on a town on several processes
 * (tests/e2e/town_shared_limits_test.ts), so the guesses read stay within the total
 * (docs/OPERATIONS.md "A town's limits").
 */
import WebSocket from "ws";
import { generateSecretKey } from "nostr-tools";
import { assert } from "../../harness/assert.ts";
import { startTestTown } from "../../harness/town_test_node.ts";
import { authProtocolData, encodeBtpFrame } from "../../protocol/btp_message.ts";

/** A hang guard, not a timing assertion. */
const GUARD_MS = 60_000;

/**
 * One wrong token from `source`: "auth-failed" when the town read it (and closed), "refused"
 * when the upgrade was refused.
 */
function guessFrom(
  source: string,
  port: number,
  token: string,
): Promise<"auth-failed" | "refused"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress: source });
    let opened = false;
    const guard = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer to a guess from ${source} within the guard`));
    }, GUARD_MS);
    socket.on("open", () => {
      opened = true;
      socket.send(
        encodeBtpFrame({
          type: "message",
          requestId: 1,
          protocolData: authProtocolData({ token }),
        }),
      );
    });
    socket.on("unexpected-response", (_req: unknown, res: { resume(): void }) => {
      res.resume();
      socket.terminate();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(guard);
      resolve(opened ? "auth-failed" : "refused");
    });
  });
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`turnpike_town_${name} `));
  assert(line !== undefined, `metric ${name} missing`);
  return Number(line.split(" ")[1]);
}

Deno.test("town on one process: guesses from 30 addresses, blocked addresses' trials included, stay within the town's total of failed auths", async () => {
  // A total of 60 a minute (a burst of 10, then 1 a second); each address blocked after 2
  // failures, with a trial every 200 ms (the default is 10 s: the same race, shorter).
  const town = await startTestTown({
    secretKey: generateSecretKey(),
    peers: [{ account: "alice", token: "tok-alice" }],
    limits: {
      btpAuthFailuresPerMinuteTotal: 60,
      btpAuthFailuresPerMinute: 2,
      btpAuthTrialSeconds: 0.2,
    },
  });
  try {
    const sources = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
    const started = Date.now();
    let tries = 0;
    let read = 0;
    await Promise.all(sources.map(async (source) => {
      for (let i = 0; Date.now() - started < 3000; i++) {
        tries++;
        if (await guessFrom(source, town.btpPort, `guess-${source}-${i}`) === "auth-failed") read++;
        // A guesser that waits for its next trial rather than spinning on 429s.
        await new Promise((r) => setTimeout(r, 50));
      }
    }));
    const seconds = (Date.now() - started) / 1000;
    const checked = await metric(town.httpPort, "btp_auth_failures_total");
    // The burst and what refilled meanwhile; one more for a token refilled as the clock read.
    const allowed = 10 + Math.floor(seconds) + 1;
    console.log(
      `token checks in ${seconds.toFixed(2)} s from ${sources.length} addresses: ${checked} ` +
        `(${read} seen by the guessers, ${tries} tries; allowed ${allowed})`,
    );
    assert(checked >= 10, `the burst is read: ${checked}`);
    assert(checked <= allowed, `${checked} token checks, the town allows ${allowed}`);
  } finally {
    await town.stop();
  }
});
