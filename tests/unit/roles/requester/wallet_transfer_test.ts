/**
 * The transfer payer's books (roles/requester/wallet_transfer.ts) against a receiver and a town
 * scripted in process (scriptedLinks: the link's replies are what is under control here; the real
 * town and receiver are in tests/e2e/wallet_transfer_test.ts).
 */
import { assertEquals, assertRejects } from "../../../../harness/assert.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  TransferInDoubtError,
  TransferPayer,
  TransferRefusedError,
} from "../../../../roles/requester/wallet_transfer.ts";
import { openPaymentLog, type PaymentLog } from "../../../../state/payments/payment_log.ts";
import { conditionOf } from "../../../../protocol/ilp_fulfillment.ts";
import { NOT_PAID, type TransferRequest } from "../../../../protocol/transfer_request.ts";
import type { IlpPrepare, IlpReply } from "../../../../protocol/ilp_packet.ts";

async function request(
  amount?: bigint,
): Promise<{ req: TransferRequest; fulfillment: Uint8Array }> {
  const fulfillment = crypto.getRandomValues(new Uint8Array(32));
  return {
    fulfillment,
    req: {
      destination: "test.town.bob.0123456789abcdef",
      amount,
      assetCode: "USD",
      assetScale: 6,
      condition: bytesToHex(await conditionOf(fulfillment)),
      expiresAt: new Date(Date.now() + 600_000),
      transferId: "ab".repeat(32),
    },
  };
}

/** A link whose replies come from `answer`, each PREPARE kept. */
function scriptedLinks(answer: (p: IlpPrepare) => IlpReply | undefined) {
  const sent: IlpPrepare[] = [];
  return {
    sent,
    links: {
      sendPayment: (p: IlpPrepare) => {
        sent.push(p);
        const reply = answer(p);
        return reply === undefined
          ? Promise.reject(new Error("no answer"))
          : Promise.resolve(reply);
      },
    },
  };
}

const reject = (code: string, message: string): IlpReply => ({
  type: "reject",
  code,
  triggeredBy: "test.town",
  message,
  data: new Uint8Array(),
});

/** A first run that wrote its intent and got no answer: the transfer is in doubt. */
async function inDoubt(payments: PaymentLog, req: TransferRequest, amount: bigint) {
  const first = scriptedLinks(() => undefined);
  const payer = new TransferPayer({ payments, links: first.links, pubkey: "ef".repeat(32) });
  await assertRejects(() => payer.pay(req, amount), TransferInDoubtError);
  assertEquals(payments.invoiceState(req.condition), "in-doubt");
}

Deno.test("transfer payer: a request counted in another asset scale than the town's is refused before anything is written or sent", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "tp-payer-" });
  const payments = await openPaymentLog({ stateDir });
  const { req } = await request(5_000_000n);
  const link = scriptedLinks(() => reject("F99", "unused"));
  const payer = new TransferPayer({
    payments,
    links: link.links,
    pubkey: "ef".repeat(32),
    homeAsset: () => ({ assetCode: "USD", assetScale: 12 }),
  });
  await assertRejects(() => payer.pay(req, 5_000_000n), TransferRefusedError, "scale 6");
  assertEquals([payments.entries().length, link.sent.length], [0, 0]);
});

Deno.test("transfer payer: a transfer in doubt is sent again only for the amount sent first, within --max", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "tp-payer-" });
  const payments = await openPaymentLog({ stateDir });
  const { req } = await request(); // an open request: the payer names the amount
  await inDoubt(payments, req, 1_000_000n);
  const again = scriptedLinks(() => reject("F99", NOT_PAID));
  const small = new TransferPayer({
    payments,
    links: again.links,
    pubkey: "ef".repeat(32),
    max: 10n,
  });
  // Another amount: refused, nothing sent.
  await assertRejects(() => small.pay(req, 1n), TransferRefusedError, "in-doubt-amount");
  // The amount sent first, over --max: refused, nothing sent.
  await assertRejects(() => small.pay(req, 1_000_000n), TransferRefusedError, "over-max");
  assertEquals(again.sent.length, 0);
  assertEquals(payments.invoiceState(req.condition), "in-doubt");
});

Deno.test("transfer payer: sent again while the first PREPARE is still in flight (T00 from the town) stays in doubt, and the first one's FULFILL settles it later", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "tp-payer-" });
  const payments = await openPaymentLog({ stateDir });
  const { req, fulfillment } = await request(5000n);
  await inDoubt(payments, req, 5000n);
  // The receiver has not seen the first packet yet; the town refuses a second of its condition.
  const busy = scriptedLinks((p) =>
    p.amount === "0" ? reject("F99", NOT_PAID) : reject("T00", "already in-flight")
  );
  const payer = new TransferPayer({ payments, links: busy.links, pubkey: "ef".repeat(32) });
  await assertRejects(() => payer.pay(req, 5000n), TransferInDoubtError, "still in doubt");
  assertEquals(payments.invoiceState(req.condition), "in-doubt");
  // The first packet was fulfilled meanwhile: the receiver answers the question with the proof.
  const settled = scriptedLinks(() => ({ type: "fulfill", fulfillment, data: new Uint8Array() }));
  const later = new TransferPayer({ payments, links: settled.links, pubkey: "ef".repeat(32) });
  const outcome = await later.pay(req, 5000n);
  assertEquals([outcome.status, payments.invoiceState(req.condition)], ["paid-before", "paid"]);
  assertEquals(settled.sent.map((p) => p.amount), ["0"], "only the receipt question was sent");
});
