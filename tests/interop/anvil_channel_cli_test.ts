/**
 * `turnpike channel` end to end on a real anvil: the real CLI opens and funds a channel (file
 * mode 0600, audit commit), refuses a deposit above the maximum and a wallet without tokens,
 * lists balances as CSV/JSON with the network, rebuilds lost channel files from the chain,
 * closes unilaterally and settles after the timeout.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { ndjsonLines } from "../../harness/agent_cli.ts";
import { type CliWallet, createCliWallet } from "../../harness/cli_wallet.ts";
import { ALICE_MNEMONIC, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { increaseTime } from "../../chain/anvil.ts";
import { readChannelLog } from "../../state/channels/channel_log.ts";
import { channelFilePath, readChannel, saveChannel } from "../../state/channels/channel_file.ts";

/** A temporary dir holding `state`: the mnemonic's wallet with `config` as its config.toml. */
async function stateDirWith(
  mnemonic: string,
  config: string,
): Promise<CliWallet & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-channel-" });
  return { dir, ...await createCliWallet({ dir, name: "state", mnemonic, config }) };
}

Deno.test("turnpike channel: open, refuse, list, recover, close, settle on anvil", async () => {
  await using pair = await startChannelPair();
  const config = `[channels]
peer = "${pair.bob.address}"
max_deposit = "100"
settle_timeout = 600

${chainToml(pair)}`;
  const wallet = await stateDirWith(ALICE_MNEMONIC, config);
  const { dir, stateDir: state } = wallet;
  const cli = (...args: string[]) => wallet.run(args);
  try {
    const tooMuch = await cli("channel", "open", "--deposit", "150");
    assertEquals(tooMuch.code, 2);
    assertStringIncludes(tooMuch.stderr, "above the maximum");

    const opened = await cli("--output", "json", "channel", "open", "--deposit", "50");
    assertEquals(opened.code, 0, opened.stderr);
    assertStringIncludes(opened.stderr, "Network: local anvil (evm:base:31337, local)");
    const [rec] = ndjsonLines(opened.stdout);
    assertEquals(rec.deposit, "50");
    assertEquals(rec.remaining, "50");
    const id = String(rec.channelId);
    const file = `${state}/channels/${id}.toml`;
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    const log = await new Deno.Command("git", { args: ["-C", state, "log", "--format=%B"] })
      .output();
    const history = new TextDecoder().decode(log.stdout);
    assertStringIncludes(history, `turnpike: payment channel ${id} opened`);
    assertStringIncludes(history, "Deposit: 50000000");
    assertStringIncludes(history, "Chain: evm:base:31337");
    assertStringIncludes(history, `Peer: ${pair.bob.address}`);
    assertEquals(await pair.alice.tokenBalance(), 50_000_000n);
    // The channel log has the opening deposit, as for a channel opened by itself: the books
    // (deposits logged + payment log) add up to the chain.
    const deposits = await readChannelLog(state);
    assertEquals(
      deposits.map((e) => [e.action, e.channelId, e.amount, e.totalDeposit, e.auto]),
      [["open", id, "50000000", "50000000", false]],
    );

    const csv = await cli("--output", "csv", "channel", "list");
    assertEquals(csv.code, 0, csv.stderr);
    assertMatch(csv.stdout, new RegExp(`${id},local,evm:base:31337,.*,open,50,0,0,0,50,0,0,M2M,`));

    // State dir loses its channel files: rebuild from the chain.
    await Deno.remove(`${state}/channels`, { recursive: true });
    const recovered = await cli("--output", "json", "channel", "recover");
    assertEquals(recovered.code, 0, recovered.stderr);
    const [again] = ndjsonLines(recovered.stdout);
    assertEquals([again.channelId, again.status, again.deposit], [id, "open", "50"]);

    // Alice signed a claim whose packet got no answer (the peer never took it): her file says
    // sent, the chain has no proof of hers. The settle gives it back and books it so.
    const path = channelFilePath(state, id as `0x${string}`);
    await saveChannel({ ...await readChannel(path), sent: 24_850n, sentNonce: 1n }, {
      stateDir: state,
      action: "update",
    });
    const closed = await cli("channel", "close", id);
    assertEquals(closed.code, 0, closed.stderr);
    assertStringIncludes(closed.stdout, "Closed");
    await increaseTime(pair.anvil.rpcUrl, 601);
    const settled = await cli("--output", "json", "channel", "close", id);
    assertEquals(settled.code, 0, settled.stderr);
    const [final] = ndjsonLines(settled.stdout);
    assertEquals(final.type, "channel");
    assertEquals([final.status, final.sent], ["settled", "0"]);
    assertStringIncludes(settled.stderr, "sent 0 M2M; 0.02485 M2M of claims the peer never took");
    assertEquals(await pair.alice.tokenBalance(), 100_000_000n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("turnpike channel open: a wallet without tokens is refused clearly", async () => {
  await using pair = await startChannelPair();
  const wallet = await stateDirWith(
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    chainToml(pair),
  );
  const { dir } = wallet;
  try {
    const r = await wallet.run(["channel", "open", "--deposit", "5", "--peer", pair.bob.address]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "Error: not enough tokens for the deposit");
    assert(!(await Deno.stat(`${dir}/state/channels`).then(() => true, () => false)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
