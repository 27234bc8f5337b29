/**
 * Opening a private message: ours (recipient checked first, the wrap's signature and the rumor's
 * id verified, then nostr-tools' NIP-59 unwrap) against nostr-tools' unwrap alone, and the
 * refusal of a wrap for someone else (no decryption at all).
 *
 *     deno bench -A bench/gift_wrap_bench.ts
 */
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { generateSecretKey, getPublicKey, nip17 } from "nostr-tools";
import { unwrapGiftWrap } from "../protocol/gift_wrap.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

const me = generateSecretKey();
const pubkey = getPublicKey(me);
const meSigner = localNodeSigner(me);
const alice = generateSecretKey();
const fresh = () =>
  JSON.parse(
    JSON.stringify(nip17.wrapEvent(alice, { publicKey: pubkey }, "wordcount: a b c")),
  ) as NostrEvent;
const wraps = Array.from({ length: 64 }, fresh);
const notMine = JSON.parse(
  JSON.stringify(nip17.wrapEvent(alice, { publicKey: getPublicKey(generateSecretKey()) }, "x")),
) as NostrEvent;
let i = 0;

Deno.bench("nostr-tools nip17.unwrapEvent", { group: "open", baseline: true }, () => {
  nip17.unwrapEvent(wraps[i++ % wraps.length], me);
});
Deno.bench("unwrapGiftWrap (checks + unwrap)", { group: "open" }, async () => {
  await unwrapGiftWrap(wraps[i++ % wraps.length], { signer: meSigner });
});
Deno.bench("unwrapGiftWrap, a wrap for another key (refused)", { group: "refuse" }, async () => {
  try {
    await unwrapGiftWrap(notMine, { signer: meSigner });
  } catch {
    // refused before any decryption
  }
});
