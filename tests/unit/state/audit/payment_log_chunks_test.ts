/**
 * The payment log's chunks (state/payments/payment_log_files.ts): with an audit trail, an audit commit of
 * a payment adds about the same bytes to `.git` whatever the size of the day's log; the history
 * still holds every line (the chunks and the current file at HEAD); a reopen reads the chunks in
 * order; rotation and pruning take a day's chunks with it.
 */
import { assert, assertEquals } from "../../../../harness/assert.ts";
import { openAuditLog } from "../../../../state/audit/audit_log.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-11-01T12:00:00Z");

/** Random hex, as ids and fulfillments are (they do not compress). */
function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function paid(ts: number, invoiceId = hex(16)): PaymentEntry {
  return {
    ts: new Date(ts).toISOString(),
    direction: "out",
    event: "fulfilled",
    jobId: hex(32),
    invoiceId,
    amount: "1000",
    asset: "USD",
    peer: "cd".repeat(32),
    fulfillment: hex(32),
    category: "job",
    scale: 6,
  };
}

/** The bytes of the files under `dir`. */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    total += e.isDirectory ? bytesUnder(path) : Deno.statSync(path).size;
  }
  return total;
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args], stdout: "piped" })
    .output();
  assert(out.success, `git ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("payment log chunks: an audit commit's added bytes stay bounded as the day's log grows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 1 });
    const log = await openPaymentLog({ stateDir: dir, audit, now: () => T0 });
    const added: number[] = [];
    const lines = 600;
    let mark = bytesUnder(`${dir}/.git/objects`);
    for (let i = 1; i <= lines; i++) {
      await log.append(paid(T0));
      // Its own commit, in history before the next append. Waiting for the commit count to move
      // is not enough: a seal committed alone moves it while the append's commit still runs, and
      // that commit, reading the files after the next seal, stores the sealed bytes under the new
      // chunk's name first (docs/ARCHITECTURE.md "The payment log's files").
      await audit.flush();
      if (i % 100 === 0) {
        const now = bytesUnder(`${dir}/.git/objects`);
        added.push((now - mark) / 100);
        mark = now;
      }
    }
    await audit.close();
    const logBytes = (await Deno.readTextFile(log.path)).length +
      bytesUnder(`${dir}/payment_log`);
    // About 400 bytes a line: 240 KB of log. The whole file a commit would add 100 KB and more
    // by the end; a chunk of at most 16 KiB (deflated), its tree and the commit add a few KiB.
    assert(logBytes > 200_000, `log of ${logBytes} bytes`);
    assert(
      added.every((a) => a < 20 * 1024),
      `bytes added per commit, per 100 lines: ${added.map(Math.round)}`,
    );
    assert(
      added[added.length - 1] < 2 * added[0],
      `the last lines' commits cost about what the first did: ${added.map(Math.round)}`,
    );
    // Every line is in HEAD: the sealed chunks in order, then the current file.
    const tracked = (await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).split("\n")
      .filter((p) => p.startsWith("payment_log"));
    assert(tracked.length > 10, `chunks in HEAD: ${tracked}`);
    let text = "";
    for (const p of tracked.filter((p) => p !== "payment_log.jsonl").concat("payment_log.jsonl")) {
      text += await git(dir, "show", `HEAD:${p}`);
    }
    assertEquals(text.trim().split("\n").map((l) => JSON.parse(l)), log.entries());
    assertEquals((await git(dir, "status", "--porcelain")).trim(), "");
    // A seal's commit adds no bytes: its chunk is the current file as the commit before it had
    // it (`git show -C` reads it as a copy).
    const seal = (await git(dir, "log", "-1", "--format=%H", "--grep=seal payment-log")).trim();
    const stat = await git(dir, "show", "-C", "--stat=200", "--format=", seal);
    assert(/payment_log\.jsonl => payment_log\/2026-11-01\/\d{6}\.jsonl +\| +0\n/.test(stat), stat);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("payment log chunks: a reopen reads them in order, rotation and pruning keep them with their day", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = T0;
    const log = await openPaymentLog({ stateDir: dir, now: () => now, chunkBytes: 1000 });
    for (let day = 0; day < 33; day++) {
      now = T0 + day * DAY;
      for (let i = 0; i < 9; i++) await log.append(paid(now, `inv-${day}-${i}`));
    }
    const days = [...Deno.readDirSync(`${dir}/payment_log`)].map((e) => e.name).sort();
    assertEquals(
      days.length,
      61,
      "30 days kept, each its chunks and its last file; today's chunks",
    );
    assertEquals(days[0], "2026-11-03");
    const chunks = [...Deno.readDirSync(`${dir}/payment_log/2026-11-03`)].map((e) => e.name);
    assertEquals(chunks.sort(), ["000001.jsonl", "000002.jsonl"]);
    const reopened = await openPaymentLog({ stateDir: dir, now: () => now });
    assertEquals(reopened.entries(), log.entries());
    assertEquals(reopened.entries().length, 31 * 9);
    assert(reopened.hasPaid("inv-2-0") && !reopened.hasPaid("inv-1-8"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
