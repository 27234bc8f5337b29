/**
 * What a claim's signature costs on the signing thread (docs/SCALE.md "Claims signed natively"):
 * viem's `signTypedData` of a balance proof (its typed-data hash, then @noble/curves), against
 * what a node with FFI does now (identity/signer_request_answer.ts): the digest over the claim's
 * fixed layout (protocol/balance_proof_digest.ts), then libsecp256k1
 * (identity/native_evm_signer.ts). Same digests, same key, rounds alternating.
 *
 *     deno run -A bench/evm_sign_bench_script.ts [--count 2000] [--rounds 3]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { privateKeyToAccount } from "viem/accounts";
import { signBalanceProof } from "../chain/balance_proof.ts";
import { answerSignerRequest } from "../identity/signer_request_answer.ts";
import { loadNativeEvmSigner } from "../identity/native_evm_signer.ts";

const flags = parseBenchFlags(Deno.args, {
  values: ["count", "rounds"],
  switches: [],
  usage: "Usage: deno run -A bench/evm_sign_bench_script.ts [--count 2000] [--rounds 3]",
});
const count = Number(flags.values.count ?? 2000);
const rounds = Number(flags.values.rounds ?? 3);
if (loadNativeEvmSigner() === null) {
  console.error("Error: libsecp256k1 cannot be used here (FFI not allowed, or no library)");
  Deno.exit(1);
}

const secretKey = crypto.getRandomValues(new Uint8Array(32));
const account = privateKeyToAccount(`0x${bytesToHex(secretKey)}`);
const domain = { chainId: 31337, verifyingContract: `0x${"cd".repeat(20)}` as const };
const channelId = `0x${"ab".repeat(32)}` as const;
const proof = (nonce: number) => ({ channelId, nonce: BigInt(nonce), transferredAmount: 10n });

/** viem's own account, as a node signed before. */
async function viemOnce(nonce: number): Promise<string> {
  return await signBalanceProof(proof(nonce), { account, domain });
}

/** The signer's answer on the calling thread, as a node signs now. */
async function answerOnce(nonce: number): Promise<string> {
  const signTypedData = async (typedData: unknown) =>
    await answerSignerRequest(secretKey, {
      op: "signTypedData",
      typedData: typedData as never,
    }) as `0x${string}`;
  return await signBalanceProof(proof(nonce), {
    account: { ...account, signTypedData } as typeof account,
    domain,
  });
}

async function timed(fn: (nonce: number) => Promise<string>, base: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn(base + i);
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b);
}

const at = (sorted: number[], q: number) => sorted[Math.floor((sorted.length - 1) * q)];
// Both must give the same signature: the bench measures one result two ways.
for (let n = 1; n <= 20; n++) {
  if (await viemOnce(n) !== await answerOnce(n)) throw new Error(`signatures differ at nonce ${n}`);
}
await timed(viemOnce, 1e6); // warm up both
await timed(answerOnce, 2e6);
console.log(`${count} claim signatures a round, ${rounds} rounds, p50 / p99 ms a signature`);
for (let r = 0; r < rounds; r++) {
  const viem = await timed(viemOnce, r * 10 * count);
  const native = await timed(answerOnce, r * 10 * count + count);
  console.log(
    `round ${r + 1}: viem ${at(viem, 0.5).toFixed(3)} / ${at(viem, 0.99).toFixed(3)}; ` +
      `native ${at(native, 0.5).toFixed(3)} / ${at(native, 0.99).toFixed(3)}; ` +
      `ratio ${(at(viem, 0.5) / at(native, 0.5)).toFixed(1)}x`,
  );
}
