/**
 * The town's bound on PREPAREs in flight (roles/town/btp/btp_router.ts, docs/SCALE.md "Graceful
 * overload"): past it a new PREPARE is refused T03 at once, not queued; once one is answered the
 * next is taken. The child is a test double of its BTP connection that answers when told.
 */
import { assertEquals, assertStringIncludes } from "../support/assert.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { createBtpRouter, type IlpNextHop } from "../../roles/town/btp/btp_router.ts";
import { encodeIlpReply, type IlpPrepare, type IlpReply } from "../../protocol/ilp_packet.ts";
import type { WritePipeline } from "../../roles/town/write/write_pipeline.ts";
import type { BtpPeerAccount } from "../../roles/town/btp/btp_accounts.ts";
import { isRetryablePaymentReject } from "../../roles/town_client/town_rejection.ts";

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
