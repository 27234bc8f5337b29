/**
 * A peer without a payment channel has bounded credit (roles/town/btp/peer_credit_gate.ts):
 * anvil, the real contracts, a real town with payouts to its provider "beta", real BTP sockets.
 * The child (a BTP peer with no channel, as a child town is) sends beta payments through the
 * town. With no credit granted (the default on a town that settles on a chain) every packet with
 * value is refused T04, beta is owed nothing and the town's wallet is unchanged after its
 * payouts run; with 5,000 granted, two packets of 2,500 go through and the third is refused,
 * also after a restart of the town. Alice, who pays over her channel, is served throughout.
 * Before, the town forwarded every packet and paid beta on chain from its own deposit.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair, startGasOnlyParty } from "../../harness/anvil_channel_pair.ts";
import {
  claimTownConfig,
  claimTownContact,
  connectClaimClient,
} from "../../harness/channel_town.ts";
import { openPairChannel, savePairChannel } from "../../harness/pair_channel.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { openAuditLog } from "../../state/audit/audit_log.ts";
import { openChannelClaimGate } from "../../roles/channels/btp_claim_gate.ts";
import { startTownNode, type TownNode } from "../../roles/town/town_node.ts";
import { TownPayouts } from "../../roles/town/channels/peer_payout.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import type { BtpClient } from "../../transport/btp_client.ts";
import { invoicePeers } from "../../harness/invoice_peers.ts";

const PRICE = 2_500n;

Deno.test("a peer without a channel spends only its credit; the town pays out nothing else (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "town_credit_" });
  const { client: beta } = await startGasOnlyParty(pair);
  const channel = await openPairChannel(pair, { deposit: 1_000_000n });
  await savePairChannel(channel, { townDir: `${dir}/town`, aliceDir: `${dir}/alice` });
  const townStart = await pair.bob.tokenBalance();
  const audit = await openAuditLog({ dir: `${dir}/town` });
  const gate = openChannelClaimGate({
    stateDir: `${dir}/town`,
    record: channel.townRecord,
    audit,
    readChannel: (id) => pair.bob.getChannel(id),
    triggeredBy: () => "test.town",
  });
  const townLog: string[] = [];

  /** The town with `childCredit` granted to the child (undefined: the town's default, 0). */
  const startTown = async (childCredit?: bigint) => {
    const config = claimTownConfig({ stateDir: `${dir}/town` });
    config.peers.push({ account: "beta", token: "beta-token" });
    config.peers.push({ account: "child", token: "child-token", creditLimit: childCredit });
    // What config/town_settings.ts resolves for a town that settles on a chain.
    config.peerCreditLimit = 0n;
    const hooks: { payouts?: TownPayouts } = {};
    const town = await startTownNode({
      config,
      secretKey: pair.bobKey,
      databasePath: ":memory:",
      claimGate: (account) => account === "alice" ? gate : undefined,
      hasChannel: (account) => account === "alice",
      onOwed: (balance) => hooks.payouts?.owed(balance),
      log: (line) => townLog.push(line),
    });
    const payouts = hooks.payouts = new TownPayouts({
      stateDir: `${dir}/town`,
      audit,
      ledger: town.ledger,
      signer: localNodeSigner(pair.bobKey),
      client: pair.bob,
      // Any debt is paid at once: before, the child's payments were paid on chain.
      policy: { threshold: 1n, intervalMs: 3_600_000 },
      deposit: 200_000n,
      peerAddress: (account) => account === "beta" ? beta.address : undefined,
      send: async (account, claim) => {
        const peer = town.peer(account);
        if (!peer) throw new Error(`${account} is not connected`);
        await peer.sendClaim(claim, 10_000);
      },
      log: (line) => townLog.push(line),
    });
    return { town, payouts };
  };

  // Beta fulfils every invoice made for it.
  const peers = invoicePeers();
  const connect = (town: TownNode, token: string) =>
    peers.connect({ url: claimTownContact(town).url, authToken: token });
  const pay = (from: BtpClient): Promise<IlpReply> => peers.pay(from, "beta", PRICE);
  const codes = (replies: IlpReply[]) =>
    replies.map((r) => r.type === "fulfill" ? "fulfill" : r.code);

  // No credit: every packet with value is refused, beta is owed nothing, nothing is paid out.
  let { town, payouts } = await startTown();
  let betaLink = await connect(town, "beta-token");
  let child = await connect(town, "child-token");
  const alice = await connectClaimClient({
    ...claimTownContact(town),
    stateDir: `${dir}/alice`,
    secretKey: pair.aliceKey,
    record: channel.aliceRecord,
  });
  try {
    const refused = await Promise.all(Array.from({ length: 5 }, () => pay(child)));
    assertEquals(codes(refused), ["T04", "T04", "T04", "T04", "T04"]);
    const first = refused[0];
    if (first.type === "reject") {
      assertStringIncludes(first.message, "has no payment channel here and has spent 0");
    }
    // Alice pays over her channel: served.
    assertEquals((await alice.write(alice.sign("a paid note"))).reply.type, "fulfill");
    assertEquals(town.ledger.balance("beta").owed, 0n);
    // Payouts run after each FULFILL owed to beta (threshold 1): none came, no channel opened.
    assertEquals(townLog.filter((l) => l.startsWith("payout")), []);
    assertEquals(await pair.bob.tokenBalance(), townStart);
  } finally {
    await alice.close();
    await child.close();
    await betaLink.close();
    await payouts.close();
    await town.stop();
  }

  // 5,000 granted: two payments of 2,500 pass, the third is refused, and after a restart too.
  ({ town, payouts } = await startTown(5_000n));
  betaLink = await connect(town, "beta-token");
  child = await connect(town, "child-token");
  try {
    const replies = [await pay(child), await pay(child), await pay(child)];
    assertEquals(codes(replies), ["fulfill", "fulfill", "T04"]);
    assertEquals(town.ledger.balance("beta").owed, 2n * PRICE);
  } finally {
    await child.close();
    await betaLink.close();
    await payouts.close();
    await town.stop();
  }
  ({ town, payouts } = await startTown(5_000n));
  betaLink = await connect(town, "beta-token");
  child = await connect(town, "child-token");
  try {
    assertEquals(codes([await pay(child)]), ["T04"]);
    assertEquals(town.ledger.balance("beta").owed, 2n * PRICE);
  } finally {
    await child.close();
    await betaLink.close();
    await payouts.close();
    await town.stop();
  }
  await gate.writer.durable().catch(() => {});
  await audit.close();
});
