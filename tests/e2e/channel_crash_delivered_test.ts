/**
 * kill -9 the town while claim-paid writes are in flight, several times: what its channel file
 * says it delivered (`received_forwarded`, what a cooperative or unilateral close pays it) is
 * never above the price of the writes its event store holds. A claim is saved as the packet is
 * routed; the write it pays for commits a moment later, so a kill between the two must not leave
 * the town counting that write as delivered (docs/PROTOCOL.md "Payment channels and claims").
 */
import { assert } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { connectClaimClient } from "../../harness/channel_town.ts";
import {
  startTownProcess,
  storedEventIds,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { payWritesUntilKilled, valueOfWrites } from "../../harness/writes_in_flight.ts";

const ROUNDS = 6;
const IN_FLIGHT = 16;

Deno.test("channel crash: a town killed with writes in flight never counts as delivered a write it did not store", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const townDir = await Deno.makeTempDir({ prefix: "crash_delivered_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "crash_delivered_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  const townArgs = townProcessArgs(pair, { stateDir: townDir, channelId });
  // Every write sent, by event id, with its price: what the town may count once it stored it.
  const price = new Map<string, bigint>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const { process: town, contact } = await startTownProcess(townArgs);
      try {
        const payer = await connectClaimClient({
          ...contact,
          stateDir: aliceDir,
          secretKey: pair.aliceKey,
          record: await readChannel(channelFilePath(aliceDir, channelId)),
        });
        try {
          await payWritesUntilKilled({
            payer,
            round,
            inFlight: IN_FLIGHT,
            price,
            kill: () => town.child.kill("SIGKILL"),
          });
        } finally {
          await payer.close();
        }
      } finally {
        await town.kill9();
      }
      // The packets the kill caught were sent too: count them at their price if stored.
      const storedValue = valueOfWrites(storedEventIds(`${townDir}/town-events.sqlite`), price);
      const townFile = await readChannel(channelFilePath(townDir, channelId));
      const delivered = townFile.receivedForwarded ?? townFile.received;
      assert(
        delivered <= storedValue,
        `round ${round}: the town's file counts ${delivered} delivered, ` +
          `its store holds writes worth ${storedValue} (${delivered - storedValue} never stored)`,
      );
    }
  } finally {
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
