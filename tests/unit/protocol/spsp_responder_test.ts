/**
 * The town's SPSP responder under a burst, with a signer that answers one request at a time
 * after a short wait (as the worker signer does): a burst is charged the work of its answers,
 * not each answer's wait behind the others, and a request that cannot be answered in time is
 * refused T05 instead of left without a reply.
 */
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { buildSpspRequest } from "../../../protocol/spsp_message.ts";
import { SpspResponder } from "../../../roles/town/spsp/spsp_responder.ts";
import { SpspSecrets } from "../../../roles/town/spsp/spsp_secrets.ts";
import { TownWriteRejection } from "../../../roles/town/write/write_rejection.ts";
import { assert, assertEquals, assertMatch } from "../../../harness/assert.ts";

/**
 * The town's key behind a queue that serves one request at a time, each after `delayMs` (a
 * stand-in for the worker signer's thread, whose requests wait behind each other).
 */
function serializedSigner(secretKey: Uint8Array, delayMs: number): NodeSigner {
  const inner = localNodeSigner(secretKey);
  let tail: Promise<unknown> = Promise.resolve();
  const queued = <T>(f: () => Promise<T>): Promise<T> => {
    const run = tail.then(() => new Promise((r) => setTimeout(r, delayMs))).then(f);
    tail = run.catch(() => {});
    return run;
  };
  return {
    ...inner,
    pubkey: inner.pubkey,
    evmAddress: inner.evmAddress,
    evm: inner.evm,
    signEvent: (t) => queued(() => inner.signEvent(t)),
    conversationKey: (p) => queued(() => inner.conversationKey(p)),
    nip04Decrypt: (p, c) => queued(() => inner.nip04Decrypt(p, c)),
    derivedSecret: (l) => queued(() => inner.derivedSecret(l)),
    close: () => inner.close(),
    [Symbol.dispose]: () => inner.close(),
  };
}

async function request(townPubkey: string): Promise<NostrEvent> {
  const key = generateSecretKey();
  const template = await buildSpspRequest({
    signer: localNodeSigner(key),
    receiverPubkey: townPubkey,
  });
  return finalizeEvent(template, key) as NostrEvent;
}

function responder(delayMs: number, queueTimeoutMs: number) {
  const townKey = generateSecretKey();
  return new SpspResponder({
    signer: serializedSigner(townKey, delayMs),
    secrets: new SpspSecrets({ seed: new Uint8Array(32).fill(3) }),
    townAddress: () => "g.town",
    requestsPerMinute: 6000,
    burst: 1000,
    queueTimeoutMs,
  });
}

/** Settles with the answer's outcome, or "no answer" when it takes longer than `ms`. */
async function outcome(answer: Promise<NostrEvent>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      answer.then(
        (e) => (e.kind === 23195 ? "answered" : `kind ${e.kind}`),
        (err) => (err instanceof TownWriteRejection ? `${err.code} ${err.message}` : String(err)),
      ),
      new Promise<string>((r) => timer = setTimeout(() => r("no answer"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("SPSP responder: after a burst of 64 through a serialized signer, a new request is answered", async () => {
  const spsp = responder(1, 5000);
  const burst = await Promise.all(Array.from({ length: 64 }, () => request(spsp.pubkey)));
  const answers = await Promise.all(
    burst.map((r) => outcome(spsp.respond(r, { account: "alice" }), 60_000)),
  );
  assertEquals(answers.filter((a) => a === "answered").length, 64, answers.join("\n"));
  // Charged each answer's wait behind the others, the burst ran the time budget a minute into
  // debt and this request waited for it with no limit; the 30 s guard catches that stall.
  const next = await outcome(spsp.respond(await request(spsp.pubkey), { account: "bob" }), 30_000);
  assertEquals(next, "answered");
});

Deno.test("SPSP responder: a request not answered within the queue timeout is refused T05", async () => {
  const spsp = responder(40, 200);
  const burst = await Promise.all(Array.from({ length: 20 }, () => request(spsp.pubkey)));
  const answers = await Promise.all(
    burst.map((r) => outcome(spsp.respond(r, { account: "alice" }), 30_000)),
  );
  assert(!answers.includes("no answer"), answers.join("\n"));
  const refused = answers.filter((a) => a !== "answered");
  assert(refused.length > 0, "every request was answered: the queue had no deadline");
  for (const r of refused) assertMatch(r, /^T05 rate-limited: town busy/);
});

Deno.test("SPSP responder: accounts take turns, one account's queue does not delay another's request", async () => {
  const spsp = responder(20, 5000);
  const burst = await Promise.all(Array.from({ length: 30 }, () => request(spsp.pubkey)));
  const order: string[] = [];
  const all = burst.map((r, i) =>
    spsp.respond(r, { account: "alice" }).then(() => order.push(`alice${i}`))
  );
  await new Promise((r) => setTimeout(r, 10));
  const bob = spsp.respond(await request(spsp.pubkey), { account: "bob" }).then(() =>
    order.push("bob")
  );
  await Promise.all([...all, bob]);
  assert(order.indexOf("bob") <= 3, `bob answered at position ${order.indexOf("bob")}`);
});
