import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { openPeerLedger, PeerLedgerError } from "../../../../state/payments/peer_ledger.ts";

function packet(n: number): { fulfillment: Uint8Array; condition: string; hex: string } {
  const fulfillment = new Uint8Array(32).fill(n);
  return { fulfillment, condition: bytesToHex(sha256(fulfillment)), hex: bytesToHex(fulfillment) };
}

Deno.test("peer ledger: forwarded, fulfilled once, rejected, claimed, replayed from disk", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_" });
  try {
    const ledger = await openPeerLedger({ stateDir });
    const [a, b, c] = [packet(1), packet(2), packet(3)];
    await ledger.forward("beta", a.condition, 100n);
    await ledger.forward("beta", b.condition, 50n);
    assertEquals(ledger.balance("beta").inFlight, 150n);
    // The same packet cannot be forwarded twice while it is in flight.
    await assertRejects(() => ledger.forward("beta", a.condition, 100n), PeerLedgerError);
    await ledger.fulfilled("beta", a.condition, a.hex);
    await ledger.rejected("beta", b.condition);
    // A second FULFILL of the same packet is refused: it is not in flight any more.
    await assertRejects(() => ledger.fulfilled("beta", a.condition, a.hex), PeerLedgerError);
    // A rejected packet may be forwarded again (a retry of the same invoice).
    await ledger.forward("beta", b.condition, 50n);
    await ledger.fulfilled("beta", b.condition, b.hex);
    await ledger.forward("beta", c.condition, 7n);
    await ledger.claimed("beta", `0x${"ab".repeat(32)}`, 1n, 120n);
    const live = ledger.balance("beta");
    assertEquals([live.owed, live.claimed, live.inFlight, live.inDoubt, live.packets], [
      150n,
      120n,
      7n,
      0n,
      2,
    ]);
    assertEquals(ledger.exposure("beta"), 37n);
    // A restart: the packet in flight has no answer on record, so it is in doubt.
    const again = await openPeerLedger({ stateDir });
    const replayed = again.balance("beta");
    assertEquals([replayed.owed, replayed.claimed, replayed.inFlight, replayed.inDoubt], [
      150n,
      120n,
      0n,
      7n,
    ]);
    assertEquals(again.inDoubt(), [{ account: "beta", condition: c.condition, amount: 7n }]);
    // A fulfillment that is not the packet's proves nothing; the right one records it once.
    assertEquals(await again.prove("beta", packet(9).fulfillment), { kind: "none" });
    assertEquals(await again.prove("beta", c.fulfillment), { kind: "owed", amount: 7n });
    assertEquals(await again.prove("beta", c.fulfillment), { kind: "none" });
    const third = await openPeerLedger({ stateDir });
    assertEquals([third.balance("beta").owed, third.balance("beta").inDoubt], [157n, 0n]);
    assertEquals(third.balances().map((x) => x.account), ["beta"]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("peer ledger: a torn last line and a duplicated FULFILL line count nothing twice", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_" });
  try {
    const a = packet(4);
    const ts = new Date().toISOString();
    const forward = { ts, event: "forward", account: "beta", condition: a.condition, amount: "40" };
    const fulfilled = { ...forward, event: "fulfilled", fulfillment: a.hex };
    await Deno.writeTextFile(
      `${stateDir}/peer_ledger.jsonl`,
      [forward, fulfilled, fulfilled].map((l) => JSON.stringify(l)).join("\n") +
        '\n{"ts":"' + ts + '","event":"forw',
    );
    const ledger = await openPeerLedger({ stateDir });
    assertEquals(ledger.skippedLines, 1);
    assertEquals([ledger.balance("beta").owed, ledger.balance("beta").packets], [40n, 1]);
    // The next line starts on a fresh line after the torn one.
    const b = packet(5);
    await ledger.forward("beta", b.condition, 2n);
    const reread = await openPeerLedger({ stateDir });
    assertEquals([reread.skippedLines, reread.balance("beta").inDoubt], [1, 2n]);
    await assertRejects(
      () => ledger.forward("bad account!", b.condition, 1n),
      PeerLedgerError,
      "bad account",
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("peer ledger: holds each account's newest answered packets only; a replay holds the same, and agrees on a forgotten packet forwarded again", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_" });
  try {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const now = () => clock;
    const ledger = await openPeerLedger({ stateDir, now, keepAnswered: 3 });
    const p = Array.from({ length: 8 }, (_, i) => packet(10 + i));
    // beta: six answered (five fulfilled, one rejected), one in flight; gamma: one fulfilled.
    for (const [i, x] of p.slice(0, 6).entries()) {
      clock += 1_000;
      await ledger.forward("beta", x.condition, 10n);
      if (i === 4) await ledger.rejected("beta", x.condition, "T01");
      else await ledger.fulfilled("beta", x.condition, x.hex);
    }
    await ledger.forward("beta", p[6].condition, 10n);
    await ledger.forward("gamma", p[7].condition, 5n);
    await ledger.fulfilled("gamma", p[7].condition, p[7].hex);
    const states = (l: typeof ledger) => [
      ...p.slice(0, 7).map((x) => l.packetState("beta", x.condition)),
      l.packetState("gamma", p[7].condition),
      l.packetState("gamma", p[0].condition),
    ];
    const held = [
      "unknown",
      "unknown",
      "unknown",
      "fulfilled",
      "rejected",
      "fulfilled",
      "in-flight",
      "fulfilled",
      undefined, // gamma has forgotten nothing: a packet it does not hold was never forwarded
    ];
    assertEquals(states(ledger), held);
    assertEquals(ledger.answeredHeld(), 4);
    // The newest forgotten was forwarded at the third second.
    assertEquals(ledger.forgottenUpTo("beta"), Date.parse("2026-01-01T00:00:03Z"));
    assertEquals(ledger.forgottenUpTo("gamma"), undefined);
    // Balances count every packet, held or not.
    assertEquals([ledger.balance("beta").owed, ledger.balance("beta").packets], [50n, 5]);
    // A fulfilled packet held is not forwarded again; one forgotten is a new packet.
    await assertRejects(() => ledger.forward("beta", p[3].condition, 10n), PeerLedgerError);
    clock += 1_000;
    await ledger.forward("beta", p[0].condition, 10n);
    await ledger.fulfilled("beta", p[0].condition, p[0].hex);
    // A replay forgets in the order of the lines: the same packets held, the same books.
    const again = await openPeerLedger({ stateDir, keepAnswered: 3 });
    assertEquals(
      states(again),
      ["fulfilled", "unknown", "unknown", "unknown", "rejected", "fulfilled", "in-doubt"].concat(
        held.slice(7) as string[],
      ),
    );
    assertEquals(states(again), states(ledger).map((s) => s === "in-flight" ? "in-doubt" : s));
    assertEquals(again.balance("beta"), { ...ledger.balance("beta"), inFlight: 0n, inDoubt: 10n });
    assertEquals(again.forgottenUpTo("beta"), ledger.forgottenUpTo("beta"));
    // Held by default: a provider's newest questions' worth.
    const wide = await openPeerLedger({ stateDir });
    assertEquals(wide.packetState("beta", p[1].condition), "fulfilled");
    assertEquals(wide.forgottenUpTo("beta"), undefined);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("peer ledger: a packet in doubt whose condition the peer paid in another PREPARE (another expiry) is not owed, on every reading", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_" });
  try {
    const [a, b, old] = [packet(1), packet(2), packet(3)];
    const sentA = new Date("2026-11-28T19:56:19.927Z");
    const sentB = new Date("2026-11-28T19:56:25.000Z");
    const ledger = await openPeerLedger({ stateDir });
    await ledger.forward("beta", a.condition, 26_510n, sentA);
    await ledger.forward("beta", b.condition, 100n, sentB);
    await ledger.forward("beta", old.condition, 5n); // an older town's line: no expiry
    // Killed before any answer: all three in doubt.
    const again = await openPeerLedger({ stateDir });
    assertEquals(again.balance("beta").inDoubt, 26_615n);
    // The peer fulfilled a's condition in a PREPARE expiring later (the payer's second, through
    // another process): this packet was not the one paid.
    const later = "2026-11-28T19:56:40.839Z";
    assertEquals(await again.prove("beta", a.fulfillment, later), {
      kind: "another-packet",
      amount: 26_510n,
    });
    // b's own PREPARE, and the packet with no expiry on record: owed.
    assertEquals(await again.prove("beta", b.fulfillment, sentB.toISOString()), {
      kind: "owed",
      amount: 100n,
    });
    assertEquals(await again.prove("beta", old.fulfillment, later), { kind: "owed", amount: 5n });
    // Answered now: showing a's fulfillment again changes nothing.
    assertEquals(await again.prove("beta", a.fulfillment), { kind: "none" });
    for (const books of [again, await openPeerLedger({ stateDir })]) {
      const bal = books.balance("beta");
      assertEquals([bal.owed, bal.inDoubt, bal.inFlight, bal.packets], [105n, 0n, 0n, 2]);
      assertEquals(books.packetState("beta", a.condition), "rejected");
    }
    // From a checkpoint taken while a was in doubt, the `rejected` line answers it the same way.
    const checkpointed = await openPeerLedger({ stateDir: await inDoubtThenRead(a, sentA, later) });
    assertEquals(checkpointed.balance("beta").inDoubt, 0n);
    assertEquals(checkpointed.balance("beta").owed, 0n);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

/**
 * A ledger whose packet `p` went in doubt, was checkpointed so, then shown paid elsewhere, before
 * a newer checkpoint: the next reading starts from the packet in doubt.
 */
async function inDoubtThenRead(
  p: ReturnType<typeof packet>,
  sent: Date,
  paidAt: string,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "peer_ledger_cp_" });
  const first = await openPeerLedger({ stateDir: dir });
  await first.forward("beta", p.condition, 10n, sent);
  // Its own checkpoint, if one is under way, lands before the second reading's: on a loaded
  // machine it landed after, and the file held the packet in flight.
  await first.flush();
  const second = await openPeerLedger({ stateDir: dir, checkpointLines: 1 });
  assertEquals(second.balance("beta").inDoubt, 10n);
  // A checkpoint every four lines here (four times the packets held).
  for (const n of [1n, 2n, 3n, 4n]) await second.claimed("beta", `0x${"ab".repeat(32)}`, n, n);
  await second.flush();
  const checkpoint = `${dir}/peer_ledger.checkpoint.json`;
  const inDoubt = await Deno.readTextFile(checkpoint);
  assertEquals(inDoubt.includes(`"${p.condition}","in-doubt"`), true, inDoubt.slice(-400));
  await second.prove("beta", p.fulfillment, paidAt);
  await second.flush();
  assertEquals(await Deno.readTextFile(checkpoint), inDoubt, "no newer checkpoint");
  return dir;
}
