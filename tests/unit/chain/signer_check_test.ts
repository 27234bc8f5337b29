/** The one check of a channel peer's EVM signature, on real viem signatures. */
import { assertEquals } from "../../../harness/assert.ts";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { recoverMessageAddress } from "viem";
import {
  describeSignerMismatch,
  sameAddress,
  signerMismatch,
} from "../../../chain/signer_check.ts";

Deno.test("signer check: the signer's own signature matches, in any spelling of its address", async () => {
  const alice = privateKeyToAccount(generatePrivateKey());
  const signature = await alice.signMessage({ message: "close" });
  const recover = () => recoverMessageAddress({ message: "close", signature });
  assertEquals(await signerMismatch(recover, alice.address), undefined);
  assertEquals(await signerMismatch(recover, alice.address.toLowerCase()), undefined);
  assertEquals(sameAddress(alice.address, alice.address.toUpperCase().replace("0X", "0x")), true);
});

Deno.test("signer check: another key's signature, or one that does not parse, is a mismatch", async () => {
  const alice = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const signature = await mallory.signMessage({ message: "close" });
  const other = await signerMismatch(
    () => recoverMessageAddress({ message: "close", signature }),
    alice.address,
  );
  assertEquals(other, { why: "other-signer", signer: mallory.address });
  assertEquals(
    describeSignerMismatch(other!, "the peer"),
    `the signature recovers to ${mallory.address}, not to the peer`,
  );
  const garbled = await signerMismatch(
    () => recoverMessageAddress({ message: "close", signature: "0x1234" }),
    alice.address,
  );
  assertEquals(garbled?.why, "unreadable");
});
