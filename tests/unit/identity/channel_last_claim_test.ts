/**
 * The `last-claim` exchange between the town's desk (roles/town/channels/channel_cosign_desk.ts, over a
 * real claim gate and channel file) and the payer's `requestLastClaim`: the payer gets its own
 * newest claim back whatever the channel's status, nothing for another channel, and refuses an
 * answer whose signature is not its own (re-signed by another key, or an amount changed). The
 * peer in between is a mock that hands the request bytes to the desk and can tamper with the
 * answer bytes; no chain is read.
 */
import { localNodeSigner } from "../../../identity/local_node_signer.ts";
import { localEvmAccount } from "../../../identity/local_evm_account.ts";
import { assert, assertEquals } from "../../../harness/assert.ts";
import { bytesToHex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { generateSecretKey } from "nostr-tools";
import { signBalanceProof } from "../../../chain/balance_proof.ts";
import {
  ChannelCosignError,
  COSIGN_PROTOCOL_NAME,
  type CosignLastClaim,
  decodeCosignAnswer,
  encodeCosignAnswer,
} from "../../../protocol/payment_channel_cosign.ts";
import {
  type ChannelCosignDesk,
  createChannelCosignDesk,
} from "../../../roles/town/channels/channel_cosign_desk.ts";
import { openChannelClaimGate } from "../../../roles/channels/btp_claim_gate.ts";
import {
  type CosignTransport,
  requestLastClaim,
} from "../../../roles/channels/channel_cosign_request.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../../support/channel_record_fixture.ts";

const CHANNEL = `0x${"c1".repeat(32)}` as const;
const TOKEN_NETWORK = `0x${"7e".repeat(20)}` as const;
const DOMAIN = { chainId: 31337, verifyingContract: TOKEN_NETWORK };

const payerKey = generateSecretKey();
const townKey = generateSecretKey();
const payer = privateKeyToAddress(bytesToHex(payerKey));
const townAddress = privateKeyToAddress(bytesToHex(townKey));

function record(side: "town" | "payer", extra: Partial<ChannelRecord> = {}): ChannelRecord {
  return fixtureChannelRecord({
    channelId: CHANNEL,
    tokenNetworkAddress: TOKEN_NETWORK,
    tokenAddress: `0x${"70".repeat(20)}`,
    selfAddress: side === "town" ? townAddress : payer,
    peerAddress: side === "town" ? payer : townAddress,
    deposit: side === "town" ? 0n : 50_000_000n,
  }, { peerDeposit: side === "town" ? 50_000_000n : 0n, ...extra });
}

/** A town desk over a real gate whose channel file holds `held`. */
async function townDesk(held: Partial<ChannelRecord>) {
  const stateDir = await Deno.makeTempDir({ prefix: "last_claim_" });
  const gate = openChannelClaimGate({
    stateDir,
    record: record("town", held),
    readChannel: () => Promise.reject(new Error("last-claim must not read the chain")),
    triggeredBy: () => "test.town",
  });
  const desk = createChannelCosignDesk({
    gate,
    signer: localNodeSigner(townKey),
    readChannel: () => Promise.reject(new Error("last-claim must not read the chain")),
  });
  return {
    desk,
    async [Symbol.asyncDispose]() {
      await gate.writer.durable().catch(() => {});
      await Deno.remove(stateDir, { recursive: true });
    },
  };
}

/** Mock peer: the desk answers; `tamper` may rewrite the decoded answer on the way back. */
function mockPeer(
  desk: ChannelCosignDesk,
  tamper?: (answer: CosignLastClaim) => Promise<CosignLastClaim>,
): CosignTransport {
  return {
    async sendMessage(protocolData) {
      let data = await desk.answer(protocolData[0].data);
      const answer = decodeCosignAnswer(data);
      if (tamper && answer.type === "claim") data = encodeCosignAnswer(await tamper(answer));
      return [{ protocolName: COSIGN_PROTOCOL_NAME, contentType: 2, data }];
    },
  };
}

async function claimSignature(key: Uint8Array, nonce: bigint, amount: bigint) {
  return await signBalanceProof(
    { channelId: CHANNEL, nonce, transferredAmount: amount },
    { account: localEvmAccount(key), domain: DOMAIN },
  );
}

async function refusal(promise: Promise<unknown>): Promise<ChannelCosignError> {
  const err = await promise.catch((e) => e);
  assert(err instanceof ChannelCosignError, `${err}`);
  return err;
}

Deno.test("last claim: the desk returns the payer's newest claim, open or closed", async () => {
  const signature = await claimSignature(payerKey, 7n, 1_234n);
  for (const status of ["open", "closed"] as const) {
    await using town = await townDesk({
      status,
      received: 1_234n,
      receivedNonce: 7n,
      receivedSignature: signature,
    });
    const last = await requestLastClaim({ peer: mockPeer(town.desk), record: record("payer") });
    // Nothing refused since: all of it was delivered.
    assertEquals(last, { nonce: 7n, transferredAmount: 1_234n, signature, delivered: 1_234n });
  }
});

Deno.test("last claim: none held is nonce 0; another channel is unknown-channel", async () => {
  await using town = await townDesk({});
  const peer = mockPeer(town.desk);
  assertEquals(await requestLastClaim({ peer, record: record("payer") }), {
    nonce: 0n,
    transferredAmount: 0n,
  });
  const other = await refusal(
    requestLastClaim({ peer, record: record("payer", { channelId: `0x${"d2".repeat(32)}` }) }),
  );
  assertEquals([other.reason, other.fromPeer], ["unknown-channel", true]);
  const chain = await refusal(
    requestLastClaim({ peer, record: record("payer", { chainId: 84532 }) }),
  );
  assertEquals([chain.reason, chain.fromPeer], ["wrong-chain", true]);
});

Deno.test("last claim: an answer not signed by the payer is refused (bad-peer-signature)", async () => {
  const signature = await claimSignature(payerKey, 7n, 1_234n);
  await using town = await townDesk({
    received: 1_234n,
    receivedNonce: 7n,
    receivedSignature: signature,
  });
  const mine = record("payer");
  // Re-signed by another key (the town's, say): a claim the payer never made.
  const forged = await refusal(requestLastClaim({
    peer: mockPeer(town.desk, async (a) => ({
      ...a,
      nonce: 9n,
      transferredAmount: 9_999n,
      signature: await claimSignature(townKey, 9n, 9_999n),
    })),
    record: mine,
  }));
  assertEquals([forged.reason, forged.fromPeer], ["bad-peer-signature", false]);
  // The payer's signature over other numbers: recovers to someone else.
  const raised = await refusal(requestLastClaim({
    peer: mockPeer(town.desk, (a) => Promise.resolve({ ...a, transferredAmount: 5_000n })),
    record: mine,
  }));
  assertEquals(raised.reason, "bad-peer-signature");
  // A signature that does not parse as one.
  const garbage = await refusal(requestLastClaim({
    peer: mockPeer(town.desk, (a) => Promise.resolve({ ...a, signature: `0x${"ff".repeat(65)}` })),
    record: mine,
  }));
  assertEquals(garbage.reason, "bad-peer-signature");
});

Deno.test("last claim: a nonce on file without its signature is refused, not invented", async () => {
  await using town = await townDesk({ received: 10n, receivedNonce: 3n });
  const err = await refusal(
    requestLastClaim({ peer: mockPeer(town.desk), record: record("payer") }),
  );
  assertEquals([err.reason, err.fromPeer], ["internal-error", true]);
});
