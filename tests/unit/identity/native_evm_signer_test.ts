import { assert, assertEquals, assertThrows } from "../../../harness/assert.ts";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { hashTypedData, recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadNativeEvmSigner, NativeEvmSignError } from "../../../identity/native_evm_signer.ts";
import { answerSignerRequest } from "../../../identity/signer_request_answer.ts";
import {
  signBalanceProof,
  signCooperativeSettle,
  signWithdraw,
} from "../../../chain/balance_proof.ts";
import { runDenyingFfi } from "../../support/deny_ffi_script.ts";

Deno.test("with FFI, libsecp256k1 signs a digest as viem does, byte for byte (library installed)", async () => {
  // `deno task setup` installs Debian's libsecp256k1-1 (tools/system_packages.ts).
  const native = loadNativeEvmSigner();
  assert(native !== null, "the native EVM signer loads");
  for (let i = 0; i < 64; i++) {
    const secretKey = crypto.getRandomValues(new Uint8Array(32));
    const digest = crypto.getRandomValues(new Uint8Array(32));
    const viem = await privateKeyToAccount(`0x${bytesToHex(secretKey)}`).sign({
      hash: `0x${bytesToHex(digest)}`,
    });
    assertEquals(native.signDigest(digest, secretKey), viem);
  }
});

Deno.test("the native signer refuses a key that is not one, and a digest of the wrong size", () => {
  const native = loadNativeEvmSigner()!;
  assertThrows(() => native.signDigest(new Uint8Array(32), new Uint8Array(32)), NativeEvmSignError);
  assertThrows(
    () => native.signDigest(new Uint8Array(31), new Uint8Array(32).fill(1)),
    NativeEvmSignError,
  );
});

Deno.test("a node's claims, closes and withdrawals: the signer's answer is viem's, and recovers to the key", async () => {
  const secretKey = crypto.getRandomValues(new Uint8Array(32));
  const account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
  // The account a local NodeSigner hands out: its typed data signed by answerSignerRequest.
  const answered = {
    ...account,
    signTypedData: async (typedData: Parameters<typeof account.signTypedData>[0]) =>
      await answerSignerRequest(secretKey, {
        op: "signTypedData",
        typedData: typedData as never,
      }) as `0x${string}`,
  };
  const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
  const channelId = `0x${"ab".repeat(32)}` as const;
  for (
    const [name, sign] of [
      [
        "claim",
        (a: typeof account) =>
          signBalanceProof({ channelId, nonce: 7n, transferredAmount: 1234n }, {
            account: a,
            domain,
          }),
      ],
      ["close", (a: typeof account) =>
        signCooperativeSettle({
          channelId,
          participant1: account.address,
          balance1: 5n,
          participant2: `0x${"11".repeat(20)}`,
          balance2: 6n,
        }, { account: a, domain })],
      ["withdraw", (a: typeof account) =>
        signWithdraw(
          { channelId, participant: account.address, totalWithdraw: 9n, expiration: 99n },
          { account: a, domain },
        )],
    ] as const
  ) {
    const expected = await sign(account);
    assertEquals(await sign(answered as typeof account), expected, name);
  }
  // And arbitrary typed data: the signature recovers to the key.
  const data = {
    domain: { name: "Other", version: "2", chainId: 1 },
    types: { Note: [{ name: "text", type: "string" }, { name: "n", type: "uint256" }] },
    primaryType: "Note",
    message: { text: "héllo", n: 3n },
  } as const;
  const signature = await answerSignerRequest(secretKey, {
    op: "signTypedData",
    typedData: data as never,
  }) as `0x${string}`;
  assertEquals(await recoverTypedDataAddress({ ...data, signature }), account.address);
  assertEquals(signature, await account.signTypedData(data));
  // A different message gives a different digest: the check above can fail.
  assert(hashTypedData(data) !== hashTypedData({ ...data, message: { text: "x", n: 3n } }));
});

Deno.test("without FFI (the key's worker): typed data is signed by viem, the same signature", async () => {
  const script = `
    import { privateKeyToAccount } from "viem/accounts";
    import { hexToBytes } from "@noble/hashes/utils.js";
    import { loadNativeEvmSigner } from "${
    new URL("../../../identity/native_evm_signer.ts", import.meta.url).href
  }";
    import { answerSignerRequest } from "${
    new URL("../../../identity/signer_request_answer.ts", import.meta.url).href
  }";
    const key = "${"42".repeat(32)}";
    const typedData = {
      domain: { name: "T", version: "1", chainId: 1 },
      types: { M: [{ name: "n", type: "uint256" }] },
      primaryType: "M",
      message: { n: 7n },
    };
    const sig = await answerSignerRequest(hexToBytes(key), { op: "signTypedData", typedData });
    const viem = await privateKeyToAccount("0x" + key).signTypedData(typedData);
    console.log(JSON.stringify([loadNativeEvmSigner() === null, sig === viem]));
  `;
  assertEquals(JSON.parse(await runDenyingFfi(script)), [true, true]);
  // The same typed data with FFI: the native signer, the same bytes.
  const sig = await answerSignerRequest(hexToBytes("42".repeat(32)), {
    op: "signTypedData",
    typedData: {
      domain: { name: "T", version: "1", chainId: 1 },
      types: { M: [{ name: "n", type: "uint256" }] },
      primaryType: "M",
      message: { n: 7n },
    },
  });
  assertEquals(
    sig,
    await privateKeyToAccount(`0x${"42".repeat(32)}`).signTypedData({
      domain: { name: "T", version: "1", chainId: 1 },
      types: { M: [{ name: "n", type: "uint256" }] },
      primaryType: "M",
      message: { n: 7n },
    }),
  );
});
