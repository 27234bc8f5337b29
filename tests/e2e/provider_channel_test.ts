/**
 * The provider pays its town with payment-channel claims, end to end on a real anvil with the
 * real contracts: a real `turnpike town up` settles with the account "alice" over a channel
 * (credit limit 0, so every paid write must be covered by a claim); `turnpike node up
 * --channel <id>` (alice's wallet, its channel file from `channel recover`, the chain in its
 * config so the channel is checked and watched) publishes its announcements and heartbeat as
 * paid writes. After it stops, the town's channel file and the provider's agree on the
 * cumulative amount and nonce, and the town stored the provider's events.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";

Deno.test("node up --channel pays its writes to a real town with claims (anvil)", async () => {
  await using pair = await startChannelPair();
  await using t = await startChannelCliTown(pair, {
    prefix: "provider_channel_",
    aliceConfig: "[channels]\nwatch_interval = 1\n\n",
  });
  const { channelId, townState, aliceState } = t;
  /** `node up` until its banner is out (its announcements paid), then SIGINT: exit 0. */
  const nodeUp = async (extra: string[] = []) => {
    const provider = spawnCli([
      "--state-dir",
      aliceState,
      "node",
      "up",
      ...t.connection,
      "--channel",
      channelId,
      ...extra,
    ]);
    try {
      // The last line of the banner: printed once the signal handlers are in place.
      await provider.waitForLine((l) => /^ {2}network\s/.test(l));
    } finally {
      provider.child.kill("SIGINT");
      const status = await provider.done;
      assertEquals(status.code, 0, provider.stderr.join("\n"));
    }
  };
  await nodeUp();
  const mine = await readChannel(channelFilePath(aliceState, channelId));
  const theirs = await readChannel(channelFilePath(townState, channelId));
  assert(
    mine.sentNonce >= 2n,
    `the announcements were paid with claims (nonce ${mine.sentNonce})`,
  );
  assertEquals(theirs.received, mine.sent, "both books agree on the cumulative amount");
  assertEquals(theirs.receivedNonce, mine.sentNonce);
  assertEquals(mine.status, "open");
  const health = await (await fetch(`${t.town.httpUrl}/health`)).json();
  assert(health.events >= 2, `the town stored the provider's events (${health.events})`);

  // Again with --channel-prepay: one claim runs ahead and covers all of this run's writes.
  await nodeUp(["--channel-prepay", "1000000"]);
  const ahead = await readChannel(channelFilePath(aliceState, channelId));
  assertEquals(ahead.sentNonce, mine.sentNonce + 1n, "one claim for the whole run");
  assert(ahead.sent - mine.sent > 1_000_000n, `${ahead.sent} - ${mine.sent}`);
  assertEquals((await readChannel(channelFilePath(townState, channelId))).received, ahead.sent);
});
