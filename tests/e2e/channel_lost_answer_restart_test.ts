/**
 * A paid write whose answer the network lost, and whose payer process was then SIGKILLed: the
 * town stored it and counts it delivered, the payer's claims count it, and the payer's payment
 * log must say it was paid (docs/PROTOCOL.md "Payment channels and claims"): once a new process
 * of the same profile sends it again and is answered `duplicate`, or, never sent again, once the
 * channel is closed and the town's store says it holds the write. The in-doubt write is kept in
 * the log (roles/town_client/logged_in_doubt_writes.ts), not in the dead process's memory. All
 * real: anvil with the contracts, a channel opened on chain, the town in its own process
 * (SIGSTOPped so the PREPARE waits on its socket), the payer in its own processes
 * (harness/lost_answer_writer.ts), a TCP proxy between them that drops the connection.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import type { ChannelPair } from "../../harness/anvil_channel_pair.ts";
import { type ClaimTownContact, connectClaimClient } from "../../harness/channel_town.ts";
import {
  startTownProcess,
  storedEventIds,
  townProcessArgs,
} from "../../harness/channel_process.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { startTcpCutProxy } from "../../harness/tcp_cut_proxy.ts";
import {
  loadLostAnswerWriter,
  type LostAnswerWriterArgs,
  startLostAnswerWriter,
} from "../../harness/lost_answer_writer.ts";
import { within } from "../support/town_network_kit.ts";
import { closeCooperatively } from "../../roles/channels/channel_cosign_chain.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { foldPayments, type PaymentLine } from "../../state/payments/payment_lines.ts";
import {
  resolveInDoubtWrites,
  storedOnRelay,
} from "../../roles/town_client/in_doubt_writes_at_close.ts";
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

/** Where the killed payer left things: its profile, the town, the write whose answer was lost. */
interface AfterKill {
  pair: ChannelPair;
  aliceDir: string;
  contact: ClaimTownContact;
  writerArgs: LostAnswerWriterArgs;
  lost: NostrEvent;
  note(content: string): NostrEvent;
  /** What the payer processes' claims paid that is no write (their SPSP handshakes). */
  handshakes: bigint;
}

/**
 * A payer process writes one note, then a second whose answer is lost (the town SIGSTOPped with
 * the PREPARE on its socket, the payer's wait over), and is SIGKILLed; the connection drops, the
 * town goes on and stores the write. Then `body`.
 */
async function afterPayerKilled(body: (k: AfterKill) => Promise<void>): Promise<void> {
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
    const first = await startLostAnswerWriter(writerArgs);
    const lost = note("answer lost");
    try {
      assertEquals(await first.write({ event: note("answered") }), { ok: true, duplicate: false });
      town.child.kill("SIGSTOP");
      assertEquals(await first.write({ event: lost, patienceMs: 300 }), {
        error: "BtpTimeoutError",
      });
    } finally {
      await first.kill9();
    }
    proxy.cut();
    town.child.kill("SIGCONT");
    const store = `${townDir}/town-events.sqlite`;
    await until("the town stores the write", () => storedEventIds(store).has(lost.id));
    await body({
      pair,
      aliceDir,
      contact,
      writerArgs,
      lost,
      note,
      handshakes: first.paid.ready - first.paid.start,
    });
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
}

/** The payment log's lines, and what they paid. */
async function paidByLog(aliceDir: string): Promise<{ lines: PaymentLine[]; paid: bigint }> {
  const lines = foldPayments((await openPaymentLog({ stateDir: aliceDir })).entries());
  return { lines, paid: lines.reduce((sum, p) => sum + BigInt(p.amount), 0n) };
}

/**
 * Closes the channel co-signed, from a process of its own (the payer's are gone), runs `after`
 * (the close is done), and returns what the close paid less the handshakes.
 */
async function closeChannel(k: AfterKill, after = async () => {}): Promise<bigint> {
  const record = await readChannel(channelFilePath(k.aliceDir, k.writerArgs.channelId));
  const closer = await connectClaimClient({
    ...k.contact,
    stateDir: k.aliceDir,
    secretKey: k.pair.aliceKey,
    record,
  });
  try {
    const handshakes = k.handshakes + closer.signer.transferred - record.sent;
    const closed = await closeCooperatively({
      peer: closer.client,
      chain: k.pair.alice,
      record: closer.sent.record(),
      signer: localNodeSigner(k.pair.aliceKey),
      stateDir: k.aliceDir,
    });
    await after();
    return closed.agreement.transferredAmount - handshakes;
  } finally {
    await closer.close();
  }
}

Deno.test("channel lost answer, payer killed: a new process of the profile sending the write again logs the lost attempt, and a co-signed close pays what the log says", async () => {
  await afterPayerKilled(async (k) => {
    // A new process of the same profile sends it again: stored already, nothing paid.
    const second = await startLostAnswerWriter(k.writerArgs);
    k.handshakes += second.paid.ready - second.paid.start;
    try {
      assertEquals(await second.write({ event: k.lost }), { ok: true, duplicate: true });
      assertEquals(await second.write({ event: k.note("after the retry") }), {
        ok: true,
        duplicate: false,
      });
    } finally {
      await second.stop();
    }
    const log = await paidByLog(k.aliceDir);
    assertEquals(log.lines.map((p) => p.state), ["paid", "paid", "paid"], "the lost write paid");
    assertEquals(await closeChannel(k), log.paid, "closed at the log");
  });
});

Deno.test("channel lost answer, payer killed: a write never sent again is in the log as paid once the channel is closed and the town says it stores it, so the log says what the close paid", async () => {
  await afterPayerKilled(async (k) => {
    const before = await paidByLog(k.aliceDir);
    assertEquals(before.lines.map((p) => p.state), ["paid", "in-doubt"]);
    const closePaid = await closeChannel(k, async () => {
      const done = await resolveInDoubtWrites({
        payments: await openPaymentLog({ stateDir: k.aliceDir }),
        townAddress: k.contact.townAddress,
        stored: storedOnRelay(k.contact.relayUrl!),
      });
      assertEquals([done.paid, done.notPaid], [1, 0]);
    });
    const after = await paidByLog(k.aliceDir);
    assertEquals(after.lines.map((p) => p.state), ["paid", "paid"]);
    assertEquals(closePaid, after.paid, "closed at the log");
    // The close is done: nothing is left in doubt to resolve again.
    const again = await resolveInDoubtWrites({
      payments: await openPaymentLog({ stateDir: k.aliceDir }),
      townAddress: k.contact.townAddress,
      stored: storedOnRelay(k.contact.relayUrl!),
    });
    assertEquals([again.paid, again.notPaid], [0, 0]);
  });
});

Deno.test("channel lost answer, payer killed, two processes of the profile holding the write in doubt: the first to send it again records it paid, the other finds it settled on the log and records nothing, so the log says what the close paid", async () => {
  await afterPayerKilled(async (k) => {
    // Both read the log's intent at their start; the later one pays over the channel after the
    // first stopped (one signer per channel), as a `job submit` beside a `node up` would.
    const later = await loadLostAnswerWriter({ ...k.writerArgs, loadFirst: true });
    try {
      const first = await startLostAnswerWriter(k.writerArgs);
      k.handshakes += first.paid.ready - first.paid.start;
      try {
        assertEquals(await first.write({ event: k.lost }), { ok: true, duplicate: true });
      } finally {
        await first.stop();
      }
      const second = await later.connect();
      k.handshakes += second.paid.ready - second.paid.start;
      try {
        assertEquals(await second.write({ event: k.lost }), { ok: true, duplicate: true });
      } finally {
        await second.stop();
      }
    } finally {
      await later.kill9();
    }
    const entries = (await openPaymentLog({ stateDir: k.aliceDir })).entries();
    const fulfilled = entries.filter((e) => e.direction === "out" && e.event === "fulfilled");
    const outcomes = fulfilled.filter((e) => e.invoiceId === k.lost.id);
    assertEquals(outcomes.length, 1, "the lost write recorded once");
    const logged = fulfilled.reduce((sum, e) => sum + BigInt(e.amount), 0n);
    assertEquals(await closeChannel(k), logged, "closed at the log's fulfilled lines");
  });
});
