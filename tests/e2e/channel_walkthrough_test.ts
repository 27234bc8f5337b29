/**
 * The README's payment channel walk-through, by CLI processes only and without editing any
 * config by hand: `init` a town and a requester, `chain up --config` both (it funds their
 * wallets and writes the chain, and the town's `[channels] chains`), `town up`, `channel open
 * --town` (the chain picked from the town's kind 10032), `job submit --channel`: the town
 * learns the channel from the first claim (no restart, no `channel recover`) and holds the
 * requester's newest claim. Then a cooperative close, a new channel the running town learns
 * again, a unilateral close, and a reopen refused with the contract's `ChannelExists` explained
 * and a suggestion.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { runCli } from "../../harness/run_cli.ts";
import { freePort } from "../../harness/free_port.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";

Deno.test("walk-through: init, chain up, town up, channel open --town, job submit --channel, close, reopen (anvil)", async () => {
  const home = await Deno.makeTempDir({ prefix: "walkthrough_" });
  const pass = `${home}/pass`;
  await Deno.writeTextFile(pass, "walk-through passphrase\n");
  const env = { TURNPIKE_HOME: home };
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const [townPort, btpPort] = [freePort(), freePort()];
  const town = `${home}/town`;
  const alice = `${home}/alice`;
  const asAlice = (...args: string[]) =>
    runCli(["--profile", "alice", ...args, ...secret], { env });
  let chain: ReturnType<typeof spawnCli> | undefined;
  let townUp: ReturnType<typeof spawnCli> | undefined;
  try {
    const initTown = await runCli([
      "--profile",
      "town",
      "init",
      "--role",
      "town",
      "--town-port",
      String(townPort),
      "--btp-port",
      String(btpPort),
      "--peer",
      "alice:alice-token",
      ...secret,
    ], { env });
    assertEquals(initTown.code, 0, initTown.stderr);
    const initAlice = await runCli([
      "--profile",
      "alice",
      "init",
      "--role",
      "requester",
      "--town",
      `ws://127.0.0.1:${townPort}`,
      "--btp-url",
      `btp+ws://127.0.0.1:${btpPort}`,
      "--btp-token",
      "alice-token",
      ...secret,
    ], { env });
    assertEquals(initAlice.code, 0, initAlice.stderr);

    chain = spawnCli(
      ["--output", "json", "chain", "up", "--port", "0", "--config", town, "--config", alice],
      { env },
    );
    const ready = JSON.parse(await chain.waitForLine((l) => l.includes('"chain-ready"')));
    assertEquals(ready.configs, [`${town}/config.toml`, `${alice}/config.toml`]);
    assertEquals(ready.settles, [`${town}/config.toml`]);
    assertEquals(ready.funded.length, 2, "both wallets funded");

    townUp = spawnCli(["--profile", "town", "town", "up", ...secret], { env });
    await townUp.waitForLine((l) => l.startsWith("  learns"));
    assertStringIncludes(townUp.stdout(), "  chains      evm:base:31337\n");
    assertStringIncludes(
      townUp.stdout(),
      "  learns      channels opened to the town on evm:base:31337",
    );

    const opened = await asAlice(
      "--output",
      "json",
      "channel",
      "open",
      "--deposit",
      "50",
      "--town",
      `ws://127.0.0.1:${townPort}`,
    );
    assertEquals(opened.code, 0, opened.stderr);
    assertMatch(
      opened.stderr,
      /Peer: npub1\w+ \(from kind 10032 on ws:\/\/127\.0\.0\.1:\d+\), chain: local anvil/,
    );
    const id: `0x${string}` = JSON.parse(opened.stdout).channelId;

    const submit = (channel: string, text: string) =>
      asAlice("job", "submit", "echo", "--input", `text:${text}`, "--force", "--channel", channel);
    const paid = await submit(id, "hello over a channel");
    assertEquals(paid.code, 0, paid.stderr);
    assertStringIncludes(paid.stdout, " sent");
    const mine = await readChannel(channelFilePath(alice, id));
    const theirs = await readChannel(channelFilePath(town, id));
    assertEquals(theirs.btpAccount, "alice");
    assert(mine.sent > 0n, "alice signed a claim");
    assertEquals([theirs.received, theirs.receivedNonce], [mine.sent, mine.sentNonce]);
    const learned = () =>
      townUp!.stderr.filter((l) => l.includes("learned from its first claim")).length;
    // The town printed it before its FULFILL; this process reads the pipe on its own time.
    const learnedLines = async (n: number) => {
      for (let i = 0; i < 200 && learned() < n; i++) await new Promise((r) => setTimeout(r, 25));
      assertEquals(learned(), n);
    };
    await learnedLines(1);
    assertStringIncludes(townUp.stderr.join("\n"), `channel ${id} of alice: learned`);
    // The next run pays on the known channel: nothing to learn.
    assertEquals((await submit(id, "again")).code, 0);
    await learnedLines(1);
    const history = await new Deno.Command("git", { args: ["-C", town, "log", "--format=%B"] })
      .output();
    assertStringIncludes(
      new TextDecoder().decode(history.stdout),
      `turnpike: payment channel ${id} learned`,
    );

    // A cooperative close (the town co-signs over BTP), then a new channel, learned again.
    const closed = await asAlice("channel", "close", id);
    assertEquals(closed.code, 0, closed.stderr);
    assertStringIncludes(closed.stdout, "cooperatively");
    const second = await asAlice("--output", "json", "channel", "open", "--deposit", "20");
    assertEquals(second.code, 0, second.stderr);
    const id2: `0x${string}` = JSON.parse(second.stdout).channelId;
    assert(id2 !== id);
    assertEquals((await submit(id2, "on the new channel")).code, 0);
    await learnedLines(2);
    assertStringIncludes(townUp.stderr.join("\n"), `channel ${id2} of alice: learned`);
    assertEquals((await readChannel(channelFilePath(town, id2))).receivedNonce, 1n);

    // A unilateral close: the pair's channel exists until it is settled.
    const unilateral = await asAlice("channel", "close", id2, "--unilateral");
    assertEquals(unilateral.code, 0, unilateral.stderr);
    const reopen = await asAlice("channel", "open", "--deposit", "20");
    assertEquals(reopen.code, 1, reopen.stderr);
    assertStringIncludes(
      reopen.stderr,
      `Error: a channel with this peer already exists: ${id2} is closed, not settled ` +
        "(ChannelExists: one channel per pair until it is settled; its settle timeout ends ",
    );
    assertStringIncludes(
      reopen.stderr,
      `Suggestion: after `,
    );
    assertStringIncludes(
      reopen.stderr,
      `settle it with \`turnpike --profile alice channel close ${id2}\``,
    );
    assert(!reopen.stderr.includes("refused by the contract"), "no raw revert");
  } finally {
    if (townUp) {
      townUp.child.kill("SIGINT");
      const status = await townUp.done;
      assertEquals(status.code, 0, townUp.stderr.join("\n"));
    }
    if (chain) {
      chain.child.kill("SIGINT");
      await chain.done;
    }
    await Deno.remove(home, { recursive: true });
  }
});
