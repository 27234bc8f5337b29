/**
 * A cooperative close and a withdraw of a channel a town of two `turnpike town up` processes
 * gates over one PostgreSQL database (a real server this file starts), on a real anvil: alice
 * pays writes over both processes with one sequence of claims, one packet is refused after its
 * claim was taken (its cover stays alice's), and she asks the co-signatures of the other
 * process. The desk answers from the shared books (roles/town/channels/channel_cosign_desk.ts):
 * the last claim is the books' newest, a withdraw caps the claims every process takes, and the
 * settle is signed at what the town delivered and marks the books closing, so the process that
 * did not sign refuses the next packet. The chain pays what was delivered: chain = books.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  loseClaimedPayment,
  LOST_PAYMENT,
  payWrites,
  startSharedChannelTown,
} from "../support/shared_channel_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import {
  requestCooperativeSettle,
  requestLastClaim,
} from "../../roles/channels/channel_cosign_request.ts";
import { withdrawCooperatively } from "../../roles/channels/channel_cosign_chain.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";

const WITHDRAW = 10_000_000n;

Deno.test("shared channel: a town on two processes co-signs a withdraw and a settle from its shared books", async () => {
  await using run = await startSharedChannelTown({ prefix: "shared_cosign_" });
  const { pair, channelId, town, towns, aliceDir, record } = run;
  const first = await run.connect(towns[0]);
  // One sequence of claims over both connections.
  const second = await run.connect(towns[1], first);
  const paid = await payWrites([first, second], 6, "shared cosign note");
  // Claimed on the second process, then refused there: the cover stays alice's.
  await loseClaimedPayment(second, towns[1]);
  const book = await run.readBook();
  assert(book !== undefined, "the shared book exists");
  assertEquals([book.claimed, book.forwarded], [paid + LOST_PAYMENT, paid]);
  // The first process's own file is behind: the newest claim went to the second.
  const firstFile = await readChannel(channelFilePath(town.stateDirs[0], channelId));
  assert(firstFile.receivedNonce < book.nonce, "the first process's file is behind the books");

  // Asked of the first process, the last claim is the books' newest, and what was delivered.
  const held = await requestLastClaim({ peer: first.client, record });
  assertEquals([held.nonce, held.transferredAmount], [book.nonce, book.claimed]);
  assertEquals(held.delivered, paid);

  // A withdraw co-signed by the first process caps what the second takes.
  const withdrawn = await withdrawCooperatively({
    peer: first.client,
    chain: pair.alice,
    record: first.sent.record(),
    signer: localNodeSigner(pair.aliceKey),
    stateDir: aliceDir,
    amount: WITHDRAW,
    claims: first.signer,
    writer: first.sent,
  });
  assertEquals(withdrawn.record.withdrawn, WITHDRAW);
  assertEquals((await run.readBook())?.peerWithdrawn, WITHDRAW);

  // The settle's co-signature from the first process, at what was delivered.
  const current = first.sent.record();
  assertEquals(current.withdrawn, WITHDRAW);
  const agreement = await requestCooperativeSettle({
    peer: first.client,
    record: { ...current, sent: paid },
    signer: localNodeSigner(pair.aliceKey),
    onChain: await pair.alice.getChannel(channelId),
  });
  assertEquals(agreement.transferredAmount, paid);
  // From the books' commit on, the second process takes nothing more on the channel.
  const late = await second.write(second.sign("after the co-signature"));
  assert(
    late.reply.type === "reject" && late.reply.code === "F00" &&
      /channel-not-open/.test(late.reply.message),
    JSON.stringify(late.reply),
  );

  // As `turnpike channel close` does: asks the last claim again, the frozen books re-signed,
  // settled on chain at once. The refused packet's claim is not paid.
  const closed = await run.closeCooperatively(first.client, current);
  assertEquals(closed.agreement.transferredAmount, paid);
  assertEquals(closed.unclaimed, LOST_PAYMENT);
  assertEquals((await pair.alice.getChannel(channelId)).state, "none");
  // Chain = books: bob got what was delivered; alice the rest (her withdraw before it).
  await run.assertChainPaid(paid);
  assertEquals((await readChannel(channelFilePath(aliceDir, channelId))).sent, paid);
});
