/**
 * Test helper process: a town's payouts (roles/town/channels/peer_payout.ts `TownPayouts`, or
 * `SharedTownPayouts` with a store URL) owing one provider, asked to pay it, and stopped for good
 * at the worst instant of the payout channel's open: mined on chain, its deposit not sent, no file
 * or row yet. It prints `opened <channel id>` on stdout there and waits to be SIGKILLed
 * (tests/interop/anvil_payout_open_crash_test.ts).
 *
 * Run: `deno run -A tests/support/payout_open_crash_child.ts '<json PayoutOpenCrashPlan>'`.
 *
 * @module
 */
import type { ChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { deriveNip06SecretKey } from "../../identity/nip06_key.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import { sharedBooksId, SharedTownPayouts } from "../../roles/town/channels/shared_payouts.ts";
import { openPostgresPayoutBooks } from "../../state/postgres/postgres_payout_books.ts";

/** What the child runs (JSON on its command line; amounts as decimal strings). */
export interface PayoutOpenCrashPlan {
  chain: ChainConfig;
  /** The town's key, as a NIP-06 mnemonic. */
  townMnemonic: string;
  stateDir: string;
  account: string;
  peerAddress: `0x${string}`;
  /** What the town owes the provider (one fulfilled packet), and its payout deposit. */
  owed: string;
  deposit: string;
  /** A two-process town's store: `SharedTownPayouts`; absent: `TownPayouts`. */
  storeUrl?: string;
}

if (import.meta.main) {
  const plan = JSON.parse(Deno.args[0]) as PayoutOpenCrashPlan;
  const key = deriveNip06SecretKey(plan.townMnemonic);
  const ledger = await openPeerLedger({ stateDir: plan.stateDir });
  const condition = "ab".repeat(32);
  await ledger.forward(plan.account, condition, BigInt(plan.owed));
  await ledger.fulfilled(plan.account, condition, "00".repeat(32));
  const options = {
    stateDir: plan.stateDir,
    ledger,
    signer: localNodeSigner(key),
    client: new TokenNetworkClient({ chain: plan.chain, account: localEvmAccount(key) }),
    policy: { threshold: 1n, intervalMs: 3_600_000 },
    deposit: BigInt(plan.deposit),
    peerAddress: (a: string) => a === plan.account ? plan.peerAddress : undefined,
    send: () => Promise.resolve(),
    afterOpenedForTests: async (channelId: `0x${string}`) => {
      await Deno.stdout.write(new TextEncoder().encode(`opened ${channelId}\n`));
      await new Promise(() => {}); // until SIGKILL
    },
  };
  const payouts = plan.storeUrl === undefined ? new TownPayouts(options) : await SharedTownPayouts
    .start({
      ...options,
      books: await openPostgresPayoutBooks({ url: plan.storeUrl }),
      booksId: await sharedBooksId(plan.stateDir),
      connectedHere: () => false,
    });
  await payouts.payNow(plan.account);
  console.error("payout open crash child: the open finished without its pause");
  Deno.exit(1);
}
