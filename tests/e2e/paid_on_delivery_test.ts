/**
 * Paid on delivery end to end (docs/PROTOCOL.md "Paid on delivery"): a real town, a provider
 * node whose skill takes 75% of its price on delivery, and a requester node. The
 * requester pays the deposit the payment-required feedback asks for (a quarter of the price and
 * the write that asks it), then the invoice the result carries (the rest of the price and the
 * writes made since); the provider records both, the job ends `done` once, within the bid. The result's key went out sealed: the delivery payment's
 * fulfillment opens it, the deposit's does not.
 */
import { assert, assertEquals, assertRejects } from "../../harness/assert.ts";
import { hexToBytes } from "@noble/hashes/utils.js";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { DeliveryKeyError, openDeliveryKey } from "../../protocol/delivery_key.ts";
import { parseIlpInvoice } from "../../protocol/ilp_invoice.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { readProviderJobRecord } from "../../state/jobs/provider_job_index.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

/** The result key the skill reports (a fixed one: the test checks it comes out sealed). */
const RESULT_KEY = "5e".repeat(32);

/** A shell skill taking 75% of its price on delivery, its result a JSON object with a key. */
async function onDeliverySkills(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-on-delivery-skills-" });
  await Deno.mkdir(`${dir}/keyed`);
  await Deno.writeTextFile(
    `${dir}/keyed/SKILL.md`,
    [
      "---",
      "name: keyed",
      "description: Answers a JSON result with a key, paid mostly on delivery.",
      "metadata:",
      "  kinds: [5601]",
      "  price: 100",
      "  on_delivery: 75",
      "  timeout: 10",
      "  result_bytes: 256",
      "  output_mib: 0",
      "  output_files: 0",
      "---",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/keyed/run`,
    `#!/bin/sh\ncat >/dev/null\nprintf '{"verdict":"pass","key":"${RESULT_KEY}"}'\n`,
  );
  await Deno.chmod(`${dir}/keyed/run`, 0o755);
  return dir;
}

Deno.test("paid on delivery: the deposit up front, the rest with the result, each paid once", async () => {
  const skills = await onDeliverySkills();
  const net = await startRequesterNetwork({ providerSkillsDir: skills });
  const req = await net.startRequester();
  try {
    const submitted = await req.submit(echoSpec("delivered at last", { bid: 1_000_000n }));
    const final = await req.waitFor(submitted.id);
    assertEquals(final.status, "done", final.error);
    assertEquals(final.payments.map((p) => p.status), ["paid", "paid"]);
    const [deposit, delivery] = final.payments;
    const total = deposit.amount + delivery.amount;
    assert(deposit.amount > 0n && total <= 1_000_000n, `${deposit.amount} + ${delivery.amount}`);
    assert(deposit.invoiceId !== delivery.invoiceId);
    // The provider's books: both payments in, the job published (not left `delivered`).
    const record = (await readProviderJobRecord(`${net.root}/provider`, submitted.id))!;
    assertEquals(record.status, "published");
    assertEquals(record.price, String(deposit.amount));
    assertEquals(record.deliveryPrice, String(delivery.amount));
    // The deposit: a quarter of the price and the payment-required write; the delivery: the
    // rest of the price and the writes made since (the result event), nothing for blobs.
    assertEquals(deposit.amount - BigInt(record.depositWrites!), 25n);
    assertEquals(delivery.amount - BigInt(record.deliveryWrites!), 75n);
    assertEquals(record.deliveryBlobs, "0");
    assert(BigInt(record.deliveryWrites!) > 0n);
    assertEquals(parseIlpInvoice(record.deliveryInvoice!).condition, delivery.invoiceId);
    assert(record.deliveryPaidAt !== undefined);
    // The result's key went out sealed; the delivery's fulfillment (the payment's receipt) opens it.
    const result = decodeEventToon(
      await Deno.readTextFile(`${req.stateDir}/cb-${submitted.id}.toon`),
    );
    assert(!result.content.includes(RESULT_KEY), result.content);
    const { verdict, sealedKey } = JSON.parse(result.content) as Record<string, string>;
    assertEquals(verdict, "pass");
    assertEquals(await openDeliveryKey(sealedKey, hexToBytes(delivery.fulfillment!)), RESULT_KEY);
    await assertRejects(
      () => openDeliveryKey(sealedKey, hexToBytes(deposit.fulfillment!)),
      DeliveryKeyError,
    );
    const lines = (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries();
    assertEquals(
      lines.filter((l) => l.jobId === submitted.id && l.direction === "in").map((l) => l.amount),
      [String(deposit.amount), String(delivery.amount)],
    );
  } finally {
    await req.close();
    await net.stop();
    await Deno.remove(skills, { recursive: true });
  }
});
