/**
 * The `payment-channel-cosign` codec: round trips, and a precise rejection (reason token) for
 * oversize, non-JSON, wrong-version and wrongly shaped requests and answers (the co-sign
 * requests, `last-claim` and its `claim` answer).
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  ChannelCosignError,
  type CooperativeSettleRequest,
  COSIGN_VERSION,
  type CosignLastClaim,
  decodeCosignAnswer,
  decodeCosignRequest,
  encodeCosignAnswer,
  encodeCosignRequest,
  type LastClaimRequest,
  MAX_COSIGN_BYTES,
  refusalOf,
  type WithdrawRequest,
} from "../../../protocol/payment_channel_cosign.ts";

const CHANNEL = `0x${"ab".repeat(32)}` as const;
const SIG = `0x${"11".repeat(64)}1b` as const;
const A = `0x${"aa".repeat(20)}` as const;
const B = `0x${"bb".repeat(20)}` as const;

const settle: CooperativeSettleRequest = {
  version: COSIGN_VERSION,
  type: "cooperative-settle",
  channelId: CHANNEL,
  chainId: 31337,
  tokenNetworkAddress: A,
  participant1: A,
  balance1: 2n ** 200n,
  participant2: B,
  balance2: 0n,
  transferredAmount: 1500n,
  nonce: 3n,
  signature: SIG,
};

const withdraw: WithdrawRequest = {
  version: COSIGN_VERSION,
  type: "withdraw",
  channelId: CHANNEL,
  chainId: 84532,
  tokenNetworkAddress: B,
  participant: A,
  totalWithdraw: 10_000_000n,
  expiration: 1_767_225_600n,
  signature: SIG,
};

function reason(fn: () => unknown): string {
  return assertThrows(fn, ChannelCosignError).reason;
}

function json(value: Record<string, unknown>): string {
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v);
}

Deno.test("cosign codec: requests and answers round-trip", () => {
  assertEquals(decodeCosignRequest(encodeCosignRequest(settle)), settle);
  assertEquals(decodeCosignRequest(encodeCosignRequest(withdraw)), withdraw);
  const signed = { version: 1, type: "signed", channelId: CHANNEL, signature: SIG } as const;
  assertEquals(decodeCosignAnswer(encodeCosignAnswer(signed)), signed);
  const refused = refusalOf(CHANNEL, new ChannelCosignError("settle-below-claim", "x".repeat(900)));
  const back = decodeCosignAnswer(encodeCosignAnswer(refused));
  assertEquals(back.type === "refused" && [back.reason, back.message.length], [
    "settle-below-claim",
    500,
  ]);
});

Deno.test("cosign codec: size, encoding, version and shape are refused with a reason", () => {
  assertEquals(
    reason(() => decodeCosignRequest(new Uint8Array(MAX_COSIGN_BYTES + 1))),
    "too-large",
  );
  assertEquals(reason(() => decodeCosignRequest(new Uint8Array([0xff, 0xfe]))), "malformed");
  assertEquals(reason(() => decodeCosignRequest("[1]")), "malformed");
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...settle, version: 2 }))),
    "unsupported-version",
  );
  assertEquals(reason(() => decodeCosignRequest(json({ ...settle, type: "close" }))), "malformed");
  assertEquals(reason(() => decodeCosignRequest(json({ ...settle, balance1: 5 }))), "malformed");
  assertEquals(reason(() => decodeCosignRequest(json({ ...settle, balance1: "-5" }))), "malformed");
  assertEquals(reason(() => decodeCosignRequest(json({ ...settle, balance1: "05" }))), "malformed");
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...settle, nonce: "1".repeat(79) }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...settle, participant1: "0x12" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...settle, channelId: "0xab" }))),
    "malformed",
  );
  assertEquals(reason(() => decodeCosignRequest(json({ ...settle, chainId: -1 }))), "malformed");
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...settle, signature: "0x00" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...withdraw, totalWithdraw: "0" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...withdraw, expiration: undefined }))),
    "malformed",
  );
  const answer = { version: 1, type: "refused", channelId: CHANNEL, message: "no" };
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...answer, reason: "because" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...answer, reason: "bad-signature", message: 1 }))),
    "malformed",
  );
  assertEquals(reason(() => decodeCosignAnswer(json({ ...answer, type: "maybe" }))), "malformed");
  assertEquals(
    reason(() => encodeCosignRequest({ ...settle, balance1: 2n ** 256n })),
    "malformed",
  );
});

const lastClaim: LastClaimRequest = {
  version: COSIGN_VERSION,
  type: "last-claim",
  channelId: CHANNEL,
  chainId: 31337,
  tokenNetworkAddress: A,
};

const claim: CosignLastClaim = {
  version: COSIGN_VERSION,
  type: "claim",
  channelId: CHANNEL,
  nonce: 12n,
  transferredAmount: 2n ** 200n,
  signature: SIG,
};

Deno.test("cosign codec: last-claim request and claim answer round-trip, exact shapes", () => {
  const bytes = encodeCosignRequest(lastClaim);
  assertEquals(JSON.parse(new TextDecoder().decode(bytes)), {
    version: 1,
    type: "last-claim",
    channelId: CHANNEL,
    chainId: 31337,
    tokenNetworkAddress: A,
  });
  assertEquals(decodeCosignRequest(bytes), lastClaim);
  // Unknown fields are ignored, as for the other types (a stray signature included).
  assertEquals(decodeCosignRequest(json({ ...lastClaim, signature: SIG, extra: 1 })), lastClaim);
  assertEquals(decodeCosignAnswer(encodeCosignAnswer(claim)), claim);
  const none: CosignLastClaim = { ...claim, nonce: 0n, transferredAmount: 0n };
  delete none.signature;
  const noneBytes = encodeCosignAnswer(none);
  assertEquals(JSON.parse(new TextDecoder().decode(noneBytes)), {
    version: 1,
    type: "claim",
    channelId: CHANNEL,
    nonce: "0",
    transferredAmount: "0",
  });
  assertEquals(decodeCosignAnswer(noneBytes), none);
});

Deno.test("cosign codec: last-claim and claim are refused with a reason when malformed", () => {
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...lastClaim, channelId: "0xab" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...lastClaim, chainId: "1" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...lastClaim, tokenNetworkAddress: undefined }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...lastClaim, version: 2 }))),
    "unsupported-version",
  );
  assertEquals(
    reason(() => decodeCosignRequest(json({ ...lastClaim, pad: "x".repeat(MAX_COSIGN_BYTES) }))),
    "too-large",
  );
  assertEquals(reason(() => decodeCosignAnswer(json({ ...claim, nonce: 12 }))), "malformed");
  assertEquals(reason(() => decodeCosignAnswer(json({ ...claim, nonce: "012" }))), "malformed");
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...claim, transferredAmount: "-1" }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...claim, transferredAmount: "1".repeat(79) }))),
    "malformed",
  );
  // A claim needs its signature; "none held" is nonce 0, amount 0 and no signature, only.
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...claim, signature: undefined }))),
    "malformed",
  );
  assertEquals(
    reason(() => decodeCosignAnswer(json({ ...claim, signature: "0x00" }))),
    "malformed",
  );
  assertEquals(reason(() => decodeCosignAnswer(json({ ...claim, signature: null }))), "malformed");
  assertEquals(reason(() => decodeCosignAnswer(json({ ...claim, nonce: "0" }))), "malformed");
  assertEquals(
    reason(() =>
      decodeCosignAnswer(
        json({ ...claim, nonce: "0", transferredAmount: "5", signature: undefined }),
      )
    ),
    "malformed",
  );
  assertEquals(
    reason(() => encodeCosignAnswer({ ...claim, nonce: 0n, transferredAmount: 0n })),
    "malformed",
  );
  assertEquals(reason(() => encodeCosignAnswer({ ...claim, nonce: 2n ** 256n })), "malformed");
});
