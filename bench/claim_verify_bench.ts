/**
 * The receiving side's per-claim signature check (chain/claim_verifier.ts), one signer signing
 * many balance proofs (a BTP peer's claims), candidates side by side in one run:
 *
 * - `recover`: fixed-layout EIP-712 digest + noble public-key recovery + address compare (what
 *   the verifier did for every claim before);
 * - `noble verify`: digest + noble's ECDSA `verify` against the cached public key bytes
 *   ("recovered" format, so v is bound too), no tables;
 * - `signer key wN`: digest + {@linkcode BalanceProofSignerKey}: verification with both
 *   multiplications from wNAF tables of window N (the generator's and the cached key's);
 * - `signer key, the system's libsecp256k1`: digest + libsecp256k1's recovery through FFI
 *   (chain/native_ecdsa_recover.ts) + compare with the cached key, what the town runs where it
 *   loads;
 * - `signer key wN setup`: building a key and its first check (its tables), paid once per peer
 *   (the generator's tables are built once per process, before the timing).
 *
 *     deno bench -A bench/claim_verify_bench.ts
 */
import { localEvmAccount } from "../identity/local_evm_account.ts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hexToBytes } from "viem";
import {
  balanceProofDigest,
  recoverBalanceProofSignerFast,
  recoverBalanceProofSignerKey,
  signBalanceProof,
} from "../chain/balance_proof.ts";
import { BalanceProofSignerKey } from "../chain/balance_proof_signer_key.ts";

const PROOFS = 200;
const secretKey = crypto.getRandomValues(new Uint8Array(32));
const domain = {
  chainId: 31337,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const,
};
const channelId = `0x${"ab".repeat(32)}` as const;
const proofs = Array.from({ length: PROOFS }, (_, i) => ({
  channelId,
  nonce: BigInt(i + 1),
  transferredAmount: BigInt(i + 1) * 4_000n,
}));
const sigs = await Promise.all(
  proofs.map((p) => signBalanceProof(p, { account: localEvmAccount(secretKey), domain })),
);
const { address, publicKey } = recoverBalanceProofSignerKey(proofs[0], sigs[0], domain);
const recoveredForm = sigs.map((hex) => {
  const b = hexToBytes(hex);
  const out = new Uint8Array(65);
  out[0] = b[64] - 27;
  out.set(b.subarray(0, 64), 1);
  return out;
});

let i = 0;
function next(): number {
  i = (i + 1) % PROOFS;
  return i;
}

function check(ok: boolean): void {
  if (!ok) throw new Error("a valid proof was refused");
}

Deno.bench("recover (digest + noble recoverPublicKey + compare)", { baseline: true }, () => {
  const k = next();
  check(recoverBalanceProofSignerFast(proofs[k], sigs[k], domain) === address);
});

Deno.bench("noble verify, cached key bytes, no tables", () => {
  const k = next();
  check(
    secp256k1.verify(recoveredForm[k], balanceProofDigest(proofs[k], domain), publicKey, {
      prehash: false,
      format: "recovered",
    }),
  );
});

{
  const key = new BalanceProofSignerKey(publicKey);
  check(key.verifies(proofs[0], sigs[0], domain));
  Deno.bench("signer key, the system's libsecp256k1 (FFI recovery + compare)", () => {
    const k = next();
    check(key.verifies(proofs[k], sigs[k], domain));
  });
}

for (const windowSize of [4, 6, 7, 8, 10]) {
  const key = new BalanceProofSignerKey(publicKey, { windowSize, native: false });
  check(key.verifies(proofs[0], sigs[0], domain)); // tables built outside the timing
  Deno.bench(`signer key w${windowSize} (tables for G and Q)`, () => {
    const k = next();
    check(key.verifies(proofs[k], sigs[k], domain));
  });
}

for (const windowSize of [6, 8]) {
  Deno.bench(
    `signer key w${windowSize} setup (new key, its tables, first check)`,
    { n: 20 },
    () => {
      const other = crypto.getRandomValues(new Uint8Array(32));
      const key = new BalanceProofSignerKey(secp256k1.getPublicKey(other, false), {
        windowSize,
        native: false,
      });
      key.verifies(proofs[0], sigs[0], domain);
    },
  );
}
