/**
 * The requester pays its town with payment-channel claims, end to end on a real anvil with the
 * real contracts: a real `turnpike town up` settles with the account "alice" over a channel
 * (TOML `[[town.peers]] channel`, credit limit 0); alice's state dir gets its channel file from
 * `turnpike channel recover`. `job submit` without `--channel` is refused T04 with a suggestion
 * to pass one; with `--channel` the paid write is FULFILLed and both channel files hold the same
 * newest claim; `--channel-prepay` makes the claim run ahead by that much. A channel that is closed, with another peer, or missing stops `job submit` and
 * `node up` with a clear error and exit 1.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";
import { runCli } from "../../harness/run_cli.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";

Deno.test("job submit --channel pays the town with claims; without one it is refused T04 (anvil)", async () => {
  await using pair = await startChannelPair();
  await using t = await startChannelCliTown(pair, { prefix: "requester_channel_" });
  const { channelId, townState, aliceState } = t;
  const submit = (extra: string[], env?: Record<string, string>) =>
    runCli([
      "--state-dir",
      aliceState,
      "job",
      "submit",
      "echo",
      "--input",
      "text:hello over a channel",
      "--force", // no provider here: only the town's write is paid
      ...t.connection,
      ...extra,
    ], { env });

  const unpaid = await submit([]);
  assertEquals(unpaid.code, 1, unpaid.stderr);
  assertStringIncludes(unpaid.stderr, "Error: the town rejected the packet: T04");
  assertStringIncludes(unpaid.stderr, "not-covered");
  assertStringIncludes(unpaid.stderr, "Suggestion: the town settles with this account");
  assertStringIncludes(unpaid.stderr, "--channel <id>");

  const paid = await submit(["--channel", channelId]);
  assertEquals(paid.code, 0, paid.stderr);
  assertStringIncludes(paid.stdout, " sent");
  const mine = await readChannel(channelFilePath(aliceState, channelId));
  assert(mine.sent > 0n, "the requester's channel file holds its claim");
  assert(mine.sentNonce >= 1n, `nonce ${mine.sentNonce}`);
  // A second run resumes from the file: the environment names the channel this time.
  const again = await submit([], { TURNPIKE_CHANNEL: channelId });
  assertEquals(again.code, 0, again.stderr);
  const after = await readChannel(channelFilePath(aliceState, channelId));
  assert(after.sent > mine.sent, `${after.sent} > ${mine.sent}`);
  assert(after.sentNonce > mine.sentNonce, `${after.sentNonce} > ${mine.sentNonce}`);
  const events = async () => (await (await fetch(`${t.town.httpUrl}/health`)).json()).events;
  const eventsBefore = await events();
  // --channel-prepay: the claim runs ahead of the packet by the prepay (base units). Another
  // setting than the profile's node runs with, which follows the jobs above: it is refused
  // (`node-busy`) until the node is stopped (its jobs resume in the next one).
  const busy = await submit(["--channel", channelId, "--channel-prepay", "1000000"]);
  assertEquals(busy.code, 1, busy.stderr);
  assertStringIncludes(busy.stderr, "runs with other settings: channelPrepay");
  const stop = await runCli(["--state-dir", aliceState, "node", "stop"]);
  assertEquals(stop.code, 0, stop.stderr);
  const ahead = await submit(["--channel", channelId, "--channel-prepay", "1000000"]);
  assertEquals(ahead.code, 0, ahead.stderr);
  const prepaid = await readChannel(channelFilePath(aliceState, channelId));
  assert(prepaid.sent - after.sent > 1_000_000n, `${prepaid.sent} - ${after.sent}`);
  assertEquals(prepaid.sentNonce, after.sentNonce + 1n);
  assertEquals(await events(), eventsBefore + 1);
  // The town FULFILLed only after the claim was durable on its side too.
  const theirs = await readChannel(channelFilePath(townState, channelId));
  assertEquals(theirs.received, prepaid.sent);
  assertEquals(theirs.receivedNonce, prepaid.sentNonce);

  // Channels that cannot pay this town: closed, with another peer, missing.
  const closedId = `0x${"c1".repeat(32)}` as const;
  const otherId = `0x${"0e".repeat(32)}` as const;
  await saveChannel({ ...mine, channelId: closedId, status: "closed" }, {
    stateDir: aliceState,
    action: "test",
  });
  await saveChannel({ ...mine, channelId: otherId, peerAddress: pair.alice.address }, {
    stateDir: aliceState,
    action: "test",
  });
  // A node with the good channel follows the jobs above: stopped, so that the next commands
  // start one with the channel each names (refused at its start).
  assertEquals((await runCli(["--state-dir", aliceState, "node", "stop"])).code, 0);
  const closed = await submit(["--channel", closedId]);
  assertEquals(closed.code, 1, closed.stderr);
  assertStringIncludes(closed.stderr, `Error: channel ${closedId} is closed`);
  assertStringIncludes(closed.stderr, "Suggestion: open a new channel");
  const other = await submit(["--channel", otherId]);
  assertEquals(other.code, 1, other.stderr);
  assertStringIncludes(
    other.stderr,
    `Error: channel ${otherId} is with ${pair.alice.address}, not with this town`,
  );
  const badId = await submit(["--channel", "0x1234"]);
  assertEquals(badId.code, 2, badId.stderr);
  assertStringIncludes(badId.stderr, "is not a channel id");
  const noFile = await runCli([
    "--state-dir",
    `${t.dir}/provider`,
    "node",
    "up",
    "--generate-key",
    "--channel",
    closedId,
    ...t.connection,
  ]);
  assertEquals(noFile.code, 1, noFile.stderr);
  assertStringIncludes(noFile.stderr, `Error: channel ${closedId} has no channel file`);
  assertStringIncludes(noFile.stderr, "Suggestion: open one with `turnpike channel open`");
  assertEquals(await events(), eventsBefore + 1, "nothing was written by the refused runs");
});
