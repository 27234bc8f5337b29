/**
 * Plain relays end to end (docs/PROTOCOL.md "Plain relays"): the independent reference relay
 * (@nostr-relay/* under Node, tests/support/reference_relay.ts), a town, the real provider node
 * listening on both, and a plain Nostr client (nostr-tools' `Relay`) that knows nothing of
 * towns or ILP. The provider serves text generation free (skill and preset at price 0) against
 * the stand-in model server (tests/support/stand_in_model_api.ts, a mock: no real model can run
 * here), and echo at a price.
 */
import { type Filter, finalizeEvent, generateSecretKey, getPublicKey, Relay } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { startReferenceRelay } from "../../harness/reference_relay.ts";
import { requesterProfile } from "../../harness/agent_task_kit.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import { parseModelPresets } from "../../config/model_presets.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

const ANSWER = "The fox jumps; the dog sleeps on.";

/** A skills dir with text-generation at price 0 and the repo's echo (price 100). */
async function skillsDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-plain-skills-" });
  const repo = new URL("../../skills/", import.meta.url).pathname;
  await Deno.mkdir(`${dir}/text-generation`);
  const manifest = await Deno.readTextFile(`${repo}text-generation/SKILL.md`);
  await Deno.writeTextFile(
    `${dir}/text-generation/SKILL.md`,
    manifest.replace(/\n {2}price: \d+\n/, "\n  price: 0\n"),
  );
  await Deno.mkdir(`${dir}/echo`);
  for (const entry of Deno.readDirSync(`${repo}echo`)) {
    await Deno.copyFile(`${repo}echo/${entry.name}`, `${dir}/echo/${entry.name}`);
    await Deno.chmod(`${dir}/echo/${entry.name}`, 0o755);
  }
  return dir;
}

/** Events on `relay` matching `filter` until `until` says enough (or 60 s passed). */
function collect(
  relay: Relay,
  filter: { kinds: number[]; "#e": string[] },
  until: (events: NostrEvent[]) => boolean,
): Promise<NostrEvent[]> {
  return new Promise((resolve, reject) => {
    const events: NostrEvent[] = [];
    const timer = setTimeout(() => {
      sub.close();
      reject(new Error(`only ${events.length} events: ${JSON.stringify(events)}`));
    }, 60_000);
    const sub = relay.subscribe([filter], {
      onevent: (e) => {
        events.push(e as NostrEvent);
        if (!until(events)) return;
        clearTimeout(timer);
        sub.close();
        resolve(events);
      },
    });
  });
}

/** The events `relay` stores that match `filter` (up to its EOSE). */
function stored(relay: Relay, filter: Filter): Promise<NostrEvent[]> {
  return new Promise((resolve) => {
    const events: NostrEvent[] = [];
    const sub = relay.subscribe([filter], {
      onevent: (e) => void events.push(e as NostrEvent),
      oneose: () => {
        sub.close();
        resolve(events);
      },
    });
  });
}

Deno.test("a plain Nostr client posts a kind 5050 request to a plain relay and reads its result there, done free by a turnpike provider; a priced kind is answered there with a payment-required invoice", async () => {
  const apiKey = `sk-${crypto.randomUUID()}`;
  await using api = await startStandInModelApi({ apiKey, text: ANSWER });
  const relay = await startReferenceRelay();
  const models = parseModelPresets({
    chat: {
      upstream: api.url,
      api: "chat",
      model: "stand-in",
      api_key_env: "PLAIN_TEST_KEY",
      price: 0,
      input_per_million: 0,
      output_per_million: 0,
    },
  }, { env: () => apiKey });
  const net = await startRequesterNetwork({
    providerSkillsDir: await skillsDir(),
    providerOptions: { models, plainRelays: [relay.url] },
  });
  const client = await Relay.connect(relay.url);
  try {
    const outsider = generateSecretKey();
    const sign = (kind: number, tags: string[][]) =>
      finalizeEvent(
        { kind, tags, content: "", created_at: Math.floor(Date.now() / 1000) },
        outsider,
      );

    // Free: done, its feedback and result on the plain relay.
    const request = sign(5050, [["i", "Summarize the fable", "text"], ["param", "model", "chat"]]);
    await client.publish(request);
    const seen = await collect(
      client,
      { kinds: [6050, 7000], "#e": [request.id] },
      (events) => events.some((e) => e.kind === 6050),
    );
    const result = seen.find((e) => e.kind === 6050)!;
    assertEquals(result.pubkey, net.providerPubkey);
    assertEquals(result.content, ANSWER);
    assert(result.tags.some((t) => t[0] === "p" && t[1] === getPublicKey(outsider)));
    // Nothing of it paid for at the town: no copy there, no write in the provider's payments.
    assertEquals(
      (await net.town.store.query([{ kinds: [6050, 7000], "#e": [request.id] }])).length,
      0,
    );
    const payments = (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries();
    assertEquals(payments.filter((p) => p.jobId === request.id), []);

    // Priced: answered on the plain relay with what to pay and an invoice the town can settle.
    const echo = sign(5601, [["i", "hello", "text"], ["bid", "1000000"]]);
    await client.publish(echo);
    const [invoice] = await collect(
      client,
      { kinds: [7000], "#e": [echo.id] },
      (events) => events.length > 0,
    );
    assertEquals(invoice.pubkey, net.providerPubkey);
    assertEquals(invoice.tags.find((t) => t[0] === "status")?.[1], "payment-required");
    const amount = invoice.tags.find((t) => t[0] === "amount")!;
    assert(BigInt(amount[1]) >= 100n, amount.join(" "));
    assert((amount[2] ?? "").length > 0, "an ILP invoice");

    // A request whose `relays` tag names the provider's town (as a turnpike requester's does,
    // posted to its towns first) is the town's job however it reached the provider: its
    // payment-required is written on the town too, not on the plain relay alone.
    const named = sign(5601, [["i", "hello town", "text"], ["bid", "1000000"], [
      "relays",
      net.relayUrl,
      relay.url,
    ]]);
    await client.publish(named);
    let onTown: NostrEvent[] = [];
    for (let i = 0; i < 600 && onTown.length === 0; i++) {
      const rows = await net.town.store.query([{ kinds: [7000], "#e": [named.id] }]);
      onTown = rows.map((row) => JSON.parse(row.json) as NostrEvent);
      if (onTown.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(onTown[0]?.tags.find((t) => t[0] === "status")?.[1], "payment-required");
  } finally {
    client.close();
    await net.stop();
    await relay.stop();
  }
});

Deno.test("a turnpike requester with [[relays]] posts its job through its town and the plain relay, pays through the town and gets its result once", async () => {
  const relay = await startReferenceRelay();
  // The repo's skills: echo (price 100) runs from there.
  const net = await startRequesterNetwork({ providerOptions: { plainRelays: [relay.url] } });
  const client = await Relay.connect(relay.url);
  try {
    const alice = await requesterProfile(net);
    await Deno.writeTextFile(
      `${net.root}/agent-home/alice/config.toml`,
      `[[relays]]\nurl = "${relay.url}"\npaid = false\n`,
      { append: true },
    );
    const done = await alice(
      "job",
      "submit",
      "echo",
      "--input",
      "text:hello plain relay",
      "--bid",
      "1000000",
      "--provider",
      net.providerPubkey!,
      "--wait",
    );
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const results = done.lines.filter((l) => l.type === "result");
    assertEquals(results.length, 1, done.stdout);
    assertEquals(results[0].status, "done", JSON.stringify(results[0]));
    const job = String(results[0].job);
    // The request is on the plain relay too (free), and so is its result: the provider answers
    // there whether it found the request there or on the town first (docs/PROTOCOL.md "Plain
    // relays"); the requester read it once, from whichever delivered it first.
    const [request] = await stored(client, { ids: [job] });
    assertEquals(request?.id, job);
    const [result] = await stored(client, { kinds: [6601], "#e": [job] });
    assertEquals(result?.pubkey, net.providerPubkey);
    assertEquals(result.content, "hello plain relay");
  } finally {
    client.close();
    await net.stop();
    await relay.stop();
  }
});
