/**
 * A wallet unlocked in a process of its own (identity/wallet_unlock_process.ts): the key comes
 * back sealed to the recipient's key and names the wallet; a wrong passphrase and a vault that
 * holds another key are refused by name.
 */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { generateSecretKey } from "nostr-tools/pure";
import { createWalletRecord } from "../../../identity/wallet.ts";
import { newKeyRecipient } from "../../../identity/sealed_key.ts";
import {
  canUnlockInProcess,
  unlockWalletInProcess,
} from "../../../identity/wallet_unlock_process.ts";
import { CorruptVaultError, WrongPassphraseError } from "../../../identity/vault_errors.ts";
import { evmAddressOf } from "../../../identity/evm_address.ts";

Deno.test("a wallet unlocked in a process comes back sealed to the recipient, as the wallet's key", async () => {
  assertEquals(canUnlockInProcess(), true, "this test runs with -A");
  const key = generateSecretKey();
  const wallet = await createWalletRecord({ secretKey: key, passphrase: "pw" });
  const recipient = await newKeyRecipient();
  const unlocked = await unlockWalletInProcess({ wallet, passphrase: "pw" }, recipient.publicKey);
  assertEquals(unlocked.pubkey, wallet.pubkey);
  assertEquals(unlocked.evmAddress, evmAddressOf(key));
  assertEquals(await recipient.open(unlocked.sealed), key);
});

Deno.test("a wallet unlocked in a process: a wrong passphrase and another key's vault are refused by name", async () => {
  const wallet = await createWalletRecord({ secretKey: generateSecretKey(), passphrase: "pw" });
  const recipient = await newKeyRecipient();
  await assertRejects(
    () => unlockWalletInProcess({ wallet, passphrase: "not it" }, recipient.publicKey),
    WrongPassphraseError,
  );
  const other = await createWalletRecord({ secretKey: generateSecretKey(), passphrase: "pw" });
  await assertRejects(
    () =>
      unlockWalletInProcess(
        { wallet: { ...wallet, pubkey: other.pubkey }, passphrase: "pw" },
        recipient.publicKey,
      ),
    CorruptVaultError,
  );
});
