/**
 * NIP-59/NIP-17 gift wraps made by nostr-tools' own helpers (as any other client would make
 * them) are unwrapped with their verified sender; every way a wrap can be bad is refused with
 * its reason before the message is believed.
 */
import { finalizeEvent, generateSecretKey, getPublicKey, nip17, nip44, nip59 } from "nostr-tools";
import {
  GiftWrapError,
  type GiftWrapRefusal,
  MAX_WRAP_CONTENT,
  unwrapGiftWrap,
  wrapDirectMessage,
} from "../../../protocol/gift_wrap.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { NodeSignerError } from "../../../protocol/node_signer.ts";
import { assertEquals, assertRejects } from "../../../harness/assert.ts";

const me = generateSecretKey();
const mePub = getPublicKey(me);
const meSigner = localNodeSigner(me);
const alice = generateSecretKey();
const alicePub = getPublicKey(alice);

async function refused(wrap: NostrEvent, reason: GiftWrapRefusal): Promise<void> {
  const err = await assertRejects(() => unwrapGiftWrap(wrap, { signer: meSigner }), GiftWrapError);
  assertEquals(err.reason, reason, err.message);
}

/** A wrap whose seal (signed by `sealer`) holds `rumor` as is. */
function wrapWith(rumor: Record<string, unknown>, sealer: Uint8Array): NostrEvent {
  const seal = finalizeEvent({
    kind: 13,
    created_at: Math.floor(Date.now() / 1000),
    tags: [],
    content: nip44.encrypt(JSON.stringify(rumor), nip44.getConversationKey(sealer, mePub)),
  }, sealer);
  return nip59.createWrap(seal, mePub) as NostrEvent;
}

Deno.test("gift wrap: a NIP-17 DM from nostr-tools unwraps to its text and verified sender", async () => {
  const wrap = nip17.wrapEvent(alice, { publicKey: mePub }, "build main for amd64") as NostrEvent;
  const { rumor, sender, wrapId } = await unwrapGiftWrap(wrap, { signer: meSigner });
  assertEquals([rumor.kind, rumor.content, sender, wrapId], [
    14,
    "build main for amd64",
    alicePub,
    wrap.id,
  ]);
  // And ours reads back with nostr-tools.
  const ours = await wrapDirectMessage({
    signer: meSigner,
    recipient: alicePub,
    text: "done",
    replyTo: rumor.id,
  });
  const back = nip17.unwrapEvent(ours, alice);
  assertEquals([back.content, back.pubkey], ["done", mePub]);
  assertEquals(back.tags.some((t) => t[0] === "e" && t[1] === rumor.id), true);
});

Deno.test("gift wrap: another recipient, a forged sender, a bad seal, a tampered rumor, oversize: refused", async () => {
  const bob = getPublicKey(generateSecretKey());
  await refused(
    nip17.wrapEvent(alice, { publicKey: bob }, "not yours") as NostrEvent,
    "not-for-me",
  );
  // Mallory seals a rumor that claims Alice wrote it.
  const mallory = generateSecretKey();
  const claimed = nip59.createRumor(
    { kind: 14, content: "pay mallory", tags: [["p", mePub]] },
    alice,
  );
  await refused(wrapWith(claimed, mallory), "forged-sender");
  const tampered = { ...nip59.createRumor({ kind: 14, content: "a", tags: [] }, alice) };
  tampered.content = "b";
  await refused(wrapWith(tampered, alice), "bad-rumor");
  const rumor = nip59.createRumor({ kind: 14, content: "hi", tags: [] }, alice);
  const seal = nip59.createSeal(rumor, alice, mePub);
  await refused(
    nip59.createWrap({ ...seal, sig: "00".repeat(64) }, mePub) as NostrEvent,
    "bad-signature",
  );
  const wrap = nip17.wrapEvent(alice, { publicKey: mePub }, "hi") as NostrEvent;
  await refused({ ...wrap, sig: "00".repeat(64) }, "bad-signature");
  await refused({ ...wrap, content: "x".repeat(MAX_WRAP_CONTENT + 1) }, "too-large");
  await refused({ ...wrap, kind: 4 }, "not-a-wrap");
  const garbage = finalizeEvent({
    kind: 1059,
    created_at: wrap.created_at,
    tags: [["p", mePub]],
    content: "not nip44",
  }, generateSecretKey()) as NostrEvent;
  await refused(garbage, "undecryptable");
});

Deno.test("gift wrap fixtures: the recipient (fixture key 0) opens the valid ones; the others are refused", async () => {
  const key = new Uint8Array(32).fill(1);
  const o = { signer: localNodeSigner(key) };
  const read = async (path: string) =>
    decodeEventToon(
      await Deno.readTextFile(new URL(`../../../fixtures/events/${path}`, import.meta.url)),
    );
  const wordcount = await unwrapGiftWrap(await read("valid/dm-wordcount.toon"), o);
  assertEquals([wordcount.rumor.content, wordcount.sender], [
    "wordcount: three little words",
    getPublicKey(new Uint8Array(32).fill(2)),
  ]);
  const forgedWrap = await read("adversarial/dm-forged.toon");
  const otherWrap = await read("adversarial/dm-other-recipient.toon");
  const forged = await assertRejects(() => unwrapGiftWrap(forgedWrap, o), GiftWrapError);
  assertEquals(forged.reason, "forged-sender");
  const other = await assertRejects(() => unwrapGiftWrap(otherWrap, o), GiftWrapError);
  assertEquals(other.reason, "not-for-me");
});

Deno.test("gift wrap: malformed tags, a rumor with non-string tags, a closed signer, an oversized wrap", async () => {
  const wrap = nip17.wrapEvent(alice, { publicKey: mePub }, "hi") as NostrEvent;
  await refused({ ...wrap, tags: [null] } as unknown as NostrEvent, "not-for-me");
  await refused({ ...wrap, content: 7 } as unknown as NostrEvent, "not-a-wrap");
  const odd = nip59.createRumor({ kind: 14, content: "x", tags: [] }, alice);
  await refused(wrapWith({ ...odd, tags: [[1]] }, alice), "bad-rumor");
  // The node's own signer failing is its trouble, not a verdict on the sender's message.
  const closed = localNodeSigner(me);
  const failing = {
    ...closed,
    conversationKey: () => Promise.reject(new NodeSignerError("the signer is closed")),
  };
  await assertRejects(() => unwrapGiftWrap(wrap, { signer: failing }), NodeSignerError);
  // Control characters are escaped six-fold in the sealed JSON: refused before it is sent.
  const err = await assertRejects(
    () =>
      wrapDirectMessage({
        signer: meSigner,
        recipient: alicePub,
        text: "\u0001".repeat(32 * 1024),
      }),
    GiftWrapError,
  );
  assertEquals(err.reason, "too-large");
});
