/**
 * kill -9 either side mid-stream of claim-paid writes, restart it from its state dir, finish,
 * then close with the town's newest claim and settle: the sender's channel file, the town's
 * channel file and the chain agree to the unit, and every write the sender saw fulfilled was
 * paid for.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "../../harness/channel_town.ts";
import type { PayerProcessArgs } from "../../harness/channel_crash_processes.ts";
import {
  spawnChannelProcess,
  startTownProcess,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel, settleOnTownClaim } from "../../harness/pair_channel.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { bytesToHex } from "viem";

const DEPOSIT = 50_000_000n;
const MINTED = 100_000_000n;
async function setupDirs(pair: ChannelPair) {
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const townDir = await Deno.makeTempDir({ prefix: "crash_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "crash_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  return { channelId: channel.channelId, townDir, aliceDir };
}

async function settleAndCompare(
  pair: ChannelPair,
  channelId: `0x${string}`,
  townDir: string,
  aliceDir: string,
  fulfilledValue: bigint,
): Promise<void> {
  const townFile = await readChannel(channelFilePath(townDir, channelId));
  const aliceFile = await readChannel(channelFilePath(aliceDir, channelId));
  assertEquals(townFile.received, aliceFile.sent, "the town holds the sender's newest claim");
  assertEquals(townFile.receivedNonce, aliceFile.sentNonce);
  // The town takes what it delivered: the writes a kill caught before they were stored are not
  // (the sender counted them paid, so its newest claim can be ahead of that).
  const delivered = townFile.receivedForwarded ?? townFile.received;
  assert(delivered >= fulfilledValue, "every fulfilled write is paid for");
  await settleOnTownClaim(pair, townFile);
  assertEquals(await pair.alice.tokenBalance(), MINTED - delivered);
  assertEquals(await pair.bob.tokenBalance(), MINTED + delivered);
}

Deno.test("channel crash: kill -9 the town mid-stream, restart, books match the chain", async () => {
  await using pair = await startChannelPair();
  const { channelId, townDir, aliceDir } = await setupDirs(pair);
  const townArgs = townProcessArgs(pair, { stateDir: townDir, channelId });
  let fulfilled = 0n;
  try {
    for (const round of [0, 1]) {
      const { process: town, contact } = await startTownProcess(townArgs);
      try {
        const record = await readChannel(channelFilePath(aliceDir, channelId));
        const payer = await connectClaimClient({
          ...contact,
          stateDir: aliceDir,
          secretKey: pair.aliceKey,
          record,
        });
        try {
          let ok = 0;
          let next = 0;
          await Promise.all(Array.from({ length: 8 }, async () => {
            while (next < 300) {
              next++;
              const { reply, amount } = await payer.write(payer.sign(`note ${round} ${next}`))
                .catch(() => ({ reply: undefined, amount: 0n }));
              if (reply?.type === "fulfill") {
                fulfilled += amount;
                // Round 0: kill the town mid-stream, with packets in flight.
                if (++ok === 150 && round === 0) town.child.kill("SIGKILL");
              }
              if (reply === undefined) return; // connection gone
            }
          }));
          if (round === 1) assertEquals(ok, 300, "after the restart every write goes through");
        } finally {
          await payer.close();
        }
      } finally {
        await town.kill9();
      }
    }
    await settleAndCompare(pair, channelId, townDir, aliceDir, fulfilled);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});

Deno.test("channel crash: kill -9 the sender mid-stream, restart, books match the chain", async () => {
  await using pair = await startChannelPair();
  const { channelId, townDir, aliceDir } = await setupDirs(pair);
  let fulfilled = 0n;
  try {
    await using t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob: pair.bob,
      record: await readChannel(channelFilePath(townDir, channelId)),
    });
    const payerArgs: PayerProcessArgs = {
      ...claimTownContact(t.town),
      stateDir: aliceDir,
      channelId,
      secretKey: bytesToHex(pair.aliceKey),
      count: 300,
      inFlight: 8,
    };
    for (const round of [0, 1]) {
      const payer = spawnChannelProcess("payer", payerArgs);
      try {
        let ok = 0;
        for (let line = await payer.readLine(); line !== undefined; line = await payer.readLine()) {
          if (line.startsWith("ok ")) {
            fulfilled += BigInt(line.slice(3));
            if (++ok === 150 && round === 0) break;
          }
          if (line === "done") break;
          assert(!line.startsWith("rejected"), line);
        }
        if (round === 1) assertEquals(ok, 300, "after the restart every write goes through");
      } finally {
        await payer.kill9(); // round 0: mid-stream; round 1: already done
      }
    }
    await t.gate.writer.durable();
    await t.stop();
    await settleAndCompare(pair, channelId, townDir, aliceDir, fulfilled);
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
