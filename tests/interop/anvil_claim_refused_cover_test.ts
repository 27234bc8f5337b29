/**
 * A claim the town refused (here T05: it reads channels it does not know yet at a bounded rate)
 * leaves the payer with no cover there: the next paid packet carries a claim again. Before, the
 * client counted the refused claim's value as surplus and sent the next packet with no claim,
 * and a town that had not learned the channel yet passed it as a configured account's packet:
 * served, and never paid for. Real anvil, real contracts, a real town learning channels, a
 * real BTP socket.
 */
import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { chainSections } from "../../harness/chain_toml.ts";
import { claimTownConfig } from "../../harness/channel_town.ts";
import { ClaimSigner, signClaim } from "../../chain/claim_signer.ts";
import { encodeClaim } from "../../protocol/payment_channel_claim.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { openTownChannelGates } from "../../roles/town/channels/town_channel_gates.ts";
import { startTownNode } from "../../roles/town/town_node.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../../roles/town_client/spsp_handshake.ts";
import { BtpClient } from "../../transport/btp_client.ts";

Deno.test("a refused claim is no cover: the next paid packet carries a claim (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "claim_refused_cover_" });
  const gates = await openTownChannelGates({
    stateDir: dir,
    peerChannels: [],
    chains: chainSections(pair),
    settlementChains: ["evm:base:31337"],
    signer: localNodeSigner(pair.bobKey),
    triggeredBy: () => "test.town",
    // One chain read for alice's unknown channels, and none after it.
    discoveryLimits: { perAccount: { capacity: 1, ratePerSecond: 1e-9 } },
  });
  const town = await startTownNode({
    config: { ...claimTownConfig({ stateDir: dir }), peers: [{ account: "alice", token: "a" }] },
    secretKey: pair.bobKey,
    databasePath: ":memory:",
    claimGate: gates.claimGate,
    cosignDesk: gates.cosignDesk,
  });
  const deposit = 10_000_000n;
  const opened = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit,
    settleTimeout: 600n,
  });
  const claimChannel = {
    chainId: pair.chain.chainId,
    tokenNetworkAddress: pair.alice.tokenNetworkAddress,
    tokenAddress: pair.alice.tokenAddress,
  };
  const url = `btp+ws://127.0.0.1:${town.btpPort}`;
  const paying = new BtpClient({
    url,
    authToken: "a",
    reconnect: false,
    claims: {
      signer: new ClaimSigner({
        account: localEvmAccount(pair.aliceKey),
        ...claimChannel,
        channelId: opened.channelId,
        deposit,
      }),
    },
  });
  try {
    await paying.connect();
    await paying.fetchIldcp();
    // Alice's one chain read goes on a channel that does not exist (F00, remembered).
    const nowhere = await signClaim({
      account: localEvmAccount(pair.aliceKey),
      ...claimChannel,
      channelId: `0x${"5a".repeat(32)}`,
      nonce: 1n,
      transferredAmount: 1n,
    });
    const nostrKey = generateSecretKey();
    const grant = await requestSpspOverIlp({
      sender: paying,
      townAddress: town.ilpAddress,
      townPubkey: town.pubkey,
      signer: localNodeSigner(nostrKey),
    });
    let n = 0;
    const note = async () => {
      const event = finalizeEvent({
        kind: 1,
        created_at: Math.floor(Date.now() / 1000),
        tags: [],
        content: `note ${n++}`,
      }, nostrKey) as NostrEvent;
      return (await buildPaidWrite({ event, grant, pricePerByte: 10n })).prepare;
    };
    // Raw claim bytes go as they are, outside the claims machinery.
    const spent = await paying.sendPrepare(await note(), { claimData: encodeClaim(nowhere) });
    assert(spent.type === "reject" && spent.code === "F00", JSON.stringify(spent));

    // The real channel: alice's budget is spent, so the town cannot learn it yet (T05).
    for (const attempt of ["first", "second"]) {
      const reply = await paying.sendPrepare(await note());
      assert(reply.type === "reject", `${attempt} write: ${reply.type}, served without a claim`);
      assertEquals(reply.code, "T05", reply.message);
      assertStringIncludes(reply.message, "payment channel claim rejected (rate-limited)");
    }
    assertEquals(await town.store.size(), 0, "nothing served");
    assertEquals(gates.gate("alice"), undefined, "the channel is not learned yet");
  } finally {
    await paying.close();
    await town.stop();
    await gates.close();
    await Deno.remove(dir, { recursive: true });
  }
});
