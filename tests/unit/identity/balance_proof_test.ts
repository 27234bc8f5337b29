import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assertEquals, assertNotEquals, assertRejects } from "../../../harness/assert.ts";
import { privateKeyToAccount } from "viem/accounts";
import { bytesToHex } from "viem";
import {
  BalanceProofSignatureError,
  recoverBalanceProofSigner,
  recoverWithdrawSigner,
  signBalanceProof,
  signWithdraw,
} from "../../../chain/balance_proof.ts";
import { deriveNip06SecretKey } from "../../../identity/nip06_key.ts";

const KEY = deriveNip06SecretKey(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
);
const ADDRESS = privateKeyToAccount(bytesToHex(KEY)).address;
const DOMAIN = { chainId: 31337, verifyingContract: `0x${"11".repeat(20)}` } as const;
const PROOF = { channelId: `0x${"ab".repeat(32)}`, nonce: 5n, transferredAmount: 1234n } as const;

Deno.test("balance proof: the NIP-06 key signs, the signer recovers", async () => {
  const sig = await signBalanceProof(PROOF, { account: localEvmAccount(KEY), domain: DOMAIN });
  assertEquals(sig.length, 132);
  assertEquals(await recoverBalanceProofSigner(PROOF, sig, DOMAIN), ADDRESS);
});

Deno.test("balance proof: any changed field or domain recovers another address", async () => {
  const sig = await signBalanceProof(PROOF, { account: localEvmAccount(KEY), domain: DOMAIN });
  const variants = [
    [{ ...PROOF, nonce: 6n }, DOMAIN],
    [{ ...PROOF, transferredAmount: 1235n }, DOMAIN],
    [{ ...PROOF, channelId: `0x${"ac".repeat(32)}` }, DOMAIN],
    [PROOF, { ...DOMAIN, chainId: 84532 }],
    [PROOF, { ...DOMAIN, verifyingContract: `0x${"12".repeat(20)}` }],
  ] as const;
  for (const [proof, domain] of variants) {
    assertNotEquals(await recoverBalanceProofSigner(proof, sig, domain), ADDRESS);
  }
});

Deno.test("balance proof: malformed and high-s signatures are refused", async () => {
  await assertRejects(
    () => recoverBalanceProofSigner(PROOF, "0x1234", DOMAIN),
    BalanceProofSignatureError,
  );
  const sig = await signBalanceProof(PROOF, { account: localEvmAccount(KEY), domain: DOMAIN });
  // Malleable twin: s' = n - s, v flipped. The contract refuses it, so must we.
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const v = parseInt(sig.slice(130), 16) === 27 ? "1c" : "1b";
  const twin = `${sig.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${v}` as `0x${string}`;
  await assertRejects(
    () => recoverBalanceProofSigner(PROOF, twin, DOMAIN),
    BalanceProofSignatureError,
    "high half",
  );
});

const WITHDRAW = {
  channelId: `0x${"ab".repeat(32)}`,
  participant: `0x${"33".repeat(20)}`,
  totalWithdraw: 10_000_000n,
  expiration: 1_900_000_000n,
} as const;

Deno.test("withdraw: the NIP-06 key signs, the signer recovers; other fields recover another", async () => {
  const sig = await signWithdraw(WITHDRAW, { account: localEvmAccount(KEY), domain: DOMAIN });
  assertEquals(await recoverWithdrawSigner(WITHDRAW, sig, DOMAIN), ADDRESS);
  const variants = [
    [{ ...WITHDRAW, totalWithdraw: 10_000_001n }, DOMAIN],
    [{ ...WITHDRAW, expiration: 1_900_000_001n }, DOMAIN],
    [{ ...WITHDRAW, participant: `0x${"34".repeat(20)}` }, DOMAIN],
    [{ ...WITHDRAW, channelId: `0x${"ac".repeat(32)}` }, DOMAIN],
    [WITHDRAW, { ...DOMAIN, chainId: 84532 }],
  ] as const;
  for (const [withdraw, domain] of variants) {
    assertNotEquals(await recoverWithdrawSigner(withdraw, sig, domain), ADDRESS);
  }
  // Not interchangeable with a balance proof signature over the same channel.
  const proofSig = await signBalanceProof(PROOF, { account: localEvmAccount(KEY), domain: DOMAIN });
  assertNotEquals(await recoverWithdrawSigner(WITHDRAW, proofSig, DOMAIN), ADDRESS);
});

Deno.test("withdraw: malformed and high-s signatures are refused", async () => {
  await assertRejects(
    () => recoverWithdrawSigner(WITHDRAW, "0x1234", DOMAIN),
    BalanceProofSignatureError,
  );
  const sig = await signWithdraw(WITHDRAW, { account: localEvmAccount(KEY), domain: DOMAIN });
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const v = parseInt(sig.slice(130), 16) === 27 ? "1c" : "1b";
  const twin = `${sig.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${v}` as `0x${string}`;
  await assertRejects(
    () => recoverWithdrawSigner(WITHDRAW, twin, DOMAIN),
    BalanceProofSignatureError,
    "high half",
  );
});
