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
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import type { CliTown } from "../../harness/cli_town.ts";
import { type ClaimClient, unfulfillablePayment } from "../../harness/channel_town.ts";
import { openPairChannel } from "../../harness/pair_channel.ts";
import { connectAlice, prepareSharedChannelTown } from "../support/shared_channel_town.ts";
import { freshDatabase } from "../../harness/postgres_database.ts";
import { startPostgresServer } from "../../state/postgres/postgres_server.ts";
import { openPostgresClaimBooks } from "../../state/postgres/postgres_claim_books.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";
import {
  requestCooperativeSettle,
  requestLastClaim,
} from "../../roles/channels/channel_cosign_request.ts";
import {
  closeCooperatively,
  withdrawCooperatively,
} from "../../roles/channels/channel_cosign_chain.ts";
import { localNodeSigner } from "../../identity/local_node_signer.ts";

const MINTED = 100_000_000n;
const DEPOSIT = 50_000_000n;
const WITHDRAW = 10_000_000n;
/** Far more than one write: the packet refused after its claim was taken. */
const LOST_PAYMENT = 20_000n;

Deno.test("shared channel: a town on two processes co-signs a withdraw and a settle from its shared books", async () => {
  await using pair = await startChannelPair();
  await using pg = await startPostgresServer();
  const storeUrl = await freshDatabase(pg.url);
  const channel = await openPairChannel(pair, { deposit: DEPOSIT });
  const { channelId } = channel;
  const dir = await Deno.makeTempDir({ prefix: "shared_cosign_" });
  const towns: CliTown[] = [];
  const clients: ClaimClient[] = [];
  try {
    const town = await prepareSharedChannelTown({
      pair,
      channelId,
      storeUrl,
      dir,
      processes: 2,
    });
    for (const i of [0, 1]) towns.push(await town.start(i));
    const aliceDir = `${dir}/alice`;
    await saveChannel(channel.aliceRecord, { stateDir: aliceDir, action: "open" });
    const record = await readChannel(channelFilePath(aliceDir, channelId));
    for (const t of towns) {
      const shareClaimsOf = clients[0]; // one sequence of claims over both connections
      clients.push(await connectAlice(t, { pair, stateDir: aliceDir, record, shareClaimsOf }));
    }
    const [first, second] = clients;
    let paid = 0n;
    for (let i = 0; i < 6; i++) {
      const client = clients[i % 2];
      const { reply, amount } = await client.write(client.sign(`shared cosign note ${i}`));
      assertEquals(reply.type, "fulfill", JSON.stringify(reply));
      paid += amount;
    }
    // Claimed on the second process, then refused there: the cover stays alice's.
    const lost = await second.client.sendPrepare(
      unfulfillablePayment(`${towns[1].field("ilpAddress")}.nobody`, LOST_PAYMENT),
    );
    assertEquals(lost.type === "reject" && lost.code, "F02");
    const books = await openPostgresClaimBooks({ url: storeUrl });
    const book = await books.read(channelId).finally(() => books.close());
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
    const afterWithdraw = await openPostgresClaimBooks({ url: storeUrl });
    const capped = await afterWithdraw.read(channelId).finally(() => afterWithdraw.close());
    assertEquals(capped?.peerWithdrawn, WITHDRAW);

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
    const closed = await closeCooperatively({
      peer: first.client,
      chain: pair.alice,
      record: current,
      signer: localNodeSigner(pair.aliceKey),
      stateDir: aliceDir,
    });
    assertEquals(closed.agreement.transferredAmount, paid);
    assertEquals(closed.unclaimed, LOST_PAYMENT);
    assertEquals((await pair.alice.getChannel(channelId)).state, "none");
    // Chain = books: bob got what was delivered; alice the rest (her withdraw before it).
    assertEquals(await pair.bob.tokenBalance(), MINTED + paid);
    assertEquals(await pair.alice.tokenBalance(), MINTED - paid);
    assertEquals((await readChannel(channelFilePath(aliceDir, channelId))).sent, paid);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const t of towns) await t.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
