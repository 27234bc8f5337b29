import { assertEquals } from "../../../harness/assert.ts";
import {
  INVOICE_WITHDRAWN_CODE,
  INVOICE_WITHDRAWN_MESSAGES,
  InvoiceDesk,
  invoiceDestination,
} from "../../../roles/provider/payments/invoice_desk.ts";
import { parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";
import type { IlpPrepare } from "../../../protocol/ilp_packet.ts";

const JOB = "ab".repeat(32);

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

async function deskWithInvoice(now = () => 1_000_000) {
  const desk = new InvoiceDesk({
    address: () => "test.town.beta",
    assetCode: "USD",
    assetScale: 6,
    now,
  });
  const open = await desk.issue({ jobId: JOB, amount: 500n, expiryMs: 60_000 });
  const prepare: IlpPrepare = {
    amount: "500",
    destination: open.invoice.destination,
    executionCondition: hexBytes(open.invoice.condition),
    expiresAt: new Date(2_000_000),
    data: new Uint8Array(),
  };
  return { desk, open, prepare };
}

const code = async (desk: InvoiceDesk, p: IlpPrepare) => {
  const m = await desk.match(p);
  return m.ok ? "ok" : (m.reply.type === "reject" ? m.reply.code : "?");
};

Deno.test("provider invoice desk: the invoice string parses back and names the job", async () => {
  const { open } = await deskWithInvoice();
  const parsed = parseIlpInvoice(open.text);
  assertEquals(parsed.destination, invoiceDestination("test.town.beta", JOB));
  assertEquals(parsed.amount, 500n);
  assertEquals(parsed.jobId, JOB);
});

Deno.test("provider invoice desk: only the exact invoice matches", async () => {
  const { desk, prepare } = await deskWithInvoice();
  assertEquals(await code(desk, prepare), "ok");
  assertEquals(await code(desk, { ...prepare, amount: "499" }), "F04");
  assertEquals(await code(desk, { ...prepare, amount: "501" }), "F03");
  assertEquals(await code(desk, { ...prepare, destination: "test.town.beta.other" }), "F02");
  assertEquals(await code(desk, { ...prepare, executionCondition: new Uint8Array(32) }), "F05");
  desk.close(JOB);
  assertEquals(await code(desk, prepare), "F02");
});

Deno.test("provider invoice desk: an expired invoice is refused", async () => {
  let t = 1_000_000;
  const { desk, prepare } = await deskWithInvoice(() => t);
  t += 60_001;
  assertEquals(await code(desk, prepare), "R00");
});

Deno.test("provider invoice desk: a withdrawn invoice's late payment gets the withdrawal's reject", async () => {
  const { desk, prepare } = await deskWithInvoice();
  assertEquals(desk.withdraw(JOB, "grace"), true);
  const m = await desk.match(prepare);
  assertEquals(m.ok, false);
  if (m.ok || m.reply.type !== "reject") throw new Error("expected a reject");
  assertEquals(m.reply.code, INVOICE_WITHDRAWN_CODE);
  assertEquals(m.reply.message, INVOICE_WITHDRAWN_MESSAGES.grace);
  // Whoever closes first wins: the payment path can no longer close it, nor withdraw again.
  assertEquals(desk.close(JOB), false);
  assertEquals(desk.withdraw(JOB, "displaced"), false);
});
