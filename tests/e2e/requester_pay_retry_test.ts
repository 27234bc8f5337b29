/**
 * A job payment the town refuses for now is paid again; a payment with no time left is not
 * sent. A real town, the real provider node and a real requester: the requester's account is
 * gated by {@linkcode refusingGateForTest}, which answers its first provider payments with the
 * REJECT a town's claim gate builds for a claim it cannot read yet (`claimRejectReply` of a
 * `rate-limited` ClaimError: T05, the message channel discovery writes; the discovery itself on
 * anvil is tests/interop/anvil_channel_discovery_test.ts) and lets everything else through. The
 * job ends `done` with one paid payment, the payment log shows each refused attempt and one
 * FULFILL. A T04 that names no claim is not paid again. A provider whose invoices expire in 1 s
 * is not paid at all: `payment-refused`, too soon to pay, no intent in the log.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { echoSpec, startRequesterNetwork } from "../../harness/requester_network.ts";
import { decodeIlpPrepare, encodeIlpReply } from "../../protocol/ilp_packet.ts";
import { ClaimError } from "../../protocol/payment_channel_claim.ts";
import { claimRejectReply } from "../../roles/channels/claim_reject_reply.ts";
import type { BtpClaimGate } from "../../roles/channels/btp_claim_gate.ts";
import type { JobProgress } from "../../roles/requester/requester_node.ts";
import type { Requester } from "../../roles/requester/requester_node.ts";
import type { ProviderNodeOptions } from "../../roles/provider/provider_node.ts";

/** Bounds each wait on the network: a hang guard, not a time limit on the feature. */
const HANG_GUARD_MS = 60_000;

/**
 * A test's stand-in for a town's claim gate: the first `refusals` provider payments (a PREPARE
 * with an amount to an address under the provider's) get `reject`; everything else is routed.
 */
function refusingGateForTest(
  providerAddress: () => string,
  refusals: number,
  reject: () => Uint8Array | Promise<Uint8Array>,
): BtpClaimGate & { refused: number } {
  return {
    refused: 0,
    handle(packet, _claim, next) {
      const prepare = decodeIlpPrepare(packet);
      const toProvider = providerAddress() !== "" &&
        prepare.destination.startsWith(providerAddress()) && BigInt(prepare.amount) > 0n;
      if (!toProvider || this.refused >= refusals) return next();
      this.refused++;
      return Promise.resolve(reject());
    },
  };
}

async function waitEnd(req: Requester, id: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`job ${id} did not end in 60 s`)), HANG_GUARD_MS);
  });
  try {
    return await Promise.race([req.waitFor(id), guard]);
  } finally {
    clearTimeout(timer);
  }
}

async function runWithGate(
  refusals: number,
  reject: (triggeredBy: string) => Uint8Array | Promise<Uint8Array>,
  providerOptions: Partial<ProviderNodeOptions> = {},
) {
  let providerAddress = "";
  let townAddress = "";
  const gate = refusingGateForTest(() => providerAddress, refusals, () => reject(townAddress));
  const net = await startRequesterNetwork({
    town: {
      claimGate: (account) => account.startsWith("requester") ? gate : undefined,
    },
    providerOptions,
  });
  providerAddress = net.provider!.ilpAddress;
  townAddress = net.town.ilpAddress;
  const progress: JobProgress[] = [];
  const req = await net.startRequester({ onProgress: (p) => progress.push(p) });
  try {
    const submitted = await req.submit(echoSpec("pay me again"));
    const final = await waitEnd(req, submitted.id);
    const log = req.payments.entries().filter((e) =>
      e.jobId === submitted.id && e.category === "job"
    )
      .map((e) => e.event);
    return { final, log, progress: progress.filter((p) => p.jobId === submitted.id), gate };
  } finally {
    await req.close();
    await net.stop();
  }
}

Deno.test("requester: a job payment refused T05 (rate-limited) is paid again and paid once", async () => {
  const rateLimited = (by: string) =>
    claimRejectReply(
      new ClaimError(
        "rate-limited",
        "too many unknown channels named: the town reads channels it does not know yet at a " +
          "bounded rate; send the claim again in a few seconds",
      ),
      by,
    );
  const { final, log, progress, gate } = await runWithGate(2, rateLimited);
  assertEquals(gate.refused, 2);
  assertEquals(final.status, "done", final.error);
  assertEquals(final.payments.length, 1, "one payment on the job's record");
  assertEquals(final.payments[0].status, "paid");
  assertEquals(log, ["intent", "rejected", "intent", "rejected", "intent", "fulfilled"]);
  const retries = progress.filter((p) => p.detail?.startsWith("refused for now (T05"));
  assertEquals(retries.length, 2, JSON.stringify(progress));
});

Deno.test("requester: a job payment refused T04 without a claim reason (the town's own liquidity) is paid again", async () => {
  // What a town answers when what it owes the provider unsettled is at its limit
  // (roles/town/btp/peer_books.ts): it settles, and the same payment goes through.
  const owes = (by: string) =>
    encodeIlpReply({
      type: "reject",
      code: "T04",
      triggeredBy: by,
      message: "the town owes beta 9981660 unsettled, its limit is 10000000: " +
        "try again after the town settles",
      data: new Uint8Array(),
    });
  const { final, log, progress, gate } = await runWithGate(2, owes);
  assertEquals(gate.refused, 2);
  assertEquals(final.status, "done", final.error);
  assertEquals(final.payments.length, 1, "one payment on the job's record");
  assertEquals(log, ["intent", "rejected", "intent", "rejected", "intent", "fulfilled"]);
  const retries = progress.filter((p) => p.detail?.startsWith("refused for now (T04"));
  assertEquals(retries.length, 2, JSON.stringify(progress));
});

Deno.test("requester: an invoice that expires too soon is not paid (payment-refused, no intent)", async () => {
  const net = await startRequesterNetwork({ providerOptions: { invoiceExpiryMs: 1_000 } });
  const req = await net.startRequester();
  try {
    const submitted = await req.submit(echoSpec("too late"));
    const final = await waitEnd(req, submitted.id);
    assertEquals(final.status, "payment-refused", final.error);
    assert(
      /^expired: invoice expires in \d+ ms, too soon to pay$/.test(final.error ?? ""),
      final.error,
    );
    const log = req.payments.entries().filter((e) =>
      e.jobId === submitted.id && e.category === "job"
    );
    assertEquals(log, [], "no intent: no money moved");
  } finally {
    await req.close();
    await net.stop();
  }
});

Deno.test("requester: a job payment with no answer is not sent again, and the error does not blame the town", async () => {
  // The town's gate holds the PREPARE past its expiry (the invoice's: 5 s), then answers T05,
  // too late: the requester saw no answer, so the payment may have arrived.
  let release = () => {};
  const late = (by: string) =>
    new Promise<Uint8Array>((resolve) => {
      const answer = () =>
        resolve(claimRejectReply(new ClaimError("rate-limited", "late answer"), by));
      const timer = setTimeout(answer, HANG_GUARD_MS);
      release = () => {
        clearTimeout(timer);
        answer();
      };
    });
  try {
    const { final, log, gate } = await runWithGate(1, late, { invoiceExpiryMs: 5_000 });
    assertEquals(gate.refused, 1, "one PREPARE: never sent again");
    assertEquals(final.status, "error");
    assert(
      /^payment failed: no answer to BTP request \d+ in \d+ ms \(no answer to the payment; it is not sent again\)$/
        .test(final.error ?? ""),
      final.error,
    );
    assertEquals(log, ["intent", "rejected"]);
  } finally {
    release();
  }
});
