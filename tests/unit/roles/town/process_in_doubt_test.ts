/**
 * Payments in doubt asked through another process of the town (roles/town/btp/process_in_doubt.ts),
 * over a real HTTP listener and a real peer ledger: the holder's answers (401 without the town's
 * MAC, 400 for a malformed question, 404 for a peer not connected there, 200 with what the peer
 * shows), and the resolver, which proves only a fulfillment of a packet in doubt on its own books,
 * asks again while the peer is connected nowhere, and stops once every payment was answered.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  askInDoubtThrough,
  createInDoubtHandler,
  type InDoubtPeer,
  ProcessInDoubtError,
  startInDoubtResolver,
} from "../../../../roles/town/btp/process_in_doubt.ts";
import { FORWARD_MAC_HEADER, forwardMac } from "../../../../roles/town/btp/process_forward.ts";
import { openPeerLedger, type PeerBalance } from "../../../../state/payments/peer_ledger.ts";

const key = new Uint8Array(32).fill(7);

/** A peer that holds these fulfillments (hex). */
function peerHolding(fulfillments: Uint8Array[], asked: string[][] = []): InDoubtPeer {
  const byCondition = new Map(fulfillments.map((f) => [bytesToHex(sha256(f)), bytesToHex(f)]));
  return {
    askInDoubt(conditions) {
      asked.push([...conditions]);
      return Promise.resolve(
        conditions.flatMap((c) => {
          const fulfillment = byCondition.get(c);
          return fulfillment === undefined ? [] : [{ fulfillment }];
        }),
      );
    },
  };
}

Deno.test("in-doubt handler: the town's MAC, a well-formed question and a peer connected here", async () => {
  const paid = crypto.getRandomValues(new Uint8Array(32));
  const condition = bytesToHex(sha256(paid));
  const handle = createInDoubtHandler({
    key,
    peer: (account) => account === "beta" ? peerHolding([paid]) : undefined,
  });
  const ask = (question: unknown, mac?: string) => {
    const body = new TextEncoder().encode(JSON.stringify(question));
    return handle(
      new Request("http://127.0.0.1/in-doubt", {
        method: "POST",
        body,
        headers: { [FORWARD_MAC_HEADER]: mac ?? forwardMac(key, body) },
      }),
    );
  };
  const text = async (r: Response) => `${r.status} ${(await r.text()).trim()}`;
  assertEquals(
    (await ask({ account: "beta", conditions: [condition] }, "00".repeat(32))).status,
    401,
  );
  assert((await text(await ask({ account: "be ta", conditions: [] }))).startsWith("400"));
  assert((await text(await ask({ account: "beta", conditions: ["xy"] }))).startsWith("400"));
  assert((await text(await ask({ account: "gamma", conditions: [condition] }))).startsWith("404"));
  const answered = await ask({ account: "beta", conditions: [condition, "00".repeat(32)] });
  assertEquals(answered.status, 200);
  assertEquals(await answered.json(), { fulfillments: [bytesToHex(paid)], expiresAt: [null] });
});

Deno.test("in-doubt resolver: proves through the holder only what is in doubt here, asks again while the peer is away (less often each round), then stops", async () => {
  const stateDir = await Deno.makeTempDir();
  const paid = crypto.getRandomValues(new Uint8Array(32));
  const unpaid = crypto.getRandomValues(new Uint8Array(32));
  const stranger = crypto.getRandomValues(new Uint8Array(32)); // in doubt on no book here
  try {
    // A process killed with two payments to beta forwarded and no answer on record.
    const before = await openPeerLedger({ stateDir });
    await before.forward("beta", bytesToHex(sha256(paid)), 2_500n);
    await before.forward("beta", bytesToHex(sha256(unpaid)), 2_500n);
    const ledger = await openPeerLedger({ stateDir }); // its restart
    assertEquals(ledger.balance("beta").inDoubt, 5_000n);

    // The process beta is on: its private listener answers questions from its peer.
    const asked: string[][] = [];
    let betaThere = false;
    const handle = createInDoubtHandler({
      key,
      peer: (a) => a === "beta" && betaThere ? peerHolding([paid, stranger], asked) : undefined,
    });
    await using holder = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
    const url = `http://127.0.0.1:${holder.addr.port}`;
    await assertRejects(
      () => askInDoubtThrough(url, new Uint8Array(32), "beta", [], 5_000),
      ProcessInDoubtError,
    );

    const owed: PeerBalance[] = [];
    const lines: string[] = [];
    let fresh = false;
    const resolver = startInDoubtResolver({
      ledger,
      key,
      peer: () => undefined,
      holder: () => Promise.resolve({ url, fresh, silentMs: fresh ? 0 : 30_000 }),
      onOwed: (b) => owed.push(b),
      log: (l) => lines.push(l),
      intervalMs: 3_600_000, // the rounds below are run by hand
      maxIntervalMs: 4 * 3_600_000,
    });
    try {
      await resolver.round(); // the holder not heard from: not asked
      assertEquals(resolver.nextRoundMs(), 2 * 3_600_000, "no answer: the next round later");
      fresh = true;
      await resolver.round(); // beta not connected there (404): not asked
      assertEquals([asked.length, resolver.unanswered()], [0, 2]);
      await resolver.round();
      assertEquals(resolver.nextRoundMs(), 4 * 3_600_000, "at most maxIntervalMs");
      betaThere = true;
      await resolver.round();
      assertEquals(resolver.nextRoundMs(), 3_600_000, "an answer: back to intervalMs");
      assertEquals(asked.length, 1);
      assertEquals(ledger.balance("beta").owed, 2_500n, "the payment beta proved is owed");
      assertEquals(ledger.balance("beta").inDoubt, 2_500n, "the other stays in doubt");
      assertEquals(owed.map((b) => b.owed), [2_500n], "handed to the payouts");
      assertEquals(resolver.unanswered(), 0, "beta answered both");
      await resolver.round();
      assertEquals(asked.length, 1, "an answered payment is not asked again from here");
      assert(lines.some((l) => l.startsWith("peer beta: payment in doubt proven through")));
    } finally {
      resolver.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("in-doubt asked through a holder: its answer is read with the expiries only under the town's MAC bound to the question, an older holder's without them, a forged or an oversized one refused", async () => {
  const paid = crypto.getRandomValues(new Uint8Array(32));
  const condition = bytesToHex(sha256(paid));
  const expiresAt = "2026-11-28T19:56:31.839Z";
  const handle = createInDoubtHandler({
    key,
    peer: () => ({
      askInDoubt: () => Promise.resolve([{ fulfillment: bytesToHex(paid), expiresAt }]),
    }),
  });
  let serve: (request: Request) => Promise<Response> = handle;
  await using holder = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (r) => serve(r),
  );
  const url = `http://127.0.0.1:${holder.addr.port}`;
  const ask = () => askInDoubtThrough(url, key, "beta", [condition], 5_000);
  assertEquals(await ask(), [{ fulfillment: bytesToHex(paid), expiresAt }]);
  // The same answer under a MAC of another question (a replay), or altered on the way.
  const altered = (change: (answer: string, mac: string) => [string, string]) => {
    serve = async (request) => {
      const answer = await handle(request);
      const [body, mac] = change(await answer.text(), answer.headers.get(FORWARD_MAC_HEADER)!);
      return new Response(body, { headers: { [FORWARD_MAC_HEADER]: mac } });
    };
  };
  altered((answer) => [answer, forwardMac(key, new TextEncoder().encode(answer))]);
  await assertRejects(ask, ProcessInDoubtError, "MAC that does not match");
  altered((answer, mac) => [answer.replace("31.839Z", "32.839Z"), mac]);
  await assertRejects(ask, ProcessInDoubtError, "MAC that does not match");
  // An older holder: no MAC, and no expiries passed on; read as before (the fulfillment alone).
  serve = async (request) => new Response(await (await handle(request)).text());
  assertEquals(await ask(), [{ fulfillment: bytesToHex(paid) }]);
  // An answer past the codec's bound is not read past it.
  serve = () => Promise.resolve(new Response("x".repeat(300_000)));
  await assertRejects(ask, ProcessInDoubtError, "answered more than");
});
