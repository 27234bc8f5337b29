/**
 * A paid write whose answer the network lost, and whose payer process was then SIGKILLed: the
 * town stored it and counts it delivered, the payer's claims count it, and the payer's payment
 * log must say it was paid once a new process of the same profile sends it again and is answered
 * `duplicate` (docs/PROTOCOL.md "Payment channels and claims"): the in-doubt write is kept in the
 * log (roles/town_client/logged_in_doubt_writes.ts), not in the dead process's memory. All real:
 * anvil with the contracts, a channel opened on chain, the town in its own process (SIGSTOPped so
 * the PREPARE waits on its socket), the payer in its own processes (harness/lost_answer_writer.ts).
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { connectClaimClient } from "../../harness/channel_town.ts";
import {
  startTownProcess,
  storedEventIds,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { startTcpCutProxy } from "../../harness/tcp_cut_proxy.ts";
import { startLostAnswerWriter } from "../../harness/lost_answer_writer.ts";
import { within } from "../support/town_network_kit.ts";
import { closeCooperatively } from "../../roles/channels/channel_cosign_chain.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { foldPayments } from "../../state/payments/payment_lines.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { bytesToHex } from "viem";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";

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

Deno.test("channel lost answer, payer killed: a new process of the profile sending the write again logs the lost attempt, and a co-signed close pays what the log says", async () => {
  await using pair = await startChannelPair();
  const channel = await openPairChannel(pair, { deposit: 50_000_000n });
  const { channelId } = channel;
  const townDir = await Deno.makeTempDir({ prefix: "lost_restart_town_" });
  const aliceDir = await Deno.makeTempDir({ prefix: "lost_restart_alice_" });
  await savePairChannel(channel, { townDir, aliceDir });
  const { process: town, contact } = await startTownProcess(
    townProcessArgs(pair, { stateDir: townDir, channelId }),
  );
  const nostrKey = generateSecretKey();
  const note = (content: string) =>
    finalizeEvent(
      { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content },
      nostrKey,
    ) as NostrEvent;
  try {
    await using proxy = await startTcpCutProxy(Number(new URL(contact.url).port));
    const writerArgs = {
      ...contact,
      url: `btp+ws://127.0.0.1:${proxy.port}`,
      stateDir: aliceDir,
      channelId,
      secretKey: bytesToHex(pair.aliceKey),
    };
    // What the processes' claims paid that is no write (their SPSP handshakes).
    let handshakes = 0n;
    const first = await startLostAnswerWriter(writerArgs);
    handshakes += first.paid.ready - first.paid.start;
    try {
      assertEquals(await first.write({ event: note("answered") }), { ok: true, duplicate: false });
      // The town stopped with the PREPARE on its socket; the payer gives up waiting and is
      // killed; the network drops the connection; the town goes on and stores the write.
      const lost = note("answer lost");
      town.child.kill("SIGSTOP");
      assertEquals(await first.write({ event: lost, patienceMs: 300 }), {
        error: "BtpTimeoutError",
      });
      await first.kill9();
      proxy.cut();
      town.child.kill("SIGCONT");
      const store = `${townDir}/town-events.sqlite`;
      await until("the town stores the write", () => storedEventIds(store).has(lost.id));

      // A new process of the same profile sends it again: stored already, nothing paid.
      const second = await startLostAnswerWriter(writerArgs);
      handshakes += second.paid.ready - second.paid.start;
      try {
        assertEquals(await second.write({ event: lost }), { ok: true, duplicate: true });
        assertEquals(await second.write({ event: note("after the retry") }), {
          ok: true,
          duplicate: false,
        });
      } finally {
        await second.stop();
      }
    } finally {
      await first.kill9();
    }

    const lines = foldPayments((await openPaymentLog({ stateDir: aliceDir })).entries());
    const paidByLog = lines.reduce((sum, p) => sum + BigInt(p.amount), 0n);
    assertEquals(lines.map((p) => p.state), ["paid", "paid", "paid"], "the lost write is paid");

    const record = await readChannel(channelFilePath(aliceDir, channelId));
    const closer = await connectClaimClient({
      ...contact,
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record,
    });
    try {
      handshakes += closer.signer.transferred - record.sent;
      const closed = await closeCooperatively({
        peer: closer.client,
        chain: pair.alice,
        record: closer.sent.record(),
        signer: localNodeSigner(pair.aliceKey),
        stateDir: aliceDir,
      });
      assertEquals(closed.agreement.transferredAmount - handshakes, paidByLog, "closed at the log");
    } finally {
      await closer.close();
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
