/**
 * Claims over BTP end to end: a real town (BTP server, router, paid write pipeline, SQLite)
 * settling with its peer over a real channel on anvil; the peer pays 1,000 writes with signed
 * cumulative claims; then the town closes with the newest claim from its channel file and
 * settles. Balances on chain equal both sides' books (channel files, audit trails) to the unit.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "../../harness/channel_town.ts";
import { startPaidChannel } from "../support/paid_channel.ts";
import { openPairChannel, settleOnTownClaim } from "../../harness/pair_channel.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { parseAuditMessage } from "../../state/audit/audit_log.ts";

const DEPOSIT = 50_000_000n;
const MINTED = 100_000_000n;
const WRITES = 1000;
const IN_FLIGHT = 16;

async function gitLog(dir: string): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["-C", dir, "log", "--format=%B%x00"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\0").map((m) => m.trim()).filter(Boolean);
}

for (const prepay of [0n, 20_000n]) {
  Deno.test(`channel e2e: ${WRITES} paid writes with claims (prepay ${prepay}), close, settle: chain equals books`, async () => {
    await using s = await startPaidChannel({ deposit: DEPOSIT, prefix: "channel_", prepay });
    const { pair, channelId, townDir, aliceDir, town: t, payer } = s;
    const { alice, bob } = pair;
    const events = Array.from({ length: WRITES }, (_, i) => payer.sign(`paid note ${i} `));
    let paid = 0n;
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < events.length) {
        const { reply, amount } = await payer.write(events[next++]);
        assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
        paid += amount;
      }
    }));
    assertEquals(await t.town.store.size(), WRITES);
    const claimed = payer.signer.transferred;
    // With prepay the sender claimed ahead, never more than one prepay beyond what it paid.
    assert(claimed >= paid && claimed <= paid + prepay, `claimed ${claimed}, paid ${paid}`);
    if (prepay === 0n) {
      assertEquals(claimed, paid);
      assertEquals(payer.signer.nonce, BigInt(WRITES), "one claim per paid packet");
    } else {
      assert(payer.signer.nonce < BigInt(WRITES / 2), `fewer claims: ${payer.signer.nonce}`);
    }
    const book = t.gate.verifier.book(channelId)!;
    assertEquals(book.claimed, claimed);
    assertEquals(book.nonce, payer.signer.nonce);
    assertEquals(book.forwarded, paid);

    await payer.close();
    await t.stop();
    // Both channel files hold the newest claim; the town's has alice's signature on it.
    const townFile = await readChannel(channelFilePath(townDir, channelId));
    const aliceFile = await readChannel(channelFilePath(aliceDir, channelId));
    assertEquals(townFile.received, claimed);
    assertEquals(townFile.receivedNonce, payer.signer.nonce);
    assertEquals(aliceFile.sent, claimed);
    assertEquals(aliceFile.sentNonce, payer.signer.nonce);
    assertEquals((await Deno.stat(channelFilePath(townDir, channelId))).mode! & 0o777, 0o600);
    // Audit trail: every update in history (grouped), the last one at the newest nonce.
    const updates = (await gitLog(townDir)).flatMap(parseAuditMessage)
      .filter((e) => e.resource === "channel" && e.action === "update");
    // One update per claim, and with prepay one per write that spent it (each FULFILL is
    // written as delivered first, several writes in flight sharing one).
    assert(updates.length > 0 && updates.length <= WRITES);
    assertEquals(
      updates.map((e) => BigInt(e.fields.Received)).reduce((a, b) => a > b ? a : b),
      claimed,
    );

    // The town takes what it delivered; a prepaid surplus goes back to alice.
    assertEquals(townFile.receivedForwarded, paid);
    await settleOnTownClaim(pair, townFile);
    assertEquals(await alice.tokenBalance(), MINTED - paid);
    assertEquals(await bob.tokenBalance(), MINTED + paid);
  });
}

Deno.test("channel e2e: the town restarts under a prepaying sender; writes go on, books match", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const { channelId } = channel;
  const townDir = await Deno.makeTempDir({ prefix: "channel_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "channel_alice_" });
  try {
    let t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob,
      record: channel.townRecord,
    });
    const btpPort = t.town.btpPort;
    await using payer = await connectClaimClient({
      ...claimTownContact(t.town),
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record: channel.aliceRecord,
      prepay: 1_000_000n,
      reconnect: true,
    });
    let paid = 0n;
    for (let i = 0; i < 20; i++) {
      const { reply, amount } = await payer.write(payer.sign(`before ${i}`));
      assertEquals(reply.type, "fulfill");
      paid += amount;
    }
    assertEquals(payer.signer.nonce, 1n, "one prepaid claim covers the first writes");
    await t.stop();
    // The restarted town resumes from its channel file: what was delivered is written exactly,
    // so the prepaid surplus is still cover.
    t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob,
      btpPort,
      record: await readChannel(channelFilePath(townDir, channelId)),
    });
    try {
      for (let i = 0; i < 20; i++) {
        const { reply, amount } = await payer.write(payer.sign(`after ${i}`));
        assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
        paid += amount;
      }
      assertEquals(payer.signer.nonce, 1n, "the prepaid claim still covers the writes");
      await payer.close();
    } finally {
      await t.stop();
    }
    const townFile = await readChannel(channelFilePath(townDir, channelId));
    const aliceFile = await readChannel(channelFilePath(aliceDir, channelId));
    assertEquals(townFile.received, aliceFile.sent);
    assertEquals(townFile.receivedForwarded, paid, "the town delivered what alice paid for");
    await settleOnTownClaim(pair, townFile);
    assertEquals(await alice.tokenBalance(), MINTED - paid);
    assertEquals(await bob.tokenBalance(), MINTED + paid);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
