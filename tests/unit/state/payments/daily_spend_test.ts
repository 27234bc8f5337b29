/**
 * The payment log's spend per day (state/payments/daily_spend.ts behind `PaymentLog.spentOn`),
 * against the sum it replaced, computed here from the lines themselves: random runs of intents,
 * payments, refusals, late refusals after a payment, several peers, town fees and lines across
 * midnight, checked after every line and again after a reopen.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { openPaymentLog, type PaymentEntry } from "../../../../state/payments/payment_log.ts";

const PEERS = ["a".repeat(64), "b".repeat(64), "c".repeat(64)];
const CATEGORIES = [undefined, "job", "transfer", "town-write", "town-blob"] as const;

/** The sum as spentOn computed it before: each invoice's newest line to a peer, as it stands. */
function expected(lines: PaymentEntry[], day: string, peer?: string): bigint {
  const newest = new Map<string, PaymentEntry>();
  for (const e of lines) {
    const key = `${e.invoiceId} ${e.peer}`;
    // A late reject never downgrades a payment.
    if (newest.get(key)?.event === "fulfilled" && e.event !== "fulfilled") continue;
    newest.set(key, e);
  }
  let total = 0n;
  for (const e of newest.values()) {
    if (e.event === "rejected" || (e.category ?? "job").startsWith("town")) continue;
    if (e.ts.slice(0, 10) !== day || (peer !== undefined && e.peer !== peer)) continue;
    total += BigInt(e.amount);
  }
  return total;
}

Deno.test("daily spend: spentOn equals the sum over the invoices' newest lines, line after line and after a reopen", async () => {
  for (let seed = 1; seed <= 12; seed++) {
    let state = seed;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state % n;
    };
    const dir = await Deno.makeTempDir();
    try {
      // Two days around midnight UTC; the log's clock is the first.
      const t0 = Date.parse("2026-11-02T23:59:00Z");
      const log = await openPaymentLog({ stateDir: dir, now: () => t0 });
      const lines: PaymentEntry[] = [];
      const invoices: { id: string; peer: string; category: (typeof CATEGORIES)[number] }[] = [];
      for (let i = 0; i < 120; i++) {
        const fresh = invoices.length === 0 || random(3) === 0;
        const inv = fresh
          ? {
            id: `inv-${invoices.length}`,
            peer: PEERS[random(3)],
            category: CATEGORIES[random(CATEGORIES.length)],
          }
          : invoices[random(invoices.length)];
        if (fresh) invoices.push(inv);
        const event = (["intent", "fulfilled", "rejected"] as const)[fresh ? 0 : random(3)];
        const entry: PaymentEntry = {
          ts: new Date(t0 + random(120) * 1_000).toISOString(),
          direction: "out",
          event,
          jobId: "ab".repeat(32),
          invoiceId: inv.id,
          amount: String(1 + random(1_000)),
          asset: "USD",
          peer: inv.peer,
          ...(inv.category === undefined ? {} : { category: inv.category }),
          ...(event === "fulfilled" ? { fulfillment: "ef".repeat(32) } : {}),
          ...(event === "rejected" ? { reason: "F99" } : {}),
        };
        await log.append(entry);
        lines.push(entry);
        for (const peer of [undefined, ...PEERS]) {
          for (const day of ["2026-11-02", "2026-11-03"]) {
            const dayMs = Date.parse(`${day}T12:00:00Z`);
            assertEquals(log.spentOn({ dayMs, peer }), expected(lines, day, peer), `seed ${seed}`);
          }
        }
      }
      const reopened = await openPaymentLog({ stateDir: dir, now: () => t0 });
      for (const peer of [undefined, ...PEERS]) {
        assertEquals(reopened.spentOn({ peer }), expected(lines, "2026-11-02", peer));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("daily spend: an invoice's late answer on a day the log let go neither adds to it nor takes from it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const day0 = Date.parse("2026-10-01T12:00:00Z");
    let now = day0;
    const log = await openPaymentLog({ stateDir: dir, now: () => now });
    const intent: PaymentEntry = {
      ts: new Date(day0).toISOString(),
      direction: "out",
      event: "intent",
      jobId: "ab".repeat(32),
      invoiceId: "late",
      amount: "100",
      asset: "USD",
      peer: PEERS[0],
    };
    await log.append(intent);
    now = day0 + 35 * 86_400_000; // a rotation prunes 2026-10-01
    await log.append({ ...intent, ts: new Date(now).toISOString(), invoiceId: "today" });
    await log.append({ ...intent, ts: new Date(now).toISOString(), event: "fulfilled" });
    assertEquals(log.spentOn({ dayMs: day0 }), 0n);
    assertEquals(log.spentOn(), 200n); // the late answer counts on its own day, as before
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
