/**
 * A town learns a channel a payer opened to it from the payer's first claim, on a real anvil
 * with the real contracts, over a real BTP socket: no channel configured, no `channel recover`,
 * no restart. Claims the town must not trust are rejected with their ILP code and reason and
 * leave nothing behind (no stored event, no channel file, no audit line): another chain or
 * contract, a channel that is not on chain, not the town's, closed, signed by someone who is
 * not a participant, or already paying for another account; unknown channels beyond an
 * account's budget are T05. A forged claim does not poison the real channel. After a restart
 * the learned channel still gates its account. The discovery's chain reads are counted: a bad
 * channel is read once, however often it is named.
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { chainSections } from "../../harness/chain_toml.ts";
import { claimTownConfig } from "../../harness/channel_town.ts";
import { deployContracts, increaseTime } from "../../chain/anvil.ts";
import { signClaim } from "../../chain/claim_signer.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { encodeClaim } from "../../protocol/payment_channel_claim.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { ChannelDiscovery } from "../../roles/town/channels/channel_discovery.ts";
import {
  openTownChannelGates,
  type TownChannelGates,
} from "../../roles/town/channels/town_channel_gates.ts";
import { startTownNode, type TownNode } from "../../roles/town/town_node.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../../roles/town_client/spsp_handshake.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { BtpClient } from "../../transport/btp_client.ts";

const DEPOSIT = 10_000_000n;
const CHAIN = "evm:base:31337";

/** The town: no configured channel, learning on the pair's chain; accounts alice and eve. */
async function startLearningTown(pair: ChannelPair, stateDir: string) {
  const gates = await openTownChannelGates({
    stateDir,
    peerChannels: [],
    chains: chainSections(pair),
    settlementChains: [CHAIN],
    signer: localNodeSigner(pair.bobKey),
    triggeredBy: () => "test.town",
    discoveryLimits: { perAccount: { capacity: 5, ratePerSecond: 1e-9 } },
  });
  const town = await startTownNode({
    config: {
      ...claimTownConfig({ stateDir }),
      peers: [{ account: "alice", token: "alice-token" }, { account: "eve", token: "eve-token" }],
    },
    secretKey: pair.bobKey,
    databasePath: ":memory:",
    claimGate: gates.claimGate,
    cosignDesk: gates.cosignDesk,
  });
  return { gates, town };
}

/** A BTP account of the town that writes paid notes, with whatever claim bytes it is given. */
async function connectAccount(town: TownNode, token: string) {
  const client = new BtpClient({
    url: `btp+ws://127.0.0.1:${town.btpPort}`,
    authToken: token,
    reconnect: false,
  });
  await client.connect();
  await client.fetchIldcp();
  const nostrKey = generateSecretKey();
  const grant = await requestSpspOverIlp({
    sender: client,
    townAddress: town.ilpAddress,
    townPubkey: town.pubkey,
    signer: localNodeSigner(nostrKey),
  });
  let n = 0;
  return {
    client,
    async write(claim?: Uint8Array): Promise<{ reply: IlpReply; amount: bigint }> {
      const event = finalizeEvent({
        kind: 1,
        created_at: Math.floor(Date.now() / 1000),
        tags: [],
        content: `${token} note ${n++}`,
      }, nostrKey) as NostrEvent;
      const { prepare } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
      const reply = await client.sendPrepare(prepare, claim ? { claimData: claim } : {});
      return { reply, amount: BigInt(prepare.amount) };
    },
  };
}

async function gitLog(dir: string): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, "log", "--format=%B"] }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("a town learns a payer's channel from its first claim; untrusted claims leave nothing (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "channel_discovery_" });
  let running: { gates: TownChannelGates; town: TownNode } | undefined;
  const clients: BtpClient[] = [];
  try {
    running = await startLearningTown(pair, dir);
    const { gates, town } = running;
    assertEquals(gates.learnsOn, [CHAIN]);
    assertEquals(gates.settlements, []);
    const alice = await connectAccount(town, "alice-token");
    const eve = await connectAccount(town, "eve-token");
    clients.push(alice.client, eve.client);
    const claimBy = (
      secretKey: Uint8Array,
      channelId: `0x${string}`,
      nonce: bigint,
      amount = 5_000n,
      over: Partial<{ chainId: number; tokenNetworkAddress: `0x${string}` }> = {},
    ) =>
      signClaim({
        account: localEvmAccount(secretKey),
        chainId: pair.chain.chainId,
        tokenNetworkAddress: pair.alice.tokenNetworkAddress,
        tokenAddress: pair.alice.tokenAddress,
        channelId,
        nonce,
        transferredAmount: amount,
        ...over,
      }).then(encodeClaim);
    const expectRejected = async (
      who: typeof alice,
      claim: Uint8Array,
      code: string,
      reason: string,
      words: string,
    ) => {
      const stored = await town.store.size();
      const { reply } = await who.write(claim);
      assert(reply.type === "reject", `expected ${reason}, got ${reply.type}`);
      assertEquals(reply.code, code, reply.message);
      assertStringIncludes(reply.message, `payment channel claim rejected (${reason})`);
      assertStringIncludes(reply.message, words);
      assertEquals(await town.store.size(), stored, "nothing stored");
    };
    const noFile = async (id: string) =>
      assert(
        !(await Deno.stat(channelFilePath(dir, id)).then(() => true, () => false)),
        `no channel file for ${id}`,
      );

    // Before any channel, the account is trusted as configured: a packet without a claim passes.
    assertEquals((await alice.write()).reply.type, "fulfill");

    const nowhere = `0x${"5a".repeat(32)}` as const;
    await expectRejected(
      alice,
      await claimBy(pair.aliceKey, nowhere, 1n, 5_000n, { chainId: 84532 }),
      "F00",
      "wrong-chain",
      "it settles on: evm:base:31337",
    );
    const other = await deployContracts({ rpcUrl: pair.anvil.rpcUrl });
    await expectRejected(
      alice,
      await claimBy(pair.aliceKey, nowhere, 1n, 5_000n, {
        tokenNetworkAddress: other.tokenNetworkAddress,
      }),
      "F00",
      "wrong-contract",
      pair.bob.tokenNetworkAddress,
    );
    await expectRejected(
      alice,
      await claimBy(pair.aliceKey, nowhere, 1n),
      "F00",
      "unknown-channel",
      "does not exist on chain",
    );
    await noFile(nowhere);

    // A channel of alice's with someone else.
    const carol = new TokenNetworkClient({
      chain: pair.chain,
      account: localEvmAccount(generateSecretKey()),
    });
    const notOurs = await pair.alice.openChannel({
      partner: carol.address,
      deposit: 1_000_000n,
      settleTimeout: 600n,
    });
    await expectRejected(
      alice,
      await claimBy(pair.aliceKey, notOurs.channelId, 1n),
      "F00",
      "unknown-channel",
      "is not with this town",
    );
    await noFile(notOurs.channelId);

    // A channel to the town that alice closed before claiming on it.
    const closed = await pair.alice.openChannel({
      partner: pair.bob.address,
      deposit: DEPOSIT,
      settleTimeout: 600n,
    });
    await pair.alice.closeChannel(closed.channelId);
    await expectRejected(
      alice,
      await claimBy(pair.aliceKey, closed.channelId, 1n),
      "F00",
      "channel-not-open",
      "closed on chain",
    );
    await noFile(closed.channelId);
    await increaseTime(pair.anvil.rpcUrl, 601);
    await pair.alice.settleChannel(closed.channelId);

    // The real channel: a claim forged by someone else first, then alice's own.
    const opened = await pair.alice.openChannel({
      partner: pair.bob.address,
      deposit: DEPOSIT,
      settleTimeout: 600n,
    });
    const id = opened.channelId;
    await expectRejected(
      alice,
      await claimBy(generateSecretKey(), id, 1n),
      "F00",
      "bad-signature",
      "not a participant",
    );
    await noFile(id);
    assertEquals(gates.gate("alice"), undefined);
    assert(!(await gitLog(dir)).includes("learned"), "no audit line for a refused claim");

    const first = await alice.write(await claimBy(pair.aliceKey, id, 1n, 5_000n));
    assertEquals(
      first.reply.type,
      "fulfill",
      first.reply.type === "reject" ? first.reply.message : "",
    );
    const file = await readChannel(channelFilePath(dir, id));
    assertEquals(file.btpAccount, "alice");
    assertEquals([file.status, file.peerDeposit, file.received, file.receivedNonce], [
      "open",
      DEPOSIT,
      5_000n,
      1n,
    ]);
    assertEquals(file.peerAddress.toLowerCase(), pair.alice.address.toLowerCase());
    assertEquals(gates.gate("alice")?.record().channelId, id);

    // Now the account is gated: beyond its claims it is refused.
    const uncovered = await alice.write();
    assert(uncovered.reply.type === "reject");
    assertEquals(uncovered.reply.code, "T04");
    // The channel pays for alice only.
    await expectRejected(
      eve,
      await claimBy(pair.aliceKey, id, 2n, 50_000n),
      "F00",
      "channel-in-use",
      "another account",
    );
    assertEquals(
      (await readChannel(channelFilePath(dir, id))).receivedNonce,
      1n,
      "alice's file untouched",
    );

    // Unknown channels named by one account: remembered ones cost nothing, new ones its budget.
    for (let i = 0; i < 3; i++) {
      await expectRejected(
        eve,
        await claimBy(pair.aliceKey, nowhere, 1n),
        "F00",
        "unknown-channel",
        "does not exist on chain",
      );
    }
    for (let i = 1; i <= 5; i++) {
      const fresh = `0x${i.toString(16).padStart(64, "0")}` as const;
      await expectRejected(
        eve,
        await claimBy(pair.aliceKey, fresh, 1n),
        "F00",
        "unknown-channel",
        "does not exist",
      );
    }
    await expectRejected(
      eve,
      await claimBy(pair.aliceKey, `0x${"77".repeat(32)}`, 1n),
      "T05",
      "rate-limited",
      "account eve",
    );

    await gates.close();
    const history = await gitLog(dir);
    assertStringIncludes(history, `turnpike: payment channel ${id} learned`);
    assertStringIncludes(history, "Account: alice");
    for (const refused of [nowhere, notOurs.channelId, closed.channelId]) {
      assert(!history.includes(refused), `nothing recorded about ${refused}`);
    }

    // A restart: the learned channel is restored from its file and gates alice at once.
    for (const c of clients.splice(0)) await c.close();
    await town.stop();
    running = undefined;
    running = await startLearningTown(pair, dir);
    const [restored] = running.gates.settlements;
    assertEquals([restored?.account, restored?.channelId, restored?.learned], ["alice", id, true]);
    const again = await connectAccount(running.town, "alice-token");
    clients.push(again.client);
    const unpaid = await again.write();
    assert(unpaid.reply.type === "reject");
    assertEquals(unpaid.reply.code, "T04");
    const paid = await again.write(
      await claimBy(pair.aliceKey, id, 2n, 5_000n + first.amount + 20_000n),
    );
    assertEquals(
      paid.reply.type,
      "fulfill",
      paid.reply.type === "reject" ? paid.reply.message : "",
    );
  } finally {
    for (const c of clients) await c.close();
    if (running) {
      await running.town.stop();
      await running.gates.close();
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("discovery: a bad channel is read on chain once however often it is named (anvil)", async () => {
  await using pair = await startChannelPair();
  let reads = 0;
  const counted = new Proxy(pair.bob, {
    get(target, prop) {
      if (prop === "getChannel") {
        return (id: `0x${string}`) => {
          reads++;
          return target.getChannel(id);
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  let now = 0;
  const discovery = new ChannelDiscovery({
    selfAddress: pair.bob.address,
    chains: [counted],
    limits: { perAccount: { capacity: 2, ratePerSecond: 0.1 } },
    now: () => now,
  });
  const claim = (channelId: `0x${string}`) =>
    signClaim({
      account: localEvmAccount(pair.aliceKey),
      chainId: pair.chain.chainId,
      tokenNetworkAddress: pair.alice.tokenNetworkAddress,
      tokenAddress: pair.alice.tokenAddress,
      channelId,
      nonce: 1n,
      transferredAmount: 1n,
    });
  const reason = (p: Promise<unknown>) =>
    p.then(() => "accepted", (err) => (err as { reason?: string }).reason ?? String(err));
  const bad = `0x${"ba".repeat(32)}` as const;
  for (let i = 0; i < 5; i++) {
    assertEquals(await reason(discovery.verify("alice", await claim(bad))), "unknown-channel");
  }
  assertEquals(reads, 1, "remembered after the first read");
  assertEquals(
    await reason(discovery.verify("alice", await claim(`0x${"bb".repeat(32)}`))),
    "unknown-channel",
  );
  assertEquals(
    await reason(discovery.verify("alice", await claim(`0x${"bc".repeat(32)}`))),
    "rate-limited",
  );
  assertEquals(reads, 2, "a refused budget costs no read");
  now += 60_001; // remembered for a minute; the budget refills one read per 10 s
  assertEquals(await reason(discovery.verify("alice", await claim(bad))), "unknown-channel");
  assertEquals(reads, 3);
  // A real channel, verified: its first record.
  const { channelId } = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit: DEPOSIT,
    settleTimeout: 600n,
  });
  const { record } = await discovery.verify("alice", await claim(channelId));
  assertEquals([record.channelId, record.status, record.peerDeposit, record.btpAccount], [
    channelId.toLowerCase(),
    "open",
    DEPOSIT,
    "alice",
  ]);
  assertEquals(record.selfAddress.toLowerCase(), pair.bob.address.toLowerCase());
});
