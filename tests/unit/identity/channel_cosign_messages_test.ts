import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assertEquals, assertNotEquals } from "../../../harness/assert.ts";
import {
  signCooperativeSettle,
  signWithdraw,
  type TokenNetworkDomain,
} from "../../../chain/balance_proof.ts";
import { deriveNip06SecretKey } from "../../../identity/nip06_key.ts";
import {
  cosignedMessageOf,
  cosignedRequestBody,
  recoverCosignedSigner,
  signCosigned,
} from "../../../roles/channels/channel_cosign_messages.ts";
import { COSIGN_VERSION } from "../../../protocol/payment_channel_cosign.ts";

const ACCOUNT = localEvmAccount(deriveNip06SecretKey(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
));
const DOMAIN: TokenNetworkDomain = { chainId: 31337, verifyingContract: `0x${"11".repeat(20)}` };
const REF = {
  version: COSIGN_VERSION,
  channelId: `0x${"ab".repeat(32)}`,
  chainId: 31337,
  tokenNetworkAddress: `0x${"11".repeat(20)}`,
} as const;
const SETTLE = {
  channelId: REF.channelId,
  participant1: `0x${"01".repeat(20)}`,
  balance1: 700n,
  participant2: `0x${"02".repeat(20)}`,
  balance2: 300n,
} as const;
const WITHDRAW = {
  channelId: REF.channelId,
  participant: `0x${"02".repeat(20)}`,
  totalWithdraw: 250n,
  expiration: 1_900_000_000n,
} as const;

Deno.test("cosign messages: a request built from a message carries that message back", () => {
  const sig = `0x${"cd".repeat(65)}` as const;
  const settleBody = cosignedRequestBody("cooperative-settle", SETTLE, {
    transferredAmount: 42n,
    nonce: 7n,
  }, sig);
  assertEquals(settleBody, {
    type: "cooperative-settle",
    participant1: SETTLE.participant1,
    balance1: 700n,
    participant2: SETTLE.participant2,
    balance2: 300n,
    transferredAmount: 42n,
    nonce: 7n,
    signature: sig,
  });
  assertEquals(
    cosignedMessageOf("cooperative-settle", { ...REF, ...settleBody, type: "cooperative-settle" }),
    SETTLE,
  );
  const withdrawBody = cosignedRequestBody("withdraw", WITHDRAW, {}, sig);
  assertEquals(withdrawBody, {
    type: "withdraw",
    participant: WITHDRAW.participant,
    totalWithdraw: 250n,
    expiration: 1_900_000_000n,
    signature: sig,
  });
  assertEquals(
    cosignedMessageOf("withdraw", { ...REF, ...withdrawBody, type: "withdraw" }),
    WITHDRAW,
  );
});

Deno.test("cosign messages: each type signs and recovers its own EIP-712 message", async () => {
  const settleSig = await signCosigned("cooperative-settle", SETTLE, {
    account: ACCOUNT,
    domain: DOMAIN,
  });
  assertEquals(
    settleSig,
    await signCooperativeSettle(SETTLE, { account: ACCOUNT, domain: DOMAIN }),
  );
  assertEquals(
    await recoverCosignedSigner("cooperative-settle", SETTLE, settleSig, DOMAIN),
    ACCOUNT.address,
  );
  const withdrawSig = await signCosigned("withdraw", WITHDRAW, {
    account: ACCOUNT,
    domain: DOMAIN,
  });
  assertEquals(withdrawSig, await signWithdraw(WITHDRAW, { account: ACCOUNT, domain: DOMAIN }));
  assertEquals(
    await recoverCosignedSigner("withdraw", WITHDRAW, withdrawSig, DOMAIN),
    ACCOUNT.address,
  );
  // A changed balance is another message: the signature recovers to someone else.
  assertNotEquals(
    await recoverCosignedSigner(
      "cooperative-settle",
      { ...SETTLE, balance1: 701n },
      settleSig,
      DOMAIN,
    ),
    ACCOUNT.address,
  );
});
