/**
 * A cooperative close asked of the process of a town on two `turnpike town up` processes over one
 * PostgreSQL database (a real server this file starts) that never took a claim on the channel,
 * on a real anvil: the town learns channels from their first claim (`[channels] chains`), alice's
 * claims all went to process A, so only A learned the channel; her co-sign requests reach B (a
 * reconnect behind the town's load balancer lands anywhere). B answers the last claim from the
 * shared books, learns the channel from their newest claim once a settle signed by the channel's
 * payer comes (one signed by anyone else, from another account, is refused and learns nothing) and
 * co-signs the settle at what the town delivered: chain = books
 * (roles/town/channels/town_channel_registry.ts, docs/OPERATIONS.md "A town on several
 * machines"). Before, B refused `unknown-channel` and the payer had to close on chain.
 */
import { generateSecretKey } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import {
  loseClaimedPayment,
  LOST_PAYMENT,
  payWrites,
  startSharedChannelTown,
} from "../support/shared_channel_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { pathExists } from "../../state/path_exists.ts";
import {
  requestCooperativeSettle,
  requestLastClaim,
} from "../../roles/channels/channel_cosign_request.ts";
import { ChannelCosignError } from "../../protocol/payment_channel_cosign.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";

Deno.test("shared learned channel: the process that never took a claim on a channel co-signs its settle from the shared books", async () => {
  await using run = await startSharedChannelTown({ prefix: "shared_learned_cosign_", learn: true });
  const { pair, channelId, town, towns, aliceDir, record } = run;
  // Every claim goes to A; the connection to B only asks for co-signatures.
  const onA = await run.connect(towns[0]);
  const onB = await run.connect(towns[1], onA);
  const paid = await payWrites([onA], 4, "learned cosign note");
  // Claimed on A, then refused there: the cover stays alice's, a close does not pay it.
  await loseClaimedPayment(onA, towns[0]);
  const book = await run.readBook();
  assertEquals([book?.claimed, book?.forwarded], [paid + LOST_PAYMENT, paid]);
  // Only A learned the channel (its file); B holds nothing on it.
  assertEquals(await pathExists(channelFilePath(town.stateDirs[0], channelId)), true);
  assertEquals(await pathExists(channelFilePath(town.stateDirs[1], channelId)), false);

  // Another account of the town asking B to settle alice's channel: refused, nothing learned
  // for it (its request is not signed by the channel's payer), so alice's requests still pass.
  const mallory = new BtpClient({ url: towns[1].btpUrl, authToken: "mallory-token" });
  await mallory.connect();
  try {
    const refused = await requestCooperativeSettle({
      peer: mallory,
      record: { ...onA.sent.record(), sent: paid },
      signer: localNodeSigner(generateSecretKey()),
      onChain: await pair.alice.getChannel(channelId),
    }).then(() => undefined, (err) => err);
    assert(refused instanceof ChannelCosignError, String(refused));
    assertEquals(refused.reason, "bad-signature");
  } finally {
    await mallory.close();
  }
  assertEquals(await pathExists(channelFilePath(town.stateDirs[1], channelId)), false);

  // Asked of B: the last claim is the books' newest, and what was delivered.
  const held = await requestLastClaim({ peer: onB.client, record });
  assertEquals([held.nonce, held.transferredAmount, held.delivered], [
    book?.nonce,
    book?.claimed,
    paid,
  ]);
  // As `turnpike channel close` does, of B: co-signed at what the town delivered, settled.
  const closed = await run.closeCooperatively(onB.client, onA.sent.record());
  assertEquals(closed.agreement.transferredAmount, paid);
  assertEquals(closed.unclaimed, LOST_PAYMENT);
  assertEquals((await pair.alice.getChannel(channelId)).state, "none");
  // Chain = books: bob got what was delivered, alice the rest.
  await run.assertChainPaid(paid);
  assertEquals((await readChannel(channelFilePath(aliceDir, channelId))).sent, paid);
  // A takes nothing more on it: the books are closing.
  const late = await onA.write(onA.sign("after the co-signature"));
  assertEquals(late.reply.type, "reject", JSON.stringify(late.reply));
});
