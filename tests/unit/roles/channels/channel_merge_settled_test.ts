/**
 * A settled channel's books never go back (roles/channels/channel_chain_sync.ts
 * `mergeChainSync`): a payee's node watches its payout channel and settles it after the timeout
 * while `channel close` (another process) settles and books it too. Whichever booking lands
 * second is laid over the first's file: a sync the node read before the settle (closed) does not
 * move the file back, and a second booking of the settle does not lower the first's amounts (a
 * read of the channel once the chain forgot it sees its participants zeroed).
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { mergeChainSync } from "../../../../roles/channels/channel_chain_sync.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
  saveChannel,
} from "../../../../state/channels/channel_file.ts";
import { openChannelFileWriter } from "../../../../state/channels/channel_writer.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const SELF = `0x${"a1".repeat(20)}` as const;
const TOWN = `0x${"b2".repeat(20)}` as const;
const CLAIMED = 5_370n;

/** Beta's payout channel as its node holds it: the town's newest claim kept, still open. */
function payoutChannel(extra: Partial<ChannelRecord> = {}): ChannelRecord {
  return fixtureChannelRecord({
    channelId: `0x${"c1".repeat(32)}`,
    selfAddress: SELF,
    peerAddress: TOWN,
    deposit: 0n,
  }, {
    peerDeposit: 1_000_000n,
    peerLabel: "payouts from the town",
    received: CLAIMED,
    receivedNonce: 7n,
    receivedSignature: `0x${"11".repeat(65)}`,
    ...extra,
  });
}

/**
 * The node's writer of the channel (its payout gate's), the file then settled and booked by
 * another process (a new file, as `channel close` writes it), and the node's own sync laid over
 * it: what the file says after.
 */
async function nodeSyncOverSettledFile(synced: ChannelRecord): Promise<ChannelRecord> {
  const stateDir = await Deno.makeTempDir({ prefix: "merge_settled_" });
  try {
    const open = payoutChannel();
    const node = openChannelFileWriter<{ nonce: bigint }>({
      stateDir,
      record: open,
      withClaim: (r) => r,
    });
    await node.update((r) => r, { action: "update" }); // the node's file, kept by its writer
    await saveChannel({ ...open, status: "settled" }, { stateDir, action: "settle" });
    await node.update((now) => mergeChainSync(now, synced), { action: synced.status });
    return await readChannel(channelFilePath(stateDir, open.channelId));
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("mergeChainSync: a second booking of a settle that read zeros does not lower the first's", async () => {
  // The node read the channel after the other settle: gone, its participants zeroed.
  const after = await nodeSyncOverSettledFile(payoutChannel({ status: "settled", received: 0n }));
  assertEquals([after.status, after.received, after.receivedNonce], ["settled", CLAIMED, 7n]);
});

Deno.test("mergeChainSync: a sync read before the settle (closed) does not move a settled file back", async () => {
  const after = await nodeSyncOverSettledFile(payoutChannel({ status: "closed", settleAt: 99n }));
  assertEquals([after.status, after.received], ["settled", CLAIMED]);
});

Deno.test("mergeChainSync: a second booking of a settle keeps a higher amount it booked", () => {
  // The first booking read zeros (the file says 0); the second, by the proofs, repairs it.
  const merged = mergeChainSync(
    payoutChannel({ status: "settled", received: 0n }),
    payoutChannel({ status: "settled" }),
  );
  assertEquals([merged.status, merged.received], ["settled", CLAIMED]);
});

Deno.test("mergeChainSync: a settled file whose channel the chain has open again follows the chain", () => {
  // A chain reset with the contract at the same address: the id is used again.
  const merged = mergeChainSync(payoutChannel({ status: "settled" }), payoutChannel());
  assertEquals(merged.status, "open");
});
