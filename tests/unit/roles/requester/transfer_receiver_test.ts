import { assertEquals } from "../../../../harness/assert.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { TransferReceiver } from "../../../../roles/requester/transfer_receiver.ts";
import { openPaymentLog } from "../../../../state/payments/payment_log.ts";
import { conditionOf } from "../../../../protocol/ilp_fulfillment.ts";
import {
  ALREADY_PAID,
  encodeTransferData,
  NOT_PAID,
} from "../../../../protocol/transfer_request.ts";
import { encodeReceiptQuestion } from "../../../../protocol/payment_receipt.ts";
import type { IlpPrepare } from "../../../../protocol/ilp_packet.ts";

async function setup(amount?: bigint) {
  const stateDir = await Deno.makeTempDir({ prefix: "tp-transfer-" });
  const payments = await openPaymentLog({ stateDir });
  const receiver = await TransferReceiver.create({
    payments,
    address: "test.town.bob",
    amount,
    assetCode: "USD",
    assetScale: 6,
    expiresAt: new Date(Date.now() + 60_000),
  });
  const prepare = (value: string): IlpPrepare => ({
    amount: value,
    destination: receiver.request.destination,
    executionCondition: hexToBytes(receiver.request.condition),
    expiresAt: new Date(Date.now() + 30_000),
    data: encodeTransferData("ef".repeat(32)),
  });
  return { stateDir, payments, receiver, prepare };
}

Deno.test("transfer receiver: the payment is on disk before its FULFILL, taken once; a second PREPARE gets the proof in a REJECT", async () => {
  const { stateDir, receiver, prepare } = await setup(5000n);
  const first = await receiver.onPrepare(prepare("5000"));
  assertEquals(first.type, "fulfill");
  // Read back from disk by a fresh log: the line was written before the FULFILL returned.
  const [entry] = (await openPaymentLog({ stateDir })).entries();
  assertEquals([entry.direction, entry.category, entry.amount, entry.peer], [
    "in",
    "transfer",
    "5000",
    "ef".repeat(32),
  ]);
  const second = await receiver.onPrepare(prepare("5000"));
  if (second.type !== "reject" || first.type !== "fulfill") throw new Error("expected a reject");
  assertEquals(second.message, ALREADY_PAID);
  assertEquals(bytesToHex(second.data), bytesToHex(first.fulfillment));
  assertEquals(bytesToHex(await conditionOf(second.data)), receiver.request.condition);
  assertEquals((await openPaymentLog({ stateDir })).entries().length, 1);
});

Deno.test("transfer receiver: a PREPARE under the asked amount, or for another condition, is refused and not recorded", async () => {
  const { payments, receiver, prepare } = await setup(5000n);
  assertEquals((await receiver.onPrepare(prepare("4999"))).type, "reject");
  const other = { ...prepare("5000"), executionCondition: new Uint8Array(32) };
  assertEquals((await receiver.onPrepare(other)).type, "reject");
  assertEquals(payments.entries(), []);
});

Deno.test("transfer receiver: the receipt question (amount 0) is answered not-paid before the payment, with the fulfillment after", async () => {
  const { receiver, prepare } = await setup(5000n);
  const question = { ...prepare("0"), data: encodeReceiptQuestion(receiver.request.transferId) };
  const before = await receiver.onPrepare(question);
  assertEquals(before.type === "reject" && before.message, NOT_PAID);
  const paid = await receiver.onPrepare(prepare("5000"));
  const after = await receiver.onPrepare(question);
  if (paid.type !== "fulfill" || after.type !== "fulfill") throw new Error("expected fulfills");
  assertEquals(bytesToHex(after.fulfillment), bytesToHex(paid.fulfillment));
});

Deno.test("transfer receiver: a PREPARE too close to its expiry is refused R02 and not recorded (the town would refuse the late FULFILL and book it rejected)", async () => {
  const { payments, receiver, prepare } = await setup(5000n);
  const late = { ...prepare("5000"), expiresAt: new Date(Date.now() + 500) };
  const reply = await receiver.onPrepare(late);
  assertEquals(reply.type === "reject" && reply.code, "R02");
  assertEquals(payments.entries(), []);
  // A PREPARE in time afterwards is taken.
  assertEquals((await receiver.onPrepare(prepare("5000"))).type, "fulfill");
});
