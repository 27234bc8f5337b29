import { assertEquals } from "../../../../harness/assert.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../../../state/channels/channel_file.ts";
import { openChannelFileWriter } from "../../../../state/channels/channel_writer.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const RECORD: ChannelRecord = fixtureChannelRecord({
  selfAddress: `0x${"33".repeat(20)}`,
  peerAddress: `0x${"44".repeat(20)}`,
  deposit: 50_000_000n,
});

type Claim = { nonce: bigint; amount: bigint };

Deno.test("channel file writer: claims and updates land in one file, none undoing another", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const seen: string[] = [];
    const file = openChannelFileWriter<Claim>({
      stateDir,
      record: RECORD,
      withClaim: (r, c) => {
        seen.push(`claim ${c.nonce}`);
        return { ...r, received: c.amount, receivedNonce: c.nonce };
      },
      onUpdate: (r) => seen.push(`updated ${r.status}`),
    });
    await file.save({ nonce: 1n, amount: 10n });
    // Saved together: coalesced, only the newest is written.
    const second = file.save({ nonce: 2n, amount: 20n });
    const third = file.save({ nonce: 3n, amount: 30n });
    const closing = file.update((r) => ({ ...r, status: "closing" }), { action: "close" });
    await Promise.all([second, third, closing]);
    await file.save({ nonce: 4n, amount: 40n });
    const onDisk = await readChannel(channelFilePath(stateDir, RECORD.channelId));
    assertEquals(onDisk.status, "closing");
    assertEquals(onDisk.received, 40n);
    assertEquals(onDisk.receivedNonce, 4n);
    assertEquals(onDisk.sent, RECORD.sent);
    assertEquals(file.record(), onDisk);
    assertEquals(seen, ["claim 1", "updated closing", "claim 3", "claim 4"]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("channel file writer: each write starts from the record the one before wrote", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const file = openChannelFileWriter<Claim>({
      stateDir,
      record: RECORD,
      withClaim: (r, c) => ({ ...r, sent: c.amount, sentNonce: c.nonce }),
    });
    const withdraw = file.update((r) => ({ ...r, withdrawn: 500n }), { action: "withdraw" });
    const claim = file.save({ nonce: 7n, amount: 700n });
    await Promise.all([withdraw, claim]);
    const after = await file.update((r) => ({ ...r, status: "closed" }), { action: "close" });
    assertEquals([after.withdrawn, after.sent, after.sentNonce, after.status], [
      500n,
      700n,
      7n,
      "closed",
    ]);
    assertEquals(await readChannel(channelFilePath(stateDir, RECORD.channelId)), after);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
