import { assertEquals } from "../../../../harness/assert.ts";
import { channelFilePath, readChannel } from "../../../../state/channels/channel_file.ts";
import {
  openChannelFileWriter,
  openSentClaimWriter,
} from "../../../../state/channels/channel_writer.ts";
import { fixtureChannelRecord } from "../../../support/channel_record_fixture.ts";

const RECORD = fixtureChannelRecord({
  selfAddress: `0x${"33".repeat(20)}`,
  peerAddress: `0x${"44".repeat(20)}`,
  deposit: 50_000_000n,
});

type Received = { nonce: bigint; amount: bigint };

Deno.test("channel writer: a claim received and a claim signed at once on one channel both stay in its file", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    // A channel paid both ways: the payee's claim gate and the payer's signer each write it.
    const received = openChannelFileWriter<Received>({
      stateDir,
      record: RECORD,
      withClaim: (r, c) => ({ ...r, received: c.amount, receivedNonce: c.nonce }),
    });
    const sent = openSentClaimWriter({ stateDir, record: RECORD });
    await Promise.all([
      received.save({ nonce: 3n, amount: 300n }),
      sent.save({ nonce: 2n, transferredAmount: 200n }),
    ]);
    const onDisk = await readChannel(channelFilePath(stateDir, RECORD.channelId));
    assertEquals([onDisk.received, onDisk.receivedNonce], [300n, 3n]);
    assertEquals([onDisk.sent, onDisk.sentNonce], [200n, 2n]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("channel writer: a withdrawal written beside a running writer's claims is not undone by them", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const claims = openSentClaimWriter({ stateDir, record: RECORD });
    // Another writer of the same channel (a command's, or the payout's own) records a withdrawal.
    const other = openSentClaimWriter({ stateDir, record: RECORD });
    await Promise.all([
      other.update((r) => ({ ...r, withdrawn: 5_000n }), { action: "withdraw" }),
      claims.save({ nonce: 1n, transferredAmount: 100n }),
    ]);
    await claims.save({ nonce: 2n, transferredAmount: 150n });
    const onDisk = await readChannel(channelFilePath(stateDir, RECORD.channelId));
    assertEquals(onDisk.withdrawn, 5_000n);
    assertEquals([onDisk.sent, onDisk.sentNonce], [150n, 2n]);
    assertEquals(claims.record().withdrawn, 5_000n);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("channel writer: a change written by another process between two claims is not undone by the second", async () => {
  const stateDir = await Deno.makeTempDir();
  try {
    const claims = openSentClaimWriter({ stateDir, record: RECORD });
    await claims.save({ nonce: 1n, transferredAmount: 100n });
    // A command beside the node (its own process) closes the channel through its own writer.
    const writer = new URL("../../../../state/channels/channel_writer.ts", import.meta.url).href;
    const command = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { changeChannel } from ${JSON.stringify(writer)};
         import { channelFilePath, readChannel } from ${
          JSON.stringify(
            new URL("../../../../state/channels/channel_file.ts", import.meta.url).href,
          )
        };
         const stateDir = ${JSON.stringify(stateDir)};
         const base = await readChannel(channelFilePath(stateDir, ${
          JSON.stringify(RECORD.channelId)
        }));
         await changeChannel(base, (r) => ({ ...r, status: "closing", withdrawn: 7n }), { stateDir, action: "close" });`,
      ],
      stderr: "piped",
    }).output();
    assertEquals(command.code, 0, new TextDecoder().decode(command.stderr));
    // The node's next claim starts from the file the command wrote, not the record it wrote last.
    await claims.save({ nonce: 2n, transferredAmount: 150n });
    const onDisk = await readChannel(channelFilePath(stateDir, RECORD.channelId));
    assertEquals([onDisk.status, onDisk.withdrawn], ["closing", 7n]);
    assertEquals([onDisk.sent, onDisk.sentNonce], [150n, 2n]);
    assertEquals(claims.record(), onDisk);
    // Nobody else wrote since: the next claim's record is the one the file holds.
    await claims.save({ nonce: 3n, transferredAmount: 175n });
    assertEquals(await readChannel(channelFilePath(stateDir, RECORD.channelId)), claims.record());
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
