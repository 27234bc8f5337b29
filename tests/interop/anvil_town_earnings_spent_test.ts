/**
 * A provider's earnings are spent once (state/payments/peer_credit.ts `payOut`, docs/PROTOCOL.md "Credit
 * without a channel"): anvil, the real contracts, a real town paying its peers out over payout
 * channels, real BTP sockets. A channel-less "child" with credit pays the provider "beta"
 * 1,000,000 through the town, and the town pays beta out on chain. Beta then sends 10 x 100,000
 * with no claim through the town to an accomplice, "mallory", whom the town also pays out.
 * Before, beta's credit was its grant plus everything the town had ever owed it, a figure that
 * never went down with a payout: all ten were fulfilled and the town signed mallory claims for
 * 1,000,000 on top of beta's, 2X out for X in. Now a payout is spent: the ten are refused T04;
 * what beta spends before a payout is not paid out to it; the town's claims add up to what the
 * child put in, also after a restart of the town.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import { claimTownConfig, claimTownContact } from "../../harness/channel_town.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { startTownNode, type TownNode } from "../../roles/town/town_node.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import { invoicePeers } from "../../harness/invoice_peers.ts";

Deno.test("a provider's earnings paid out on chain are not spent again through the town (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "town_earnings_" });
  const [{ client: beta }, { client: mallory }] = [
    await startGasOnlyParty(pair),
    await startGasOnlyParty(pair),
  ];
  const townStart = await pair.bob.tokenBalance();
  const audit = await openAuditLog({ dir: `${dir}/town` });
  const townLog: string[] = [];
  const addresses: Record<string, `0x${string}`> = {
    beta: beta.address,
    mallory: mallory.address,
  };

  const startTown = async () => {
    const config = claimTownConfig({ stateDir: `${dir}/town` });
    config.peers.push({ account: "child", token: "child-token", creditLimit: 2_000_000n });
    config.peers.push({ account: "beta", token: "beta-token" });
    config.peers.push({ account: "mallory", token: "mallory-token" });
    // What `chain up` writes for a town that pays its providers: no credit but their earnings.
    config.peerCreditLimit = 0n;
    const hooks: { payouts?: TownPayouts } = {};
    const town = await startTownNode({
      config,
      secretKey: pair.bobKey,
      databasePath: ":memory:",
      hasChannel: () => false,
      onOwed: (balance) => hooks.payouts?.owed(balance),
      log: (line) => townLog.push(line),
    });
    const payouts = hooks.payouts = new TownPayouts({
      stateDir: `${dir}/town`,
      audit,
      ledger: town.ledger,
      credit: town.credit,
      signer: localNodeSigner(pair.bobKey),
      client: pair.bob,
      // Paid when the test asks (payNow), so the order of payouts and spending is the test's.
      policy: { threshold: 10n ** 18n, intervalMs: 3_600_000 },
      deposit: 5_000_000n,
      peerAddress: (account) => addresses[account],
      send: async (account, claim) => {
        const peer = town.peer(account);
        if (!peer) throw new Error(`${account} is not connected`);
        await peer.sendClaim(claim, 10_000);
      },
      log: (line) => townLog.push(line),
    });
    return { town, payouts };
  };

  // Every peer fulfils the invoices made for it.
  const peers = invoicePeers();
  const connect = (town: TownNode, token: string) =>
    peers.connect({ url: claimTownContact(town).url, authToken: token });
  const pay = peers.pay;
  const codes = async (replies: Promise<IlpReply>[]) =>
    (await Promise.all(replies)).map((r) => r.type === "fulfill" ? "fulfill" : r.code);
  const times = <T>(n: number, f: () => T) => Array.from({ length: n }, f);
  const claimed = new Map<string, bigint>();
  const payNow = async (payouts: TownPayouts, account: string) => {
    const claim = await payouts.payNow(account);
    if (claim) claimed.set(account, claim.transferredAmount);
    return claim?.transferredAmount;
  };

  let { town, payouts } = await startTown();
  let links = await Promise.all(
    ["child-token", "beta-token", "mallory-token"].map((t) => connect(town, t)),
  );
  try {
    const [child, betaLink] = links;
    // The child pays beta 1,000,000; the town pays beta that on chain.
    assertEquals(
      await codes(times(4, () => pay(child, "beta", 250_000n))),
      times(4, () => "fulfill"),
    );
    assertEquals(town.ledger.balance("beta").owed, 1_000_000n);
    assertEquals(await payNow(payouts, "beta"), 1_000_000n);
    // Beta spends those earnings again, to mallory: refused, nothing owed to mallory.
    assertEquals(
      await codes(times(10, () => pay(betaLink, "mallory", 100_000n))),
      times(10, () => "T04"),
    );
    assertEquals(town.ledger.balance("mallory").owed, 0n);
    assertEquals(await payNow(payouts, "mallory"), undefined);
    // Earnings not paid out yet may be spent: the payout then pays only what is left.
    assertEquals(await codes([pay(child, "beta", 500_000n)]), ["fulfill"]);
    assertEquals(
      await codes(times(3, () => pay(betaLink, "mallory", 100_000n))),
      times(3, () => "fulfill"),
    );
    assertEquals(await payNow(payouts, "beta"), 1_200_000n);
    assertEquals(await payNow(payouts, "mallory"), 300_000n);
    assertEquals(await codes([pay(betaLink, "mallory", 1n)]), ["T04"]);
  } finally {
    await Promise.all(links.map((l) => l.close()));
    await payouts.close();
    await town.stop();
  }

  // After a restart: the same books, nothing more to spend, nothing more to pay.
  ({ town, payouts } = await startTown());
  links = await Promise.all(["beta-token", "mallory-token"].map((t) => connect(town, t)));
  try {
    assertEquals(await codes([pay(links[0], "mallory", 100_000n)]), ["T04"]);
    assertEquals(await payNow(payouts, "beta"), undefined);
    assertEquals(await payNow(payouts, "mallory"), undefined);
  } finally {
    await Promise.all(links.map((l) => l.close()));
    await payouts.close();
    await town.stop();
  }
  // The town's claims add up to what the child put in (1,500,000), not 2X; its wallet gave only
  // the two payout deposits to the contract, from which the claims are paid.
  assertEquals([...claimed.values()].reduce((a, b) => a + b, 0n), 1_500_000n);
  assertEquals(townStart - await pair.bob.tokenBalance(), 2n * 5_000_000n);
  await audit.close();
});
