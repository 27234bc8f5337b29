/**
 * A packet whose claim the town took and which was then rejected leaves its value as cover the
 * payer spends on its next packets (docs/PROTOCOL.md "Payment channels and claims"): the books
 * of both sides agree with what was FULFILLed, also when the town restarted in between and when
 * the REJECT came back after the payer had stopped waiting for it; and a channel whose last
 * packet was refused is settled cooperatively at what was delivered, not at the newest claim.
 * All real: anvil with the contracts, a channel opened on chain, the town, the payer's BTP
 * client with claims; the chain pays out exactly what the payer's FULFILLs add up to.
 */
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  type ClaimClient,
  claimTownContact,
  connectClaimClient,
  startClaimTown,
  unfulfillablePayment,
} from "../../harness/channel_town.ts";
import {
  openPairChannel,
  type PairChannel,
  settleOnTownClaim,
} from "../../harness/pair_channel.ts";
import { within } from "../support/town_network_kit.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { BtpClient, BtpTimeoutError } from "../../transport/btp_client.ts";
import { startPaidChannel } from "../support/paid_channel.ts";
import { closeCooperatively } from "../../roles/channels/channel_cosign_chain.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";

const DEPOSIT = 50_000_000n;
const MINTED = 100_000_000n;
/** Far more than one write (about 2,500): several writes are paid from it. */
const LOST_PAYMENT = 20_000n;

/**
 * Pays writes until the payer signs a new claim (its cover from earlier claims is spent), each
 * FULFILLed; returns what they paid.
 */
async function writeUntilNewClaim(payer: ClaimClient, label: string): Promise<bigint> {
  const nonce = payer.signer.nonce;
  let paid = 0n;
  for (let i = 0; payer.signer.nonce === nonce; i++) {
    assert(i < 100, "the cover never ran out");
    const { reply, amount } = await payer.write(payer.sign(`${label} ${i}`));
    assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
    paid += amount;
  }
  return paid;
}

/** The town closes with its newest claim and settles; the chain pays out `paid` to the town. */
async function settleAt(pair: ChannelPair, townDir: string, channel: PairChannel, paid: bigint) {
  const townFile = await readChannel(channelFilePath(townDir, channel.channelId));
  assertEquals(townFile.received, paid, "the town's claim is what was FULFILLed");
  await settleOnTownClaim(pair, townFile);
  assertEquals(await pair.alice.tokenBalance(), MINTED - paid);
  assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
}

Deno.test("channel cover: rejected packets (F02, duplicate) pay the next writes, also after the town restarts", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const townDir = await Deno.makeTempDir({ prefix: "cover_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "cover_alice_" });
  try {
    const start = async (btpPort?: number) =>
      await startClaimTown({
        stateDir: townDir,
        secretKey: pair.bobKey,
        bob: pair.bob,
        btpPort,
        record: await readChannel(channelFilePath(townDir, channel.channelId))
          .catch(() => channel.townRecord),
      });
    let t = await start();
    const btpPort = t.town.btpPort;
    await using payer = await connectClaimClient({
      ...claimTownContact(t.town),
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record: channel.aliceRecord,
      reconnect: true,
    });
    let paid = 0n;
    const first = payer.sign("first");
    const { reply, amount } = await payer.write(first);
    assertEquals(reply.type, "fulfill");
    paid += amount;
    // Claimed, then refused: no route to the account (F02), and the same write again (F99
    // duplicate: stored already, nothing to pay).
    const lost = await payer.client.sendPrepare(
      unfulfillablePayment("test.town.nobody", LOST_PAYMENT),
    );
    assertEquals(lost.type === "reject" && lost.code, "F02");
    const again = await payer.write(first);
    assertEquals(again.reply.type === "reject" && again.reply.code, "F99");
    // The duplicate went within the F02's claim: no claim of its own.
    assertEquals(payer.signer.transferred, paid + LOST_PAYMENT);
    assertEquals(payer.signer.nonce, 2n);

    // The town restarts from its channel file: the refused packets' value is still cover.
    await t.stop();
    t = await start(btpPort);
    try {
      paid += await writeUntilNewClaim(payer, "after the restart");
      assertEquals(payer.signer.nonce, 3n, "no claim until the cover was spent");
      assertEquals(payer.signer.transferred, paid, "the newest claim is what was FULFILLed");
      const book = t.gate.verifier.book(channel.channelId)!;
      assertEquals([book.claimed, book.forwarded], [paid, paid]);
      await payer.close();
    } finally {
      await t.stop();
    }
    await settleAt(pair, townDir, channel, paid);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});

Deno.test("channel cover: a REJECT that comes after the payer stopped waiting gives the cover back", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const townDir = await Deno.makeTempDir({ prefix: "cover_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "cover_alice_" });
  try {
    await using t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob: pair.bob,
      record: channel.townRecord,
      extraPeers: [{ account: "slow", token: "slow-token" }],
    });
    // A provider that answers late: it refuses every payment after 1.5 s.
    let refused!: () => void;
    const refusedOnce = new Promise<void>((resolve) => refused = resolve);
    const slow = new BtpClient({
      url: `btp+ws://127.0.0.1:${t.town.btpPort}`,
      authToken: "slow-token",
      reconnect: false,
      onPrepare: async (): Promise<IlpReply> => {
        await new Promise((r) => setTimeout(r, 1_500));
        refused();
        return {
          type: "reject",
          code: "F99",
          triggeredBy: "test.town.slow",
          message: "not now",
          data: new Uint8Array(0),
        };
      },
    });
    await slow.connect();
    try {
      await using payer = await connectClaimClient({
        ...claimTownContact(t.town),
        stateDir: aliceDir,
        secretKey: pair.aliceKey,
        record: channel.aliceRecord,
      });
      // The payer gives up on the payment after 300 ms; the town's REJECT comes later. (Only
      // this one waits so little: the writes after it wait as long as a payer does, so that a
      // busy machine does not time them out too.)
      await assertRejects(
        () =>
          payer.client.sendPrepare(unfulfillablePayment("test.town.slow", LOST_PAYMENT), {
            timeoutMs: 300,
          }),
        BtpTimeoutError,
      );
      assertEquals(payer.signer.transferred, LOST_PAYMENT);
      await within("the slow provider's refusal", refusedOnce, 60_000);
      await within(
        "the late REJECT at the payer",
        (async () => {
          while (payer.client.claimBook!.committed !== 0n) {
            await new Promise((r) => setTimeout(r, 20));
          }
        })(),
        30_000,
      );
      const paid = await writeUntilNewClaim(payer, "after the late reject");
      assertEquals(payer.signer.transferred, paid, "the newest claim is what was FULFILLed");
      const book = t.gate.verifier.book(channel.channelId)!;
      assertEquals([book.claimed, book.forwarded], [paid, paid]);
      await payer.close();
      await t.stop();
      await settleAt(pair, townDir, channel, paid);
    } finally {
      await slow.close();
    }
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});

Deno.test("channel cover: refused last packets are not owed: the cooperative close settles at what was delivered", async () => {
  await using s = await startPaidChannel({ deposit: DEPOSIT, prefix: "cover_close_" });
  const { pair, channelId, payer } = s;
  let paid = 0n;
  for (let i = 0; i < 3; i++) {
    const { reply, amount } = await payer.write(payer.sign(`paid ${i}`));
    assertEquals(reply.type, "fulfill");
    paid += amount;
  }
  const lost = await payer.client.sendPrepare(
    unfulfillablePayment("test.town.nobody", LOST_PAYMENT),
  );
  assertEquals(lost.type === "reject" && lost.code, "F02");
  // Both sides hold a claim for the refused payment too; nothing spends it any more.
  assertEquals(payer.signer.transferred, paid + LOST_PAYMENT);
  assertEquals(s.town.gate.verifier.book(channelId)!.claimed, paid + LOST_PAYMENT);
  const closed = await closeCooperatively({
    peer: payer.client,
    chain: pair.alice,
    record: payer.sent.record(),
    signer: localNodeSigner(pair.aliceKey),
    stateDir: s.aliceDir,
  });
  assertEquals([closed.agreement.transferredAmount, closed.unclaimed], [paid, LOST_PAYMENT]);
  assertEquals(await pair.alice.tokenBalance(), MINTED - paid);
  assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
  assertEquals((await readChannel(channelFilePath(s.aliceDir, channelId))).sent, paid);
});
