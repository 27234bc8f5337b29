/**
 * Test helper run as a separate process by tests/interop/anvil_town_payout_test.ts, so it can
 * be killed with SIGKILL while it holds the town's claims unsubmitted: the provider "beta" on
 * the town's BTP link, fulfilling the invoices `sha256("invoice <n>")` and keeping the town's
 * payout claims (roles/channels/payout_receiver.ts) in its state dir, printing `kept <amount>` per claim.
 *
 * Arguments: one JSON object `{ url, townPubkey, stateDir, secretKey, rpcUrl, tokenAddress,
 * tokenNetworkAddress }`.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { hexToBytes } from "viem";
import { resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { PayoutReceiver } from "../../roles/channels/payout_receiver.ts";
import { BtpClient } from "../../transport/btp_client.ts";

/** Arguments of the process. */
export interface PayoutReceiverProcessArgs {
  url: string;
  townPubkey: string;
  stateDir: string;
  secretKey: `0x${string}`;
  rpcUrl: string;
  tokenAddress: `0x${string}`;
  tokenNetworkAddress: `0x${string}`;
}

/**
 * The fulfillment of invoice `n` (the process and the test agree on it).
 *
 * @example
 * ```ts
 * import { sha256 } from "@noble/hashes/sha2.js";
 *
 * const condition = sha256(invoiceSecret(3));
 * ```
 */
export function invoiceSecret(n: number): Uint8Array {
  return sha256(new TextEncoder().encode(`invoice ${n}`));
}

if (import.meta.main) {
  const args = JSON.parse(Deno.args[0]) as PayoutReceiverProcessArgs;
  const chain = resolveChainConfig("evm:base:31337", {
    overrides: {
      rpcUrl: args.rpcUrl,
      tokenAddress: args.tokenAddress,
      tokenNetworkAddress: args.tokenNetworkAddress,
    },
  });
  const client = new TokenNetworkClient({
    chain,
    account: localEvmAccount(hexToBytes(args.secretKey)),
  });
  const receiver = new PayoutReceiver({
    stateDir: args.stateDir,
    client,
    townPubkey: args.townPubkey,
    onKept: (record) => console.log(`kept ${record.received}`),
  });
  const secrets = new Map<string, Uint8Array>();
  for (let n = 0; n < 256; n++) secrets.set(sha256(invoiceSecret(n)).join(), invoiceSecret(n));
  const btp = new BtpClient({
    url: args.url,
    authToken: "beta-token",
    reconnect: false,
    onPrepare: (p) => {
      const secret = secrets.get(p.executionCondition.join());
      return secret ? { type: "fulfill", fulfillment: secret, data: new Uint8Array(0) } : {
        type: "reject",
        code: "F02",
        triggeredBy: "",
        message: "no such invoice",
        data: new Uint8Array(0),
      };
    },
    onClaim: async (claim) => void await receiver.take(claim),
  });
  await btp.connect();
  console.log("ready");
}
