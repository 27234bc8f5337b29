/**
 * A town process that lags (SIGSTOP, then SIGCONT: the packets sent meanwhile reach it at once)
 * while its payer sends claim-paid writes and payments it refuses after taking their claim
 * (F02), so that REJECTs give cover back while the next packets' claims are booked: every write
 * is FULFILLed (no `not-covered` after a lost release), and the books agree: what the town's
 * channel file says it delivered = the writes the payer saw FULFILLed = the writes the town
 * stored (docs/PROTOCOL.md "Payment channels and claims").
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { connectClaimClient, unfulfillablePayment } from "../../harness/channel_town.ts";
import {
  startTownProcess,
  storedEventIds,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

const WRITES = 600;
const WRITE_LANES = 8;
const REFUSED_LANES = 6;

Deno.test("channel cover: a town that lags while REJECTs and new claims interleave keeps delivered = fulfilled = stored", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const townDir = await Deno.makeTempDir({ prefix: "lag_cover_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "lag_cover_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  try {
    const { process: town, contact } = await startTownProcess(
      townProcessArgs(pair, { stateDir: townDir, channelId }),
    );
    const fulfilled = new Map<string, bigint>();
    const refusals: string[] = [];
    let refused = 0;
    try {
      await using payer = await connectClaimClient({
        ...contact,
        stateDir: aliceDir,
        secretKey: pair.aliceKey,
        record: await readChannel(channelFilePath(aliceDir, channelId)),
      });
      let next = 0;
      let writing = true;
      const writes = Array.from({ length: WRITE_LANES }, async () => {
        while (next < WRITES) {
          const event = payer.sign(`lagging note ${next++}`);
          const { reply, amount } = await payer.write(event);
          if (reply.type === "fulfill") {
            fulfilled.set(event.id, amount);
            sentAgain.push(event);
          } else refusals.push(`${reply.code} ${reply.message}`);
        }
      });
      // Claimed, then refused: routed nowhere (F02, answered at once) or a write sent again
      // (F99 duplicate, answered after the store's commit): each gives its cover back.
      const sentAgain: NostrEvent[] = [];
      const refusedPayments = Array.from({ length: REFUSED_LANES }, async (_, lane) => {
        while (writing) {
          const again = sentAgain.shift();
          if (lane % 2 === 1 && again) {
            const { reply } = await payer.write(again);
            if (reply.type === "reject" && reply.code === "F99") refused++;
            else refusals.push(`duplicate write answered ${reply.type}`);
            continue;
          }
          const reply = await payer.client.sendPrepare(
            unfulfillablePayment(`${contact.townAddress}.nobody`, 7_000n),
          );
          if (reply.type === "reject" && reply.code === "F02") refused++;
          else refusals.push(`refused payment answered ${reply.type}`);
        }
      });
      // The town lags on demand: stopped, then let go with everything sent meanwhile queued.
      const lag = (async () => {
        while (writing) {
          town.child.kill("SIGSTOP");
          await new Promise((r) => setTimeout(r, 150));
          town.child.kill("SIGCONT");
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await Promise.all(writes);
      writing = false;
      await Promise.all([...refusedPayments, lag]);
      town.child.kill("SIGCONT");
    } finally {
      await town.stop(); // stdin closed: the town stops cleanly, its books written
    }
    assertEquals(refusals, [], "every write FULFILLed, every refused payment F02");
    const townFile = await readChannel(channelFilePath(townDir, channelId));
    const aliceFile = await readChannel(channelFilePath(aliceDir, channelId));
    let paid = 0n;
    for (const amount of fulfilled.values()) paid += amount;
    const stored = storedEventIds(`${townDir}/town-events.sqlite`);
    let storedValue = 0n;
    for (const id of stored) storedValue += fulfilled.get(id) ?? 0n;
    assertEquals(fulfilled.size, WRITES);
    assertEquals(townFile.received, aliceFile.sent, "the town holds the payer's newest claim");
    assertEquals(
      [townFile.receivedForwarded ?? townFile.received, storedValue],
      [paid, paid],
      `delivered = FULFILLed = stored (${refused} refused payments, their cover given back)`,
    );
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
