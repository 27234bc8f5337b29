/**
 * The entry module of the short-lived Worker that unlocks a wallet for a worker signer
 * (identity/worker_node_signer.ts): started with no permissions, it opens the wallet (Argon2id
 * through hash-wasm, BIP-39/32), sends the key's bytes on the `MessagePort` it is given, straight
 * to the signer's worker (the caller's thread never holds them), answers its host with the public
 * identity, and is then terminated. Argon2id's 64 MiB of WebAssembly memory, the wallet code and
 * nostr-tools go with its isolate instead of staying in the signer's for as long as the node
 * runs (docs/OPERATIONS.md "Memory").
 *
 * @module
 */
import { inWorker, serveWorker } from "../transport/worker_service.ts";
import { unlockWallet } from "./wallet.ts";
import type { WalletRecord } from "./wallet_file.ts";

/** The one request the unlocking worker takes. */
export interface WalletUnlockRequest {
  wallet: WalletRecord;
  passphrase: string;
  /** Where the key's bytes go: the other end is the signer's worker. */
  port: MessagePort;
}

/** Its answer: the unlocked key's public names (the key itself went on the port). */
export interface WalletUnlocked {
  pubkey: string;
  evmAddress: `0x${string}`;
}

async function unlock(request: WalletUnlockRequest): Promise<WalletUnlocked> {
  const { secretKey, identity } = await unlockWallet(request.wallet, request.passphrase);
  // Transferred: this isolate's copy is detached, and the isolate ends next.
  request.port.postMessage({ secretKey }, [secretKey.buffer as ArrayBuffer]);
  request.port.close();
  return { pubkey: identity.pubkey, evmAddress: identity.evmAddress };
}

if (inWorker()) serveWorker({ onRequest: unlock });
