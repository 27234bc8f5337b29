import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { assertEquals, assertRejects, assertThrows } from "../../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import {
  ChannelSenderError,
  evmAddressesOfNostrPubkey,
  isChannelId,
  openChannelSender,
} from "../../../roles/channels/channel_sender.ts";
import { publicIdentity } from "../../../identity/nip06_key.ts";
import {
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../../state/channels/channel_file.ts";
import { channelFilePath } from "../../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../../support/channel_record_fixture.ts";

function record(self: Uint8Array, peer: Uint8Array, extra: Partial<ChannelRecord> = {}) {
  return fixtureChannelRecord({
    selfAddress: publicIdentity(self).evmAddress,
    peerAddress: publicIdentity(peer).evmAddress,
  }, { sent: 500n, sentNonce: 4n, ...extra });
}

Deno.test("evmAddressesOfNostrPubkey: one of the two candidates is the key's EVM address", () => {
  for (let i = 0; i < 20; i++) {
    const sk = generateSecretKey();
    const candidates = evmAddressesOfNostrPubkey(getPublicKey(sk));
    assertEquals(candidates.length, 2);
    assertEquals(
      candidates.includes(publicIdentity(sk).evmAddress.toLowerCase() as `0x${string}`),
      true,
    );
  }
  assertThrows(() => evmAddressesOfNostrPubkey("00".repeat(32)), Error);
  assertEquals(isChannelId(`0x${"ab".repeat(32)}`), true);
  assertEquals(isChannelId("0x1234"), false);
});

Deno.test("openChannelSender resumes from the file and persists new claims", async () => {
  const dir = await Deno.makeTempDir({ prefix: "channel_sender_" });
  try {
    const me = generateSecretKey();
    const town = generateSecretKey();
    const r = record(me, town);
    await saveChannel(r, { stateDir: dir, action: "open" });
    const sender = await openChannelSender({
      stateDir: dir,
      channelId: r.channelId.toUpperCase().replace("0X", "0x"),
      signer: localNodeSigner(me),
      townPubkey: getPublicKey(town),
    });
    assertEquals(sender.signer.transferred, 500n);
    const claim = await sender.signer.pay(100n);
    assertEquals(claim.nonce, 5n);
    await sender.claims.persist!(claim);
    const file = await readChannel(channelFilePath(dir, r.channelId));
    assertEquals([file.sent, file.sentNonce], [600n, 5n]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openChannelSender refuses channels that cannot pay this town", async () => {
  const dir = await Deno.makeTempDir({ prefix: "channel_sender_" });
  try {
    const me = generateSecretKey();
    const town = generateSecretKey();
    const stranger = generateSecretKey();
    const open = (id: string, secretKey = me) =>
      openChannelSender({
        stateDir: dir,
        channelId: id,
        signer: localNodeSigner(secretKey),
        townPubkey: getPublicKey(town),
      });
    const ids = ["a1", "a2", "a3"].map((b) => `0x${b.repeat(32)}` as `0x${string}`);
    await saveChannel(record(me, town, { channelId: ids[0], status: "settled" }), {
      stateDir: dir,
      action: "open",
    });
    await saveChannel(record(me, stranger, { channelId: ids[1] }), {
      stateDir: dir,
      action: "open",
    });
    await saveChannel(record(me, town, { channelId: ids[2] }), { stateDir: dir, action: "open" });
    await assertRejects(() => open(ids[0]), ChannelSenderError, "is settled");
    await assertRejects(() => open(ids[1]), ChannelSenderError, "not with this town");
    await assertRejects(() => open(ids[2], stranger), ChannelSenderError, "not to this node's key");
    await assertRejects(() => open(`0x${"ff".repeat(32)}`), ChannelSenderError, "no channel file");
    await assertRejects(() => open("0x12"), ChannelSenderError, "not a channel id");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
