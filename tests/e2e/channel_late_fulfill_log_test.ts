/**
 * A paid write the payer gave up on for want of an answer in time (a loaded machine: its
 * deadline passed while the claim was signed and queued) and which the town then stored and
 * FULFILLed was paid: the payer's claim covers it and the chain pays the town for it. The
 * payment log must say so too (docs/PROTOCOL.md "Payment channels and claims"), or the chain
 * pays more than the log says was paid: the write's retry is answered `duplicate`, nothing
 * paid, and nobody else records it. All real: anvil with the contracts, a channel opened on
 * chain, the town, the payer's BTP client with claims under a TownClient; the uplink only
 * waits 1 ms for the first write's answer, as a sender whose deadline already passed does.
 */
import { assertEquals, assertRejects } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "../../harness/channel_town.ts";
import { openPairChannel, settleOnTownClaim } from "../../harness/pair_channel.ts";
import { within } from "../support/town_network_kit.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { BtpTimeoutError } from "../../transport/btp_client.ts";
import { TownClient, type TownPayment } from "../../roles/town_client/town_client.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { generateSecretKey } from "nostr-tools/pure";

const DEPOSIT = 50_000_000n;
const MINTED = 100_000_000n;

Deno.test("channel late fulfill: a write FULFILLed after the payer stopped waiting is in its payment log, and the chain pays what the log says", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const townDir = await Deno.makeTempDir({ prefix: "late_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "late_alice_" });
  try {
    const t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob: pair.bob,
      record: channel.townRecord,
    });
    const contact = claimTownContact(t.town);
    const payer = await connectClaimClient({
      ...contact,
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record: channel.aliceRecord,
    });
    // The payment log as the requester keeps it: one line per FULFILLed write.
    const logged: TownPayment[] = [];
    let patienceMs: number | undefined;
    const town = new TownClient({
      relayUrl: "ws://town.test",
      townAddress: contact.townAddress,
      townPubkey: contact.townPubkey,
      signer: localNodeSigner(generateSecretKey()),
      uplinks: [{
        state: "open",
        sendPrepare: (prepare, options) =>
          payer.client.sendPrepare(prepare, { ...options, timeoutMs: patienceMs }),
      }],
      record: (paid) => {
        logged.push(paid);
        return Promise.resolve();
      },
    });
    await town.grant();
    // The SPSP handshakes paid before the writes (not writes: not in this log).
    const before = payer.signer.transferred;
    const event = payer.sign("given up on, then stored");
    patienceMs = 1;
    await assertRejects(() => town.write(event), BtpTimeoutError);
    patienceMs = undefined;
    await within(
      "the late FULFILL in the payment log",
      (async () => {
        while (logged.length === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      30_000,
    );
    // The requester's retry of the same event: stored already, nothing paid.
    await town.write(event);
    assertEquals(town.duplicates, 1);
    await town.write(payer.sign("an answer in time"));
    const paidByLog = logged.reduce((sum, p) => sum + p.amount, 0n);
    assertEquals(logged.length, 2);
    // What the payer counts paid is its log; its claims run past it only by the cover the
    // duplicate left (the last write fitted in it), the town's claimed less forwarded.
    const book = t.gate.verifier.book(channel.channelId)!;
    assertEquals(payer.client.claimBook!.committed - before, paidByLog, "paid = the log");
    assertEquals(book.forwarded - before, paidByLog, "the town delivered what the log says");
    assertEquals(payer.signer.transferred - book.forwarded, book.claimed - book.forwarded);
    await payer.close();
    await t.stop();
    const townFile = await readChannel(channelFilePath(townDir, channel.channelId));
    await settleOnTownClaim(pair, townFile);
    assertEquals(await pair.alice.tokenBalance(), MINTED - before - paidByLog, "chain = books");
    assertEquals(await pair.bob.tokenBalance(), MINTED + before + paidByLog);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
