/**
 * `channel list` names the network like every other channel command, and `channel topup` refuses
 * a top-up past `[channels] max_deposit` (exit 2) before unlocking the wallet or sending anything:
 * the configured RPC URL points nowhere, so any chain call would fail differently.
 */
import { assertEquals, assertMatch } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { saveChannel } from "../../state/channels/channel_file.ts";
import { fixtureChannelRecord } from "../support/channel_record_fixture.ts";

Deno.test("channel list prints the Network line; channel topup past max_deposit is refused before any transaction", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "channel_cli_max_" });
  try {
    await Deno.writeTextFile(
      `${stateDir}/config.toml`,
      '[chains."evm:base:31337"]\nrpc_url = "http://127.0.0.1:9"\n[channels]\nmax_deposit = "100"\n',
    );
    const record = fixtureChannelRecord(
      { selfAddress: `0x${"33".repeat(20)}`, peerAddress: `0x${"44".repeat(20)}` },
      { deposit: 95_000_000n, status: "open" },
    );
    await saveChannel(record, { stateDir, action: "open" });
    const list = await runCli(["--state-dir", stateDir, "channel", "list"]);
    assertEquals(list.code, 0, list.stderr);
    assertMatch(list.stdout, /^Network: local anvil \(evm:base:31337, local\)\n/);
    const topup = await runCli([
      "--state-dir",
      stateDir,
      "channel",
      "topup",
      record.channelId,
      "--amount",
      "10",
      "--non-interactive",
    ]);
    assertEquals(topup.code, 2, topup.stderr);
    assertMatch(topup.stderr, /^Error: a top-up of 10 M2M would make the channel hold 105 M2M/m);
    assertMatch(topup.stderr, /top up at most 5, or raise \[channels\] max_deposit/);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
