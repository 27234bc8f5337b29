/**
 * The entry of the short-lived process that unlocks a wallet for a town's key worker
 * (identity/wallet_unlock_process.ts starts it, `deno run` with no permissions): reads one
 * {@linkcode WalletUnlockProcessRequest} as JSON on stdin, opens the wallet (Argon2id through
 * hash-wasm, BIP-39/32, the check against the wallet's pubkey), seals the key to the worker's
 * X25519 key (identity/sealed_key.ts), writes one {@linkcode WalletUnlockProcessAnswer} as JSON
 * on stdout and exits. Argon2id's 64 MiB of WebAssembly memory and the pages of Deno's binary its
 * compilers touch go with the process (docs/SCALE.md "An idle town's memory").
 *
 * No example that runs here: tests/unit/identity/wallet_unlock_process_test.ts.
 *
 * @module
 */
import type { WalletRecord } from "./wallet_file.ts";
import { type SealedKey, sealKey } from "./sealed_key.ts";
import { unlockWallet } from "./wallet.ts";

/** What the process reads on stdin. */
export interface WalletUnlockProcessRequest {
  wallet: WalletRecord;
  passphrase: string;
  /** The key worker's X25519 public key, base64: the key is sealed to it. */
  recipient: string;
}

/** What the process writes on stdout: the key sealed and its public names, or the failure. */
export type WalletUnlockProcessAnswer =
  | { ok: true; pubkey: string; evmAddress: `0x${string}`; sealed: SealedKey }
  | { ok: false; error: { name: string; message: string } };

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

async function answer(request: WalletUnlockProcessRequest): Promise<WalletUnlockProcessAnswer> {
  const { secretKey, identity } = await unlockWallet(request.wallet, request.passphrase);
  const recipient = Uint8Array.from(atob(request.recipient), (c) => c.charCodeAt(0));
  const sealed = await sealKey(secretKey, recipient);
  secretKey.fill(0);
  return { ok: true, pubkey: identity.pubkey, evmAddress: identity.evmAddress, sealed };
}

if (import.meta.main) {
  let out: WalletUnlockProcessAnswer;
  try {
    out = await answer(JSON.parse(await readAll(Deno.stdin.readable)));
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    out = { ok: false, error: { name: error.name, message: error.message } };
  }
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(out)));
  Deno.exit(out.ok ? 0 : 1);
}
