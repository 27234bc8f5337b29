import { toAccount } from "viem/accounts";
import { generateSecretKey } from "nostr-tools/pure";
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { localNodeSigner, signerFromRequests } from "../../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { NodeSignerError } from "../../../protocol/node_signer.ts";

Deno.test("the node signer's EVM account has the fields viem's toAccount gives it", () => {
  const key = generateSecretKey();
  const signer = signerFromRequests({
    pubkey: "00".repeat(32),
    evmAddress: localEvmAccount(key).address,
    ask: () => Promise.resolve("0x"),
  });
  const viems = toAccount({
    address: signer.evmAddress,
    signMessage: signer.evm.signMessage,
    signTransaction: signer.evm.signTransaction,
    signTypedData: signer.evm.signTypedData,
  });
  assertEquals(Object.keys(signer.evm).sort(), Object.keys(viems).sort());
  for (const [k, v] of Object.entries(viems)) {
    assertEquals((signer.evm as unknown as Record<string, unknown>)[k], v, k);
  }
});

Deno.test("the node signer's EVM account refuses what is not an address, as toAccount does", () => {
  assertThrows(
    () =>
      signerFromRequests({
        pubkey: "00".repeat(32),
        evmAddress: "0x1234",
        ask: () => Promise.resolve("0x"),
      }),
    NodeSignerError,
    "not an EVM address",
  );
});

Deno.test("a local signer signs as viem's account of its key: same address, same signature", async () => {
  const key = generateSecretKey();
  using signer = localNodeSigner(key);
  const viems = localEvmAccount(key);
  assertEquals(signer.evmAddress, viems.address);
  assertEquals(signer.evm.address, viems.address);
  assertEquals(
    await signer.evm.signMessage({ message: "hello" }),
    await viems.signMessage({ message: "hello" }),
  );
});
