/**
 * A paid write whose answer the network lost (the PREPARE reached the town, the payer gave up
 * waiting, the connection dropped before the town's FULFILL could come back) was paid: the
 * town stored it and counts it delivered, and the payer's claims count it. Its retry is answered
 * `duplicate`, nothing paid; the payer's payment log must still say the write was paid
 * (docs/PROTOCOL.md "Payment channels and claims"), or a cooperative close pays more than the
 * log says. All real: anvil with the contracts, a channel opened on chain, the town in its own
 * process (SIGSTOPped so the PREPARE waits on its socket), a TCP proxy between the payer and
 * the town that drops the connection, the payer's BTP client with claims under a TownClient.
 */
import { assertEquals, assertRejects } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { connectClaimClient } from "../../harness/channel_town.ts";
import { patientTownWriter } from "../../harness/patient_town_writer.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import {
  startTownProcess,
  storedEventIds,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { startTcpCutProxy } from "../../harness/tcp_cut_proxy.ts";
import { within } from "../support/town_network_kit.ts";
import { closeCooperatively } from "../../roles/channels/channel_cosign_chain.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { BtpTimeoutError } from "../../transport/btp_client.ts";
import type { TownPayment } from "../../roles/town_client/town_client.ts";

const MINTED = 100_000_000n;

/** Polls `ready` until it holds (a hang guard, not a wall-clock assertion). */
function until(what: string, ready: () => boolean): Promise<void> {
  return within(
    what,
    (async () => {
      while (!ready()) await new Promise((r) => setTimeout(r, 20));
    })(),
    60_000,
  );
}

Deno.test("channel lost answer: a write stored by the town whose answer the network lost is in the payer's log once its retry is answered duplicate, and a co-signed close pays what the log says", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const townDir = await Deno.makeTempDir({ prefix: "lost_answer_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "lost_answer_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  const { process: town, contact } = await startTownProcess(
    townProcessArgs(pair, { stateDir: townDir, channelId }),
  );
  try {
    await using proxy = await startTcpCutProxy(Number(new URL(contact.url).port));
    const payer = await connectClaimClient({
      ...contact,
      url: `btp+ws://127.0.0.1:${proxy.port}`,
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record: await readChannel(channelFilePath(aliceDir, channelId)),
      reconnect: true,
    });
    try {
      // The payment log as the requester keeps it: one line per paid write.
      const logged: TownPayment[] = [];
      const { writer, patience } = patientTownWriter(payer, contact, {
        record: (paid) => {
          logged.push(paid);
          return Promise.resolve();
        },
      });
      await writer.grant();
      // The SPSP handshakes paid before the writes (not writes: not in this log).
      const before = payer.signer.transferred;
      await writer.write(payer.sign("answered"));

      // The town stopped with the PREPARE on its socket; the payer gives up waiting, then the
      // network drops the connection; the town goes on, stores the write and FULFILLs into
      // the cut connection.
      const event = payer.sign("answer lost");
      town.child.kill("SIGSTOP");
      patience(300);
      await assertRejects(() => writer.write(event), BtpTimeoutError);
      patience(undefined);
      proxy.cut();
      town.child.kill("SIGCONT");
      const store = `${townDir}/town-events.sqlite`;
      await until("the town stores the write", () => storedEventIds(store).has(event.id));
      await until("the payer reconnects", () => payer.client.state === "open");
      // The requester's retry of the same event: stored already, nothing paid.
      await writer.write(event);
      assertEquals(writer.duplicates, 1);
      await writer.write(payer.sign("after the retry"));
      const paidByLog = logged.reduce((sum, p) => sum + p.amount, 0n);
      assertEquals(logged.length, 3, "the write whose answer was lost is in the log");

      const closed = await closeCooperatively({
        peer: payer.client,
        chain: pair.alice,
        record: payer.sent.record(),
        signer: localNodeSigner(pair.aliceKey),
        stateDir: aliceDir,
      });
      assertEquals(closed.agreement.transferredAmount - before, paidByLog, "closed at the log");
      assertEquals(await pair.alice.tokenBalance(), MINTED - before - paidByLog, "chain = books");
      assertEquals(await pair.bob.tokenBalance(), MINTED + before + paidByLog);
    } finally {
      await payer.close();
    }
  } finally {
    try {
      town.child.kill("SIGCONT");
    } catch {
      // already gone
    }
    await town.stop();
    await Deno.remove(townDir, { recursive: true });
    await Deno.remove(aliceDir, { recursive: true });
  }
});
