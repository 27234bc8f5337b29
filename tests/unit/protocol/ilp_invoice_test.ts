import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  formatIlpInvoice,
  IlpInvoiceError,
  parseIlpInvoice,
} from "../../../protocol/ilp_invoice.ts";
import type { IlpInvoice } from "../../../protocol/ilp_invoice.ts";

const INVOICE: IlpInvoice = {
  destination: "g.town.beta.3f2a",
  amount: 5000n,
  assetCode: "USD",
  assetScale: 6,
  condition: "ab".repeat(32),
  expiresAt: new Date("2026-11-22T03:00:00.000Z"),
  jobId: "cd".repeat(32),
};

Deno.test("an invoice round-trips through its string form", () => {
  const text = formatIlpInvoice(INVOICE);
  assertEquals(
    text,
    `ilp:g.town.beta.3f2a?amount=5000&asset=USD&scale=6&condition=${"ab".repeat(32)}` +
      `&expires=2026-11-22T03:00:00.000Z&job=${"cd".repeat(32)}`,
  );
  assertEquals(parseIlpInvoice(text), INVOICE);
});

Deno.test("bad invoices are refused with the part that is wrong", () => {
  const good = formatIlpInvoice(INVOICE);
  const cases: [string, string][] = [
    ["bolt11:lnbc1", "scheme"],
    ["ilp:g.town", "syntax"],
    [good.replace("amount=5000", "amount=-1"), "amount"],
    [good.replace("amount=5000", "amount=0"), "amount"],
    [good.replace("amount=5000", "amount=18446744073709551616"), "amount"],
    [good.replace("amount=5000", "amount=5000&amount=1"), "amount"],
    [good.replace("g.town.beta.3f2a", "not an address"), "destination"],
    [good.replace("scale=6", "scale=256"), "scale"],
    [good.replace("ab".repeat(32), "AB".repeat(32)), "condition"],
    [good.replace("2026-11-22T03:00:00.000Z", "soon"), "expires"],
    [good.replace("cd".repeat(32), "cd"), "job"],
    [good + "&extra=1", "syntax"],
    ["ilp:" + "g.x".repeat(1000) + "?amount=1", "size"],
  ];
  for (const [text, reason] of cases) {
    const err = assertThrows(() => parseIlpInvoice(text), IlpInvoiceError);
    assertEquals(err.reason, reason, text.slice(0, 80));
  }
});
