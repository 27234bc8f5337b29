/**
 * The town's bound on PREPAREs in flight (roles/town/btp/btp_router.ts, docs/SCALE.md "Graceful
 * overload"): past it a new PREPARE is refused T03 at once, not queued; once one is answered the
 * next is taken. And its drain when it stops (docs/OPERATIONS.md "Stopping a town"): the new
 * refused T03, those in flight answered first. The child is a test double of its BTP connection
 * that answers when told.
 */
import { assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { createBtpRouter, type IlpNextHop } from "../../../../roles/town/btp/btp_router.ts";
import { encodeIlpReply, type IlpPrepare, type IlpReply } from "../../../../protocol/ilp_packet.ts";
import type { WritePipeline } from "../../../../roles/town/write/write_pipeline.ts";
import type { BtpPeerAccount } from "../../../../roles/town/btp/btp_accounts.ts";
import { isRetryablePaymentReject } from "../../../../roles/town_client/town_rejection.ts";

Deno.test("btp router: past its PREPAREs in flight a new one is refused T03 at once; answered ones make room", async () => {
  const fulfillment = crypto.getRandomValues(new Uint8Array(32));
  const waiting: (() => void)[] = [];
  const hop: IlpNextHop = {
    request: () =>
      new Promise((resolve) =>
        waiting.push(() =>
          resolve(encodeIlpReply({ type: "fulfill", fulfillment, data: new Uint8Array() }))
        )
      ),
  };
  const router = createBtpRouter({
    townAddress: () => "test.town",
    assetCode: "USD",
    assetScale: 6,
    pipeline: {} as WritePipeline, // not reached: the packets are for a child
    child: (a) => a === "beta" ? hop : undefined,
    maxPreparesInFlight: 2,
  });
  const source = { kind: "child" as const, account: { account: "alice" } as BtpPeerAccount };
  const prepare = (): IlpPrepare => ({
    amount: "500",
    destination: "test.town.beta.job",
    executionCondition: sha256(fulfillment),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(),
  });
  const first = router.routePrepare(source, prepare());
  const second = router.routePrepare(source, prepare());
  await Promise.resolve();
  const refused = await router.routePrepare(source, prepare());
  assertEquals(refused.type, "reject");
  const r = refused as IlpReply & { type: "reject" };
  assertEquals(r.code, "T03");
  assertStringIncludes(r.message, "town busy: 2 packets in flight here, max 2");
  assertEquals(isRetryablePaymentReject(r.code), true, "a payer sends it again later");
  assertEquals(waiting.length, 2, "the refused one never reached the child");
  waiting.shift()!();
  assertEquals((await first).type, "fulfill");
  const third = router.routePrepare(source, prepare());
  await Promise.resolve();
  assertEquals(waiting.length, 2, "room again: taken");
  for (const answer of waiting.splice(0)) answer();
  assertEquals((await second).type, "fulfill");
  assertEquals((await third).type, "fulfill");
});

Deno.test("btp router: a stopping town refuses new PREPAREs T03 and answers those in flight before it closes", async () => {
  const fulfillment = crypto.getRandomValues(new Uint8Array(32));
  const waiting: (() => void)[] = [];
  const hop: IlpNextHop = {
    request: () =>
      new Promise((resolve) =>
        waiting.push(() =>
          resolve(encodeIlpReply({ type: "fulfill", fulfillment, data: new Uint8Array() }))
        )
      ),
  };
  const router = createBtpRouter({
    townAddress: () => "test.town",
    assetCode: "USD",
    assetScale: 6,
    pipeline: {} as WritePipeline, // not reached: the packets are for a child
    child: (a) => a === "beta" ? hop : undefined,
  });
  const source = { kind: "child" as const, account: { account: "alice" } as BtpPeerAccount };
  const prepare = (): IlpPrepare => ({
    amount: "500",
    destination: "test.town.beta.job",
    executionCondition: sha256(fulfillment),
    expiresAt: new Date(Date.now() + 30_000),
    data: new Uint8Array(),
  });
  const inFlight = router.routePrepare(source, prepare());
  await Promise.resolve();
  let drainedWith: number | undefined;
  const drain = router.drain(60_000).then((left) => (drainedWith = left));
  const refused = await router.routePrepare(source, prepare());
  assertEquals(refused.type, "reject");
  const r = refused as IlpReply & { type: "reject" };
  assertEquals(r.code, "T03");
  assertStringIncludes(r.message, "town shutting down");
  assertEquals(isRetryablePaymentReject(r.code), true, "a payer sends it again later");
  assertEquals(waiting.length, 1, "the refused one never reached the child");
  await Promise.resolve();
  assertEquals(drainedWith, undefined, "the drain waits for the packet in flight");
  waiting.shift()!();
  assertEquals((await inFlight).type, "fulfill", "the packet in flight is answered, not cut off");
  await drain;
  assertEquals(drainedWith, 0);
  // A packet whose answer never comes: the drain gives up after its bound and says so.
  const stuck = createBtpRouter({
    townAddress: () => "test.town",
    assetCode: "USD",
    assetScale: 6,
    pipeline: {} as WritePipeline,
    child: () => ({ request: () => new Promise(() => {}) }),
  });
  void stuck.routePrepare(source, prepare());
  await Promise.resolve();
  assertEquals(await stuck.drain(10), 1);
});
