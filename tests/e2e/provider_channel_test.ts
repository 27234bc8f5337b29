/**
 * The provider pays its town with payment-channel claims, end to end on a real anvil with the
 * real contracts: a real `turnpike town up` settles with the account "alice" over a channel
 * (credit limit 0, so every paid write must be covered by a claim); `turnpike node up
 * --channel <id>` (alice's wallet, its channel file from `channel recover`, the chain in its
 * config so the channel is checked and watched) publishes its announcements and heartbeat as
 * paid writes. After it stops, the town's channel file and the provider's agree on the
 * cumulative amount and nonce, and the town stored the provider's events.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { ALICE_MNEMONIC, BOB_MNEMONIC, startChannelPair } from "../support/anvil_channel_pair.ts";
import { initWalletWithCli, runCli } from "../support/run_cli.ts";
import { spawnCli } from "../support/cli_process.ts";
import { channelFilePath, readChannel } from "../../state/channel_file.ts";

const DEPOSIT = 50_000_000n;

Deno.test("node up --channel pays its writes to a real town with claims (anvil)", async () => {
  await using pair = await startChannelPair();
  const { channelId } = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit: DEPOSIT,
    settleTimeout: 600n,
  });
  const dir = await Deno.makeTempDir({ prefix: "provider_channel_" });
  const townState = `${dir}/town`;
  const aliceState = `${dir}/alice`;
  const chainToml = `[chains."evm:base:31337"]
rpc_url = "${pair.anvil.rpcUrl}"
token_network = "${pair.contracts.tokenNetworkAddress}"
token = "${pair.contracts.tokenAddress}"
`;
  try {
    await Deno.writeTextFile(`${dir}/pass`, "test passphrase\n");
    await Deno.writeTextFile(`${dir}/bob-words`, BOB_MNEMONIC + "\n");
    await Deno.writeTextFile(`${dir}/alice-words`, ALICE_MNEMONIC + "\n");
    const secret = ["--passphrase-file", `${dir}/pass`, "--non-interactive"];
    for (const [stateDir, words] of [[townState, "bob"], [aliceState, "alice"]]) {
      await initWalletWithCli({
        stateDir,
        passphraseFile: `${dir}/pass`,
        mnemonicFile: `${dir}/${words}-words`,
      });
    }
    await Deno.writeTextFile(
      `${townState}/config.toml`,
      `[town]
ilp_address = "test.chtown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channelId}"
credit_limit = "0"

${chainToml}`,
    );
    await Deno.writeTextFile(
      `${aliceState}/config.toml`,
      `[channels]\nwatch_interval = 1\n\n${chainToml}`,
    );
    for (const state of [townState, aliceState]) {
      const recovered = await runCli(["--state-dir", state, "channel", "recover", ...secret]);
      assertEquals(recovered.code, 0, recovered.stderr);
    }

    const town = spawnCli([
      "--state-dir",
      townState,
      "town",
      "up",
      "--town-port",
      "0",
      "--btp-port",
      "0",
      ...secret,
    ]);
    try {
      await town.waitForLine((l) => l.includes("settles"));
      const out = town.stdout();
      const field = (name: string) =>
        out.match(new RegExp(`^  ${name}\\s+(\\S+)$`, "m"))?.[1] ?? "";
      const nodeUp = (extra: string[] = []) =>
        spawnCli([
          "--state-dir",
          aliceState,
          "node",
          "up",
          "--relay-url",
          `ws://127.0.0.1:${field("httpPort")}`,
          "--connector-btp-url",
          `btp+ws://127.0.0.1:${field("btpPort")}`,
          "--btp-token",
          "alice-token",
          "--channel",
          channelId,
          ...secret,
          ...extra,
        ]);
      const provider = nodeUp();
      try {
        // The last line of the banner: printed once the signal handlers are in place.
        await provider.waitForLine((l) => /^ {2}network\s/.test(l));
      } finally {
        provider.child.kill("SIGINT");
        const status = await provider.done;
        assertEquals(status.code, 0, provider.stderr.join("\n"));
      }
      const mine = await readChannel(channelFilePath(aliceState, channelId));
      const theirs = await readChannel(channelFilePath(townState, channelId));
      assert(
        mine.sentNonce >= 2n,
        `the announcements were paid with claims (nonce ${mine.sentNonce})`,
      );
      assertEquals(theirs.received, mine.sent, "both books agree on the cumulative amount");
      assertEquals(theirs.receivedNonce, mine.sentNonce);
      assertEquals(mine.status, "open");
      const health = await (await fetch(`http://127.0.0.1:${field("httpPort")}/health`)).json();
      assert(health.events >= 2, `the town stored the provider's events (${health.events})`);

      // Again with --channel-prepay: one claim runs ahead and covers all of this run's writes.
      const prepaying = nodeUp(["--channel-prepay", "1000000"]);
      try {
        await prepaying.waitForLine((l) => /^ {2}network\s/.test(l));
      } finally {
        prepaying.child.kill("SIGINT");
        const status = await prepaying.done;
        assertEquals(status.code, 0, prepaying.stderr.join("\n"));
      }
      const ahead = await readChannel(channelFilePath(aliceState, channelId));
      assertEquals(ahead.sentNonce, mine.sentNonce + 1n, "one claim for the whole run");
      assert(ahead.sent - mine.sent > 1_000_000n, `${ahead.sent} - ${mine.sent}`);
      assertEquals((await readChannel(channelFilePath(townState, channelId))).received, ahead.sent);
    } finally {
      town.child.kill("SIGINT");
      const status = await town.done;
      assertEquals(status.code, 0, town.stderr.join("\n"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
