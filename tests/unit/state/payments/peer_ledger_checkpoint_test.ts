/** A checkpoint of the town's books per peer: a start reads only the lines after it, and holds what reading the whole file holds. */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  openPeerLedger as openLedger,
  type PeerLedger,
  type PeerLedgerOptions,
} from "../../../../state/payments/peer_ledger.ts";

const CHECKPOINT = "peer_ledger.checkpoint.json";

function packet(n: number): { condition: string; hex: string } {
  const fulfillment = new Uint8Array(32).fill(n);
  return { condition: bytesToHex(sha256(fulfillment)), hex: bytesToHex(fulfillment) };
}

/** Opens a ledger, once any checkpoint its opening writes is written. */
async function openPeerLedger(options: PeerLedgerOptions): Promise<PeerLedger> {
  const ledger = await openLedger(options);
  await ledger.flush();
  return ledger;
}

/** Everything a ledger tells, for comparing two openings of one file. */
function view(ledger: PeerLedger, conditions: string[]) {
  return {
    balances: ledger.balances(),
    inDoubt: ledger.inDoubt(),
    states: ["beta", "gamma"].flatMap((a) => conditions.map((c) => ledger.packetState(a, c))),
    forgotten: ["beta", "gamma"].map((a) => ledger.forgottenUpTo(a)),
    held: ledger.answeredHeld(),
    skipped: ledger.skippedLines,
  };
}

/** The checkpoint's offset (after the ledgers' `flush`), which must pass `bytes`. */
async function checkpointPast(stateDir: string, bytes: number): Promise<number> {
  const offset = JSON.parse(await Deno.readTextFile(`${stateDir}/${CHECKPOINT}`)).offset;
  assert(offset > bytes, `checkpoint at ${offset}, not past ${bytes}`);
  return offset;
}

Deno.test("peer ledger checkpoint: a start reads the lines after it only, and holds what the whole file gives, through forgetting, retries, claims, a torn tail and in-doubt packets", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_cp_" });
  const path = `${stateDir}/peer_ledger.jsonl`;
  try {
    const opts = { stateDir, keepAnswered: 2, checkpointLines: 3 };
    const p = Array.from({ length: 12 }, (_, i) => packet(i + 1));
    const conditions = p.map((x) => x.condition);
    let ledger = await openPeerLedger(opts);
    for (const [i, x] of p.slice(0, 8).entries()) {
      const account = i % 3 === 2 ? "gamma" : "beta";
      await ledger.forward(account, x.condition, BigInt(10 + i));
      if (i % 4 === 1) await ledger.rejected(account, x.condition, "T01");
      else if (i !== 7) await ledger.fulfilled(account, x.condition, x.hex);
    }
    // A rejected one forwarded again and fulfilled; a claim; p[7] stays in flight.
    await ledger.forward("beta", p[1].condition, 11n);
    await ledger.fulfilled("beta", p[1].condition, p[1].hex);
    await ledger.claimed("beta", `0x${"ab".repeat(32)}`, 1n, 30n);
    await ledger.flush();
    const offset = await checkpointPast(stateDir, 0);
    const size = (await Deno.stat(path)).size;
    assert(offset <= size);

    // Reading from the checkpoint and reading the whole file agree.
    const whole = () => openPeerLedger({ ...opts, checkpointLines: 0 });
    assertEquals(view(await openPeerLedger(opts), conditions), view(await whole(), conditions));

    // The checkpoint is what was used: a line before it spoiled changes only the whole reading.
    const text = await Deno.readTextFile(path);
    const spoiled = text.replace('"amount":"10"', '"amount":"1x"');
    assert(spoiled !== text && spoiled.indexOf('"1x"') < offset - 256);
    await Deno.writeTextFile(path, spoiled);
    const fromCheckpoint = await openPeerLedger(opts);
    const fromStart = await whole();
    assertEquals(fromCheckpoint.skippedLines, 0);
    assertEquals(fromStart.skippedLines, 1); // the forward: its FULFILL then counts nothing
    assertEquals(fromCheckpoint.balance("beta").owed - fromStart.balance("beta").owed, 10n);
    await Deno.writeTextFile(path, text);

    // More lines after a restart (p[7] in doubt, proven), a second checkpoint past the first,
    // then a kill mid-line: the torn line is skipped either way.
    ledger = await openPeerLedger(opts);
    assertEquals(await ledger.prove("beta", new Uint8Array(32).fill(8)), {
      kind: "owed",
      amount: 17n,
    });
    for (const [i, x] of p.slice(8).entries()) {
      await ledger.forward("beta", x.condition, 5n);
      if (i < 3) await ledger.fulfilled("beta", x.condition, x.hex);
    }
    await ledger.flush();
    await checkpointPast(stateDir, offset);
    await Deno.writeTextFile(path, '{"ts":"2026-01-01T00:00:00.000Z","event":"forw', {
      append: true,
    });
    const a = view(await openPeerLedger(opts), conditions);
    assertEquals(a, view(await whole(), conditions));
    assertEquals(a.skipped, 1);
    assertEquals(a.inDoubt.map((d) => d.condition), [p[11].condition]);

    // A file that no longer begins with what the checkpoint covered: read whole.
    await Deno.writeTextFile(path, text.slice(0, 300));
    assertEquals(view(await openPeerLedger(opts), conditions), view(await whole(), conditions));
    // Another keepAnswered forgets other packets: read whole. (The opening above, which read
    // the whole file, left a checkpoint of it.)
    await Deno.writeTextFile(path, text);
    await openPeerLedger(opts);
    assertEquals(await checkpointPast(stateDir, text.length - 1), text.length);
    const wider = view(await openPeerLedger({ ...opts, keepAnswered: 5 }), conditions);
    assert(wider.held > view(await openPeerLedger(opts), conditions).held);
    assertEquals(
      wider,
      view(await openPeerLedger({ ...opts, keepAnswered: 5, checkpointLines: 0 }), conditions),
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("peer ledger checkpoint: a packet refused twice within one millisecond is let go in the same order from a checkpoint as from the whole file; a checkpoint with packets this module did not write is passed over", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_cp_" });
  try {
    const [x, w, z] = [packet(1), packet(2), packet(3)];
    // One millisecond: a refusal and the payer's retry inside it.
    const opts = { stateDir, now: () => 1_700_000_000_000, keepAnswered: 2, checkpointLines: 1 };
    const ledger = await openPeerLedger(opts);
    await ledger.forward("beta", x.condition, 1n);
    await ledger.rejected("beta", x.condition, "T01");
    await ledger.forward("beta", w.condition, 1n);
    await ledger.rejected("beta", w.condition, "T01");
    await ledger.forward("beta", x.condition, 1n); // x's first answer is no longer one
    await ledger.flush(); // a checkpoint with x in flight
    await ledger.rejected("beta", x.condition, "T01");
    await ledger.forward("beta", z.condition, 1n);
    await ledger.fulfilled("beta", z.condition, z.hex); // one past keepAnswered: w goes
    await ledger.flush();
    const states = (l: PeerLedger) => [x, w, z].map((p) => l.packetState("beta", p.condition));
    assertEquals(states(ledger), ["rejected", "unknown", "fulfilled"]);
    const fromCheckpoint = await openPeerLedger({ ...opts, checkpointLines: 1_000 });
    assertEquals(states(fromCheckpoint), states(ledger));
    assertEquals(states(await openPeerLedger({ ...opts, checkpointLines: 0 })), states(ledger));

    // Packets that do not restore: the whole file is read instead, nothing half replaced.
    const path = `${stateDir}/${CHECKPOINT}`;
    const checkpoint = JSON.parse(await Deno.readTextFile(path));
    checkpoint.state.packets = { beta: { live: [["x", "in-flight", "1.5", 0]], answered: [] } };
    await Deno.writeTextFile(path, JSON.stringify(checkpoint));
    const passedOver = await openPeerLedger({ ...opts, checkpointLines: 1_000 });
    assertEquals(
      view(passedOver, [x, w, z].map((p) => p.condition)),
      view(
        await openPeerLedger({ ...opts, checkpointLines: 0 }),
        [x, w, z].map((p) => p.condition),
      ),
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("peer ledger: a failed write never lowers what it let go of, so a packet let go is never answered as never forwarded", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "peer_ledger_cp_" });
  const sync = Deno.FsFile.prototype.sync;
  try {
    const ledger = await openPeerLedger({ stateDir, keepAnswered: 2, checkpointLines: 0 });
    const [a1, a2, b, c] = [packet(1), packet(2), packet(3), packet(4)];
    for (const p of [a1, a2]) {
      await ledger.forward("beta", p.condition, 10n);
      await ledger.fulfilled("beta", p.condition, p.hex);
    }
    await ledger.forward("beta", b.condition, 10n);
    await ledger.forward("beta", c.condition, 10n);
    let fail = true;
    Deno.FsFile.prototype.sync = function (this: Deno.FsFile) {
      if (fail) {
        fail = false;
        return Promise.reject(new Error("EIO"));
      }
      return sync.call(this);
    };
    const failed = ledger.fulfilled("beta", b.condition, b.hex).then(() => false, () => true);
    await ledger.fulfilled("beta", c.condition, c.hex); // lets a2 go
    assert(await failed);
    await ledger.flush();
    // b's failed FULFILL line held a1 again (the file has no line that let it go); a2 was let go
    // by c's, after b's: what was let go stays let go.
    assertEquals(ledger.packetState("beta", a1.condition), "fulfilled");
    assertEquals(ledger.packetState("beta", a2.condition), "unknown");
    assert(ledger.forgottenUpTo("beta") !== undefined);
    assertEquals(ledger.balance("beta").owed, 30n);
  } finally {
    Deno.FsFile.prototype.sync = sync;
    await Deno.remove(stateDir, { recursive: true });
  }
});
