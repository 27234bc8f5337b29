/**
 * Private work requests: an independent client (nostr-tools' NIP-17 helpers) gift-wraps a
 * message to a provider and pays the town for it; the provider's encrypted-dm skill gets the
 * plaintext and the verified sender, acts once (also across a restart) and its answer comes back
 * wrapped to the sender. A message for someone else, a forged seal and a replay are refused or
 * ignored, and nothing of it is delivered twice.
 */
import { finalizeEvent, generateSecretKey, getPublicKey, nip17, nip44, nip59 } from "nostr-tools";
import { assert, assertEquals, assertMatch } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { type ProviderNode, startProviderNode } from "../../roles/provider/provider_node.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { openDeliveryLog } from "../../state/jobs/delivery_log.ts";

const SKILLS = new URL("../../skills", import.meta.url).pathname;

Deno.test("encrypted-dm: a gift-wrapped request is answered privately, once, across a restart", async () => {
  const net = await startRequesterNetwork({ provider: false });
  const providerKey = generateSecretKey();
  const providerPub = getPublicKey(providerKey);
  const stateDir = `${net.root}/provider`;
  const startProvider = () =>
    startProviderNode({
      stateDir,
      secretKey: providerKey,
      btpUrl: net.btpUrl.replace("btp+ws://", "btp+ws://provider:p@"),
      btpToken: "p",
      relayUrl: net.relayUrl,
      townPubkey: net.town.pubkey,
      townAddress: net.town.ilpAddress,
      skillsDir: SKILLS,
      heartbeatMs: 3_600_000,
    });
  let provider: ProviderNode | undefined = await startProvider();
  // Alice: a plain nostr-tools client; the requester node only pays the town for her events.
  const alice = generateSecretKey();
  const alicePub = getPublicKey(alice);
  const payer = await net.startRequester();
  const repliesTo = async (pub: string, key: Uint8Array) =>
    (await net.town.store.query([{ kinds: [1059], "#p": [pub] }])).map((s) =>
      nip17.unwrapEvent(decodeEventToon(s.toon), key)
    );
  const deliveries = async () => {
    const log = await openDeliveryLog({ stateDir });
    const out: Record<string, string> = {};
    for (const r of await log.list()) {
      out[r.eventId] = `${r.status}${r.reason ? ` ${r.reason}` : ""}`;
    }
    return out;
  };
  try {
    const wrap = nip17.wrapEvent(
      alice,
      { publicKey: providerPub },
      "wordcount: three small words",
    ) as NostrEvent;
    await payer.town.write(wrap);
    await waitUntil(
      async () => (await repliesTo(alicePub, alice)).length === 1,
      30_000,
      "the private reply",
    );
    const [reply] = await repliesTo(alicePub, alice);
    assertEquals([reply.content, reply.pubkey], ["wordcount: 3", providerPub]);
    assert(reply.tags.some((t) => t[0] === "e"), "the reply names the request");
    await waitUntil(async () => (await deliveries())[wrap.id] === "done", 30_000, "recorded done");

    // Someone else's message is not even delivered; a forged seal is refused.
    const bob = getPublicKey(generateSecretKey());
    const notMine = nip17.wrapEvent(
      alice,
      { publicKey: bob },
      "wordcount: not yours",
    ) as NostrEvent;
    await payer.town.write(notMine);
    const mallory = generateSecretKey();
    const claimed = nip59.createRumor({
      kind: 14,
      content: "echo: pay mallory",
      tags: [["p", providerPub]],
    }, alice);
    const seal = finalizeEvent({
      kind: 13,
      created_at: Math.floor(Date.now() / 1000),
      tags: [],
      content: nip44.encrypt(
        JSON.stringify(claimed),
        nip44.getConversationKey(mallory, providerPub),
      ),
    }, mallory);
    const forged = nip59.createWrap(seal, providerPub) as NostrEvent;
    await payer.town.write(forged);
    await waitUntil(
      async () => ((await deliveries())[forged.id] ?? "running") !== "running",
      30_000,
      "the forged one",
    );
    assertMatch((await deliveries())[forged.id], /^refused forged-sender/);
    assertEquals((await deliveries())[notMine.id], undefined);

    // A replay of the first wrap and a restart (the relay sends it all again): no second answer.
    await payer.town.write(wrap).catch(() => {}); // the town answers duplicate
    await provider.stop();
    provider = await startProvider();
    const again = nip17.wrapEvent(
      alice,
      { publicKey: providerPub },
      "echo: after the restart",
    ) as NostrEvent;
    await payer.town.write(again);
    await waitUntil(
      async () => (await repliesTo(alicePub, alice)).length === 2,
      30_000,
      "the second reply",
    );
    assertEquals((await repliesTo(alicePub, alice)).map((r) => r.content).sort(), [
      "echo: after the restart",
      "wordcount: 3",
    ]);
    assertEquals(Object.keys(await deliveries()).length, 3, "wrap, forged, again: once each");
    assertEquals((await repliesTo(getPublicKey(mallory), mallory)).length, 0);
  } finally {
    await payer.close();
    await provider?.stop();
    await net.stop();
  }
});
