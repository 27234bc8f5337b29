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
import {
  echoSpec,
  type RequesterNetwork,
  startRequesterNetwork,
} from "../../harness/requester_network.ts";
import type { JobSpec } from "../../roles/requester/job_spec.ts";
import { decodeIlpPrepare, encodeIlpReply, IlpPacketType } from "../../protocol/ilp_packet.ts";
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
  spec: Partial<JobSpec> = {},
) {
  let townAddress = "";
  const run = await runThroughGate(
    (providerAddress) => refusingGateForTest(providerAddress, refusals, () => reject(townAddress)),
    providerOptions,
    spec,
    (net) => townAddress = net.town.ilpAddress,
  );
  return run;
}

/** One echo job through a network whose requesters' account has the gate `gateOf` makes. */
async function runThroughGate<G extends BtpClaimGate>(
  gateOf: (providerAddress: () => string) => G,
  providerOptions: Partial<ProviderNodeOptions> = {},
  spec: Partial<JobSpec> = {},
  started: (net: RequesterNetwork) => void = () => {},
) {
  let providerAddress = "";
  const gate = gateOf(() => providerAddress);
  const net = await startRequesterNetwork({
    town: {
      claimGate: (account) => account.startsWith("requester") ? gate : undefined,
    },
    providerOptions,
  });
  providerAddress = net.provider!.ilpAddress;
  started(net);
  const progress: JobProgress[] = [];
  const req = await net.startRequester({ onProgress: (p) => progress.push(p) });
  try {
    const submitted = await req.submit(echoSpec("pay me again", spec));
    const final = await waitEnd(req, submitted.id);
    const entries = req.payments.entries().filter((e) =>
      e.jobId === submitted.id && e.category === "job"
    );
    const log = entries.map((e) => e.event);
    return {
      final,
      log,
      entries,
      progress: progress.filter((p) => p.jobId === submitted.id),
      gate,
    };
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

Deno.test("requester: a job payment with no answer is in doubt, never sent again, and not logged rejected", async () => {
  // The town's gate holds the PREPARE past its expiry (the invoice's: 5 s), then answers T05,
  // too late: the requester saw no answer, so the payment may have arrived. The provider, asked
  // for its receipt, has none (the gate never forwarded it): the intent stays without an outcome
  // and the provider's result (no payment before the invoice's expiry) ends the job.
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
    const { final, log, gate, progress } = await runWithGate(1, late, {
      invoiceExpiryMs: 5_000,
    });
    assertEquals(gate.refused, 1, "one PREPARE: never sent again");
    assertEquals(final.status, "error");
    assert(/payment not received/.test(final.error ?? ""), final.error);
    assertEquals(log, ["intent"], "in doubt: no outcome without the provider's receipt");
    assert(progress.some((p) => p.detail?.includes("in doubt: not paid again")));
  } finally {
    release();
  }
});

/**
 * A test's stand-in for a town's claim gate under overload: the first provider payment is routed
 * at once (the provider FULFILLs it in time) but its answer is held until a second and a half
 * past the PREPARE's expiry, after the requester stopped waiting (its BTP wait ends a second
 * past the expiry), as a town whose event loop is late answers. Counts the paid PREPAREs to the
 * provider and the FULFILLs it gave for them.
 */
function lateAnsweringGateForTest(
  providerAddress: () => string,
): BtpClaimGate & { paid: number; fulfilled: number } {
  return {
    paid: 0,
    fulfilled: 0,
    async handle(packet, _claim, next) {
      const prepare = decodeIlpPrepare(packet);
      const toProvider = providerAddress() !== "" &&
        prepare.destination.startsWith(providerAddress()) && BigInt(prepare.amount) > 0n;
      if (!toProvider) return await next();
      this.paid++;
      const reply = await next();
      if (reply[0] === IlpPacketType.fulfill) this.fulfilled++;
      if (this.paid > 1) return reply;
      const late = prepare.expiresAt.getTime() + 1_500 - Date.now();
      await new Promise((r) => setTimeout(r, Math.max(0, late)));
      return reply;
    },
  };
}

Deno.test("requester: a job payment FULFILLed after the requester stopped waiting is in doubt, then paid by the provider's receipt, sent once", async () => {
  const { final, log, entries, gate, progress } = await runThroughGate(
    lateAnsweringGateForTest,
    { invoiceExpiryMs: 5_000 },
  );
  assertEquals(gate.paid, 1, "one paid PREPARE: never sent again");
  assertEquals(gate.fulfilled, 1, "the provider FULFILLed it: money moved");
  // The books say what moved: the payment is paid (by the receipt), never `rejected`.
  assertEquals(log, ["intent", "fulfilled"]);
  assert(progress.some((p) => p.detail?.includes("asked after a doubt")), JSON.stringify(progress));
  assertEquals(entries[1].amount, entries[0].amount);
  assertEquals(final.status, "done", final.error);
  assertEquals(final.payments.map((p) => p.status), ["paid"]);
});
