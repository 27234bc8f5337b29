/**
 * Any EVM chain by configuration (docs/OPERATIONS.md "A chain of your choice"), on anvils that
 * answer Base's chain id (8453, a mainnet) and Base Sepolia's (84532), with a token of 18
 * decimals:
 *
 * - a profile set up for Base prints `Network: MAINNET (real funds)` (the label from the table of
 *   known chains, not "local (test funds)"), and `town up` and `channel open` refuse it without
 *   `--mainnet` with an `Error:` line naming the chain and how to confirm;
 * - with `--mainnet`, a channel on the 18-decimal token pays the town's writes and settles
 *   cooperatively: the chain moved what both channel files say (chain = books), and amounts are
 *   shown in the token's own units (`TKN`, 18 decimals, read from the contract);
 * - a profile on 84532 prints `testnet` and needs no flag;
 * - a profile whose RPC serves another chain id than it names is refused with a clear error.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { runCli } from "../../harness/run_cli.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";

const TOKEN = 10n ** 18n;
const MINTED = 100n * TOKEN;

Deno.test("chain of choice: a Base (8453) profile is mainnet, refused without --mainnet; a channel on an 18-decimal token settles with chain = books (anvil)", async () => {
  await using pair = await startChannelPair({
    chainId: 8453,
    tokenDecimals: 18,
    tokenSymbol: "TKN",
    tokens: MINTED,
  });
  assertEquals([pair.chain.id, pair.chain.network], ["evm:base:8453", "mainnet"]);
  assertEquals([pair.chain.tokenDecimals, pair.chain.tokenSymbol], [18, "TKN"]);

  // A town profile set up for Base: its network line and the refusals, before any key is used.
  const dir = await Deno.makeTempDir({ prefix: "chain_choice_refused_" });
  try {
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[channels]\nchains = ["evm:base:8453"]\n\n${chainToml(pair)}`,
    );
    const town = await runCli([
      "--state-dir",
      dir,
      "town",
      "up",
      "--town-port",
      "0",
      "--btp-port",
      "0",
      "--generate-key",
    ]);
    assertEquals(town.code, 2, town.stderr);
    const lines = town.stderr.split("\n");
    assertEquals(lines[0], "Network: MAINNET (real funds)");
    assertStringIncludes(
      town.stderr,
      "Error: town up refused: chain evm:base:8453: Base (chain id 8453) is MAINNET: real funds; " +
        "pass --mainnet to confirm",
    );
    assertStringIncludes(town.stderr, "Suggestion: add --mainnet to `turnpike town up`");
    const open = await runCli([
      "--state-dir",
      dir,
      "channel",
      "open",
      "--chain",
      "evm:base:8453",
      "--peer",
      pair.bob.address,
      "--deposit",
      "1.5",
      "--non-interactive",
    ]);
    assertEquals(open.code, 2, open.stderr);
    assertStringIncludes(
      open.stderr,
      "Error: chain evm:base:8453: Base (chain id 8453) is MAINNET: real funds; pass --mainnet",
    );
    assertStringIncludes(open.stderr, "Suggestion: add --mainnet to this command");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // With --mainnet: a channel of 5 TKN, paid writes, a cooperative close; chain = books.
  await using t = await startChannelCliTown(pair, {
    prefix: "chain_choice_",
    deposit: 5n * TOKEN,
    args: ["--mainnet"],
  });
  assertEquals(t.town.process.stderr[0], "Network: MAINNET (real funds)");
  const { channelId, townState, aliceState } = t;
  for (const text of ["one write on Base", "another"]) {
    const paid = await runCli([
      "--state-dir",
      aliceState,
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--force", // no provider here: only the town's write is paid
      "--channel",
      channelId,
      ...t.connection,
    ], { env: { TURNPIKE_MAINNET: "1" } }); // the `mainnet` setting, as `--mainnet` is
    assertEquals(paid.code, 0, paid.stderr);
    assertEquals(paid.stderr.split("\n")[0], "Network: MAINNET (real funds)");
  }
  const mine = await readChannel(channelFilePath(aliceState, channelId));
  const theirs = await readChannel(channelFilePath(townState, channelId));
  assertEquals([mine.tokenDecimals, mine.tokenSymbol], [18, "TKN"]);
  assertEquals([theirs.tokenDecimals, theirs.tokenSymbol], [18, "TKN"]);
  assert(mine.sent > 0n, "alice signed claims");
  assertEquals([theirs.received, theirs.receivedNonce], [mine.sent, mine.sentNonce]);

  const listed = await runCli(["--state-dir", aliceState, "channel", "list"]);
  assertEquals(listed.code, 0, listed.stderr);
  assertStringIncludes(listed.stdout, "deposit 5 TKN");
  assertStringIncludes(listed.stdout, "Base (evm:base:8453, MAINNET, real funds)");

  await runCli(["--state-dir", aliceState, "node", "stop"]);
  const closed = await runCli([
    "--state-dir",
    aliceState,
    "channel",
    "close",
    channelId,
    "--mainnet",
    "--connector-btp-url",
    t.town.btpUrl,
    "--btp-token",
    "alice-token",
    ...t.secret,
  ]);
  assertEquals(closed.code, 0, closed.stderr);
  assertStringIncludes(closed.stdout, "cooperatively");
  // Chain = books: the chain paid the town what both files say alice sent, to the wei.
  const sent = (await readChannel(channelFilePath(aliceState, channelId))).sent;
  assertEquals(sent, mine.sent);
  assertEquals(await pair.alice.tokenBalance(), MINTED - sent);
  assertEquals(await pair.bob.tokenBalance(), MINTED + sent);
  assertEquals(await pair.alice.tokenBalance(pair.alice.tokenNetworkAddress), 0n);
});

Deno.test("chain of choice: a Base Sepolia (84532) profile is testnet and needs no flag; an RPC of another chain id is refused (anvil)", async () => {
  await using pair = await startChannelPair({ chainId: 84532, tokenDecimals: 18 });
  const dir = await Deno.makeTempDir({ prefix: "chain_choice_testnet_" });
  try {
    const pass = `${dir}/pass`;
    await Deno.writeTextFile(pass, "chain of choice passphrase\n");
    const secret = ["--passphrase-file", pass, "--non-interactive"];
    const init = await runCli(["--state-dir", dir, "wallet", "init", ...secret]);
    assertEquals(init.code, 0, init.stderr);
    await Deno.writeTextFile(`${dir}/config.toml`, chainToml(pair));
    const balance = await runCli(["--state-dir", dir, "wallet", "balance"]);
    assertEquals(balance.code, 0, balance.stderr);
    assertEquals(balance.stderr.split("\n")[0], "Network: testnet (test funds)");
    assertStringIncludes(balance.stdout, "Base Sepolia (evm:base:84532, testnet)");

    // The same anvil named as Base: its eth_chainId (84532) is not 8453.
    const asBase = chainToml(pair).replace("evm:base:84532", "evm:base:8453");
    await Deno.writeTextFile(`${dir}/config.toml`, asBase);
    const open = await runCli([
      "--state-dir",
      dir,
      "channel",
      "open",
      "--chain",
      "evm:base:8453",
      "--mainnet",
      "--peer",
      pair.bob.address,
      "--deposit",
      "1",
      ...secret,
    ]);
    assertEquals(open.code, 1, open.stderr);
    assertStringIncludes(
      open.stderr,
      `Error: the RPC at ${pair.anvil.rpcUrl} is chain id 84532, but Base (evm:base:8453, ` +
        "MAINNET, real funds) is configured (chain id 8453)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
