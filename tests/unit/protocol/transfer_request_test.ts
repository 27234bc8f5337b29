import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  decodeTransferData,
  encodeTransferData,
  formatTransferRequest,
  parseTransferRequest,
  type TransferRequest,
} from "../../../protocol/transfer_request.ts";
import { IlpInvoiceError, parseIlpInvoice } from "../../../protocol/ilp_invoice.ts";

const REQUEST: TransferRequest = {
  destination: "test.town.bob.0123456789abcdef",
  amount: 5000n,
  assetCode: "USD",
  assetScale: 6,
  condition: "ab".repeat(32),
  expiresAt: new Date("2026-11-22T03:00:00Z"),
  transferId: "cd".repeat(32),
};

Deno.test("transfer request: a request with an amount is an ILP invoice whose job is the transfer id", () => {
  const text = formatTransferRequest(REQUEST);
  assertEquals(parseIlpInvoice(text).jobId, REQUEST.transferId);
  assertEquals(parseTransferRequest(text), REQUEST);
});

Deno.test("transfer request: the amount may be left to the payer, a memo rides along", () => {
  const text = formatTransferRequest({ ...REQUEST, amount: undefined, memo: "lunch & coffee" });
  assertEquals(text.includes("amount="), false);
  assertEquals(parseTransferRequest(text), {
    ...REQUEST,
    amount: undefined,
    memo: "lunch & coffee",
  });
});

Deno.test("transfer request: a memo given twice or an unknown field is refused", () => {
  const text = formatTransferRequest({ ...REQUEST, memo: "a" });
  assertThrows(() => parseTransferRequest(`${text}&memo=b`), IlpInvoiceError, "memo given twice");
  assertThrows(() => parseTransferRequest(`${text}&tip=1`), IlpInvoiceError, "unknown field");
});

Deno.test("transfer request: the PREPARE's data names the payer, or nobody when malformed", () => {
  assertEquals(decodeTransferData(encodeTransferData("ef".repeat(32))), "ef".repeat(32));
  assertEquals(decodeTransferData(new TextEncoder().encode("transfer:zz")), undefined);
});
