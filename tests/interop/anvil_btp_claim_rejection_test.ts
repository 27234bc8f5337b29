import { localNodeSigner } from "../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
/**
 * Bad claims over BTP, against the real town on a real channel: a packet without cover, a
 * tampered claim, a replayed nonce, a claim for another chain or another contract, a claim
 * beyond the deposit, bytes that are not a claim. Each is rejected with its ILP code and
 * reason, and nothing is stored, booked or written to the channel file.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { claimTownContact, startClaimTown } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { deployContracts } from "../../chain/anvil.ts";
import { ClaimBeyondDepositError, ClaimSigner, signClaim } from "../../chain/claim_signer.ts";
import { claimRejectReasonOf, encodeClaim } from "../../protocol/payment_channel_claim.ts";
import { buildPaidWrite, requestSpspOverIlp } from "../../roles/town_client/spsp_handshake.ts";
import { channelFilePath } from "../../state/channels/channel_file.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { finalizeEvent, generateSecretKey } from "nostr-tools";
import type { NostrEvent } from "../../protocol/nostr_event.ts";

const DEPOSIT = 1_000_000n;

Deno.test("btp claims: each bad claim rejected with code and reason, nothing stored", async () => {
  await using pair = await startChannelPair();
  const { alice, bob } = pair;
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const { channelId } = channel;
  const other = await deployContracts({ rpcUrl: pair.anvil.rpcUrl });
  const townDir = await Deno.makeTempDir({ prefix: "claim_reject_" });
  try {
    await using t = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob,
      record: channel.townRecord,
    });
    const client = new BtpClient({
      url: claimTownContact(t.town).url,
      authToken: "alice-token",
      reconnect: false,
    });
    try {
      await client.connect();
      await client.fetchIldcp();
      const nostrKey = generateSecretKey();
      // Zero-amount packets (IL-DCP, SPSP) need no claim.
      const grant = await requestSpspOverIlp({
        sender: client,
        townAddress: t.town.ilpAddress,
        townPubkey: t.town.pubkey,
        signer: localNodeSigner(nostrKey),
      });
      let n = 0;
      const write = async (claim?: Uint8Array) => {
        const event = finalizeEvent({
          kind: 1,
          created_at: Math.floor(Date.now() / 1000),
          tags: [],
          content: `note ${n++}`,
        }, nostrKey) as NostrEvent;
        const { prepare } = await buildPaidWrite({ event, grant, pricePerByte: 10n });
        const reply = await client.sendPrepare(prepare, claim ? { claimData: claim } : {});
        return { reply, amount: BigInt(prepare.amount) };
      };
      const base = {
        account: localEvmAccount(pair.aliceKey),
        chainId: pair.chain.chainId,
        tokenNetworkAddress: alice.tokenNetworkAddress,
        tokenAddress: alice.tokenAddress,
        channelId,
      };
      const fileText = () => Deno.readTextFile(channelFilePath(townDir, channelId));
      const expectRejected = async (
        claim: Uint8Array | undefined,
        code: string,
        reason: string,
      ) => {
        const book = t.gate.verifier.book(channelId);
        const stored = await t.town.store.size();
        const file = await fileText().catch(() => "");
        const { reply } = await write(claim);
        assertEquals(reply.type, "reject");
        if (reply.type !== "reject") return;
        assertEquals(reply.code, code, reply.message);
        assertStringIncludes(reply.message, `payment channel claim rejected (${reason})`);
        // The reason as data, the way a program reads it (docs/PROTOCOL.md "Claim rejections").
        assertEquals(new TextDecoder().decode(reply.data), `{"claimReject":"${reason}"}`);
        assertEquals(claimRejectReasonOf(reply.data), reason);
        assertEquals(await t.town.store.size(), stored, "nothing stored");
        assertEquals(t.gate.verifier.book(channelId), book, "nothing booked");
        await t.gate.writer.durable();
        assertEquals(await fileText().catch(() => ""), file, "channel file unchanged");
      };

      await expectRejected(undefined, "T04", "not-covered");
      // A good claim: the write goes through and the claim is in the channel file.
      const first = await signClaim({ ...base, nonce: 1n, transferredAmount: 5_000n });
      const ok = await write(encodeClaim(first));
      assertEquals(ok.reply.type, "fulfill");
      assertStringIncludes(await fileText(), 'received_nonce = "1"');
      const spent = ok.amount;

      const good = await signClaim({ ...base, nonce: 2n, transferredAmount: spent + 5_000n });
      const tampered = new TextDecoder().decode(encodeClaim(good)).replace(
        `"transferredAmount":"${spent + 5_000n}"`,
        `"transferredAmount":"${spent + 9_000n}"`,
      );
      await expectRejected(new TextEncoder().encode(tampered), "F00", "bad-signature");
      await expectRejected(encodeClaim(first), "F00", "replayed-nonce");
      await expectRejected(
        encodeClaim(
          await signClaim({ ...base, chainId: 84532, nonce: 3n, transferredAmount: 20_000n }),
        ),
        "F00",
        "wrong-chain",
      );
      await expectRejected(
        encodeClaim(
          await signClaim({
            ...base,
            tokenNetworkAddress: other.tokenNetworkAddress,
            nonce: 3n,
            transferredAmount: 20_000n,
          }),
        ),
        "F00",
        "wrong-contract",
      );
      await expectRejected(
        encodeClaim(await signClaim({ ...base, nonce: 3n, transferredAmount: DEPOSIT + 1n })),
        "T04",
        "beyond-deposit",
      );
      await expectRejected(new TextEncoder().encode('{"version":1}'), "F00", "malformed");
      await expectRejected(new Uint8Array(4096), "F00", "too-large");
      // The good claim still works after all that.
      assertEquals((await write(encodeClaim(good))).reply.type, "fulfill");
      assertEquals(await t.town.store.size(), 2);

      // The sending side refuses to sign beyond its deposit before anything leaves.
      const signer = new ClaimSigner({ ...base, deposit: DEPOSIT, nonce: 2n, transferred: 0n });
      await assertRejects(() => signer.pay(DEPOSIT + 1n), ClaimBeyondDepositError, "deposit");
    } finally {
      await client.close();
    }
  } finally {
    await Deno.remove(townDir, { recursive: true });
  }
});
