import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import {
  CLAIM_VERSION,
  ClaimError,
  decodeClaim,
  encodeClaim,
  MAX_CLAIM_BYTES,
  type PaymentChannelClaim,
} from "../../../protocol/payment_channel_claim.ts";

const CLAIM: PaymentChannelClaim = {
  version: CLAIM_VERSION,
  messageId: "3f1c2a9e-0d1b-4a51-9c7e-2b9a7d1e0f00",
  timestamp: "2026-11-22T10:00:00.000Z",
  chainId: 31337,
  tokenNetworkAddress: `0x${"11".repeat(20)}`,
  tokenAddress: `0x${"22".repeat(20)}`,
  channelId: `0x${"ab".repeat(32)}`,
  nonce: 12n,
  transferredAmount: 2n ** 200n,
  signature: `0x${"cd".repeat(65)}`,
};

function reason(fn: () => unknown): string {
  return (assertThrows(fn, ClaimError) as ClaimError).reason;
}

function mutate(patch: Record<string, unknown>): string {
  const json = JSON.parse(new TextDecoder().decode(encodeClaim(CLAIM)));
  return JSON.stringify({ ...json, ...patch });
}

Deno.test("claim codec: round trip, amounts as decimal strings", () => {
  const bytes = encodeClaim(CLAIM);
  const json = JSON.parse(new TextDecoder().decode(bytes));
  assertEquals(json.nonce, "12");
  assertEquals(json.transferredAmount, (2n ** 200n).toString());
  assertEquals(decodeClaim(bytes), CLAIM);
  assertEquals(decodeClaim(new TextDecoder().decode(bytes)), CLAIM);
});

Deno.test("claim codec: size limit, malformed input, version", () => {
  assertEquals(reason(() => decodeClaim(new Uint8Array(MAX_CLAIM_BYTES + 1))), "too-large");
  assertEquals(reason(() => decodeClaim(new Uint8Array([0xff, 0xfe]))), "malformed");
  assertEquals(reason(() => decodeClaim("[1,2]")), "malformed");
  assertEquals(reason(() => decodeClaim("null")), "malformed");
  assertEquals(reason(() => decodeClaim(mutate({ version: 2 }))), "unsupported-version");
});

Deno.test("claim codec: every field is checked", () => {
  const bad: Record<string, unknown>[] = [
    { messageId: "" },
    { messageId: "a b" },
    { messageId: "x".repeat(129) },
    { timestamp: "yesterday" },
    { chainId: "31337" },
    { chainId: 0 },
    { chainId: 1.5 },
    { tokenNetworkAddress: "0x12" },
    { tokenAddress: 5 },
    { channelId: `0x${"ab".repeat(31)}` },
    { nonce: 12 },
    { nonce: "0" },
    { nonce: "-1" },
    { nonce: "012" },
    { transferredAmount: "1e3" },
    { transferredAmount: (2n ** 256n).toString() },
    { signature: `0x${"cd".repeat(64)}` },
    { signature: undefined },
  ];
  for (const patch of bad) {
    assertEquals(reason(() => decodeClaim(mutate(patch))), "malformed", JSON.stringify(patch));
  }
  assertEquals(reason(() => encodeClaim({ ...CLAIM, nonce: 0n })), "malformed");
});

Deno.test("claim codec: random bytes never crash, only ClaimError", () => {
  for (let i = 0; i < 500; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(i % 300));
    try {
      decodeClaim(bytes);
    } catch (err) {
      assertEquals(err instanceof ClaimError, true);
    }
  }
});
