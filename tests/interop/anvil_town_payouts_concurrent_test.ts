/**
 * A town owing several providers at once opens their payout channels one after the other from
 * its one key (roles/town/channels/peer_payout.ts `TownPayouts`): on anvil, eight providers due
 * a payout in the same instant each get an open, funded channel and a claim for what they are
 * owed. The town's opens are three transactions each from the same account; sent side by side
 * they would share nonces and one approval (the scale harness's towns, docs/SCALE.md, hit it).
 */
import { generateSecretKey } from "nostr-tools";
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";

Deno.test("the town opens payout channels to eight providers due at once, each funded (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "town_payouts_concurrent_" });
  try {
    const ledger = await openPeerLedger({ stateDir: dir });
    const accounts = Array.from({ length: 8 }, (_, i) => `prov${i}`);
    const addresses = new Map(accounts.map((a) => [
      a,
      new TokenNetworkClient({ chain: pair.chain, account: localEvmAccount(generateSecretKey()) })
        .address,
    ]));
    // Each provider was forwarded one paid packet, fulfilled: the town owes it 5,000.
    for (const [i, a] of accounts.entries()) {
      const condition = (i + 1).toString(16).padStart(64, "0");
      await ledger.forward(a, condition, 5_000n);
      await ledger.fulfilled(a, condition, "00".repeat(32));
    }
    const delivered: string[] = [];
    const payouts = new TownPayouts({
      stateDir: dir,
      ledger,
      signer: localNodeSigner(pair.bobKey),
      client: pair.bob,
      policy: { threshold: 1_000n, intervalMs: 3_600_000 },
      deposit: 100_000n,
      peerAddress: (a) => addresses.get(a),
      // Not a peer: the claims are checked on the ledger and the chain below.
      send: (a) => Promise.resolve(void delivered.push(a)),
    });
    const claims = await Promise.allSettled(accounts.map((a) => payouts.payNow(a)));
    await payouts.close();
    assertEquals(
      claims.map((c) => c.status === "fulfilled" ? String(c.value?.transferredAmount) : c.reason),
      accounts.map(() => "5000"),
    );
    for (const a of accounts) {
      const b = ledger.balance(a);
      assertEquals([b.owed, b.claimed, b.payoutDeposit], [5_000n, 5_000n, 100_000n]);
      const onChain = await pair.bob.getChannel(b.payoutChannel as `0x${string}`);
      assertEquals(onChain.state, "opened");
      assertEquals(onChain.participants[pair.bob.address.toLowerCase()]?.deposit, 100_000n);
    }
    assertEquals(delivered.sort(), [...accounts].sort());
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
