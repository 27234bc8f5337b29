/**
 * A payment for a child connected nowhere (roles/town/btp/btp_router.ts, docs/OPERATIONS.md
 * "Stopping a town"): T01 for one of the town's configured peers, away for a while (its payer
 * sends it again within the invoice's time), F02 for an account nobody configured, and F02 for a
 * packet another process of the town forwarded (that process asks the database again on F02).
 */
import { assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import { createBtpRouter } from "../../../../roles/town/btp/btp_router.ts";
import type { IlpPrepare, IlpReply } from "../../../../protocol/ilp_packet.ts";
import type { WritePipeline } from "../../../../roles/town/write/write_pipeline.ts";
import type { BtpPeerAccount } from "../../../../roles/town/btp/btp_accounts.ts";
import { isRetryablePaymentReject } from "../../../../roles/town_client/town_rejection.ts";

const router = createBtpRouter({
  townAddress: () => "test.town",
  assetCode: "USD",
  assetScale: 6,
  pipeline: {} as WritePipeline, // not reached: the packets are for children
  child: () => undefined, // nobody connected
  configuredChild: (a) => a === "beta",
});
const alice = { kind: "child" as const, account: { account: "alice" } as BtpPeerAccount };
const to = (destination: string): IlpPrepare => ({
  amount: "500",
  destination,
  executionCondition: new Uint8Array(32),
  expiresAt: new Date(Date.now() + 30_000),
  data: new Uint8Array(),
});
const rejected = (reply: IlpReply) => {
  assertEquals(reply.type, "reject");
  return reply as IlpReply & { type: "reject" };
};

Deno.test("btp router: a configured peer connected nowhere is T01 (sent again), any other account F02", async () => {
  const away = rejected(await router.routePrepare(alice, to("test.town.beta.job")));
  assertEquals(away.code, "T01");
  assertStringIncludes(away.message, "beta is not connected now (a configured peer)");
  assertEquals(isRetryablePaymentReject(away.code), true, "the payer sends it again");

  const unknown = rejected(await router.routePrepare(alice, to("test.town.carol.job")));
  assertEquals(unknown.code, "F02");
  assertStringIncludes(unknown.message, "carol not connected");
  assertEquals(isRetryablePaymentReject(unknown.code), false, "final");
});

Deno.test("btp router: a packet another process forwarded for a configured peer not here is F02 (that process asks again)", async () => {
  const forwarded = rejected(
    await router.routePrepare({ kind: "process" }, to("test.town.beta.job")),
  );
  assertEquals(forwarded.code, "F02");
});
