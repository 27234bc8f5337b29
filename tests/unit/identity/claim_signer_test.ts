import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import {
  ClaimBeyondDepositError,
  ClaimSigner,
  WithdrawBelowClaimsError,
} from "../../../chain/claim_signer.ts";
import { deriveNip06SecretKey } from "../../../identity/nip06_key.ts";

const KEY = deriveNip06SecretKey(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
);

function signer(extra: { withdrawn?: bigint; transferred?: bigint; nonce?: bigint } = {}) {
  return new ClaimSigner({
    account: localEvmAccount(KEY),
    chainId: 31337,
    tokenNetworkAddress: `0x${"11".repeat(20)}`,
    tokenAddress: `0x${"22".repeat(20)}`,
    channelId: `0x${"ab".repeat(32)}`,
    deposit: 1_000n,
    ...extra,
  });
}

Deno.test("claim signer: claims stay within the deposit", async () => {
  const s = signer();
  assertEquals((await s.pay(1_000n)).transferredAmount, 1_000n);
  await assertRejects(() => s.pay(1n), ClaimBeyondDepositError, "exceed the deposit 1000");
  assertEquals(s.nonce, 1n);
});

Deno.test("claim signer: the withdrawn option lowers the cap to deposit - withdrawn", async () => {
  const s = signer({ withdrawn: 400n });
  assertEquals(s.withdrawn, 400n);
  await assertRejects(() => s.pay(601n), ClaimBeyondDepositError, "minus 400 withdrawn");
  assertEquals((await s.pay(600n)).transferredAmount, 600n);
});

Deno.test("claim signer: noteWithdraw raises the withdrawn total, never lowers it", async () => {
  const s = signer();
  await s.pay(100n);
  await s.noteWithdraw(300n);
  await s.noteWithdraw(200n); // an older, lower total changes nothing
  assertEquals(s.withdrawn, 300n);
  await assertRejects(() => s.pay(601n), ClaimBeyondDepositError);
  assertEquals((await s.pay(600n)).transferredAmount, 700n);
  assertEquals(s.nonce, 2n);
});

Deno.test("claim signer: a withdraw that would leave less than the claims is refused", async () => {
  const s = signer({ transferred: 700n, nonce: 3n });
  const err = await assertRejects(() => s.noteWithdraw(301n), WithdrawBelowClaimsError);
  assertEquals([err.totalWithdraw, err.deposit, err.claimed], [301n, 1_000n, 700n]);
  assertEquals(s.withdrawn, 0n);
  await s.noteWithdraw(300n);
  assertEquals(s.withdrawn, 300n);
});

Deno.test("claim signer: noteWithdraw waits for payments queued before it", async () => {
  const s = signer();
  // Both payments are queued before the withdraw: they are signed under the old cap, and the
  // withdraw is then judged against them.
  const paid = [s.pay(400n), s.pay(300n)];
  const noted = s.noteWithdraw(400n);
  await Promise.all(paid);
  await assertRejects(() => noted, WithdrawBelowClaimsError);
  assertEquals(s.withdrawn, 0n);
  assertEquals(s.transferred, 700n);
});

Deno.test("claim signer: noteDeposit raises the cap after a top-up, never lowers it", async () => {
  const s = signer();
  await s.pay(1_000n);
  await assertRejects(() => s.pay(1n), ClaimBeyondDepositError);
  await s.noteDeposit(1_500n);
  await s.noteDeposit(1_200n);
  assertEquals(s.deposit, 1_500n);
  assertEquals((await s.pay(500n)).transferredAmount, 1_500n);
});
