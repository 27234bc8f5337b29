/**
 * A signed receipt (protocol/job_receipt.ts): what a key signs reads back the same, and any edit
 * of its content, a wrong kind or a malformed receipt is refused with its reason.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools";
import {
  type JobReceipt,
  readReceipt,
  ReceiptError,
  receiptTemplate,
} from "../../../protocol/job_receipt.ts";

const key = generateSecretKey();
const receipt: JobReceipt = {
  side: "provider",
  job: "ab".repeat(32),
  counterparty: "cd".repeat(32),
  kind: 5603,
  skill: "agent-task",
  preset: "honest",
  outcome: "done",
  status: "published",
  asset: "M2M",
  scale: 6,
  deposit: "13760",
  delivery: "51112",
  refunded: "0",
  providerVerdict: "passed",
  onTime: true,
  endedAtMs: 1_800_000_000_000,
};

Deno.test("job receipt: a signed receipt reads back as signed, by its signer", () => {
  const event = finalizeEvent(receiptTemplate(receipt, 1_800_000_001_000), key);
  const read = readReceipt(event);
  assertEquals([read.receipt, read.signer, read.id], [receipt, getPublicKey(key), event.id]);
  assertEquals(event.tags, [["e", receipt.job], ["p", receipt.counterparty], ["side", "provider"]]);
});

Deno.test("job receipt: an edited amount, a wrong kind and a malformed receipt are refused with their reasons", () => {
  const event = finalizeEvent(receiptTemplate(receipt), key);
  const edited = { ...event, content: event.content.replace('"13760"', '"13761"') };
  const reasons = [
    edited,
    { ...event, kind: 1 },
    finalizeEvent({ ...receiptTemplate(receipt), content: '{"side":"both"}' }, key),
  ].map((e) => assertThrows(() => readReceipt(e), ReceiptError).reason);
  assertEquals(reasons, ["signature", "kind", "content"]);
});
