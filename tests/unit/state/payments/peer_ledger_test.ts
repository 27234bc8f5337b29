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
    assertEquals(await again.prove("beta", packet(9).fulfillment), 0n);
    assertEquals(await again.prove("beta", c.fulfillment), 7n);
    assertEquals(await again.prove("beta", c.fulfillment), 0n);
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
