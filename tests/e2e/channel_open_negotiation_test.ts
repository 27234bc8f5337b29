/**
 * Chain negotiation from the town's own kind 10032, end to end with real processes: a town
 * (`turnpike town up`, bob's wallet) announces the chains of its `[channels] chains`; a
 * requester (alice) with no `--peer` runs `turnpike channel open --deposit 5 --town <url>`,
 * which reads the town's NIP-11 `self` and 10032, settles on the chain it prefers (31337) with
 * the town's contracts, opens on a real anvil, and writes the channel file and audit commit.
 * The town restarted with other chains replaces its announcement: no chain in common, then no
 * chain at all, each a clear error with exit code 1.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import {
  ALICE_MNEMONIC,
  BOB_MNEMONIC,
  startChannelPair,
} from "../../harness/anvil_channel_pair.ts";
import { chainToml } from "../../harness/chain_toml.ts";
import { createCliWallet } from "../../harness/cli_wallet.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";
import { publicIdentity } from "../../identity/nip06_key.ts";

const LOCAL = "evm:base:31337";
const SEPOLIA = "evm:base:84532";

Deno.test("channel open negotiates the chain from the town's kind 10032 (anvil)", async () => {
  await using pair = await startChannelPair();
  const dir = await Deno.makeTempDir({ prefix: "channel_negotiation_" });
  try {
    const townWallet = await createCliWallet({ dir, name: "town", mnemonic: BOB_MNEMONIC });
    const alice = await createCliWallet({ dir, name: "alice", mnemonic: ALICE_MNEMONIC });
    const townState = townWallet.stateDir;
    const townConfig = (chains: string[]) =>
      Deno.writeTextFile(
        `${townState}/config.toml`,
        `[town]
ilp_address = "test.negotown"

[channels]
chains = ${JSON.stringify(chains)}

${chainToml(pair)}`,
      );
    // Alice knows only the RPC URL: the contracts come from the town's announcement.
    const aliceConfig = (chains: string[]) =>
      Deno.writeTextFile(
        `${alice.stateDir}/config.toml`,
        `[channels]
chains = ${JSON.stringify(chains)}
prefer = ["${LOCAL}"]
settle_timeout = 600

${chainToml(pair, { contracts: false })}`,
      );
    /** `town up`, up once it printed the chains it announces. */
    const startTown = (): Promise<CliTown> =>
      startCliTown({
        stateDir: townState,
        secret: townWallet.secret,
        ready: (l) => l.startsWith("  chains"),
      });
    const open = (url: string) => alice.run(["channel", "open", "--deposit", "5", "--town", url]);

    await townConfig([SEPOLIA, LOCAL]);
    await aliceConfig([SEPOLIA, LOCAL]);
    {
      await using town = await startTown();
      const url = town.relayUrl;
      assertEquals(town.readyLine.trim(), `chains      ${SEPOLIA}, ${LOCAL}`);
      const opened = await open(url);
      assertEquals(opened.code, 0, opened.stderr);
      const npub = publicIdentity(pair.bobKey).npub;
      assertStringIncludes(
        opened.stdout,
        `Peer: ${npub} (from kind 10032 on ${url}), chain: local anvil (${LOCAL}, local)`,
      );
      const id = opened.stdout.match(/Opened channel (0x[0-9a-f]{64})/)?.[1] ?? "";
      assertMatch(id, /^0x[0-9a-f]{64}$/);
      const file = channelFilePath(alice.stateDir, id);
      assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
      const record = await readChannel(file);
      assertEquals(record.chain, LOCAL);
      assertEquals(record.peerAddress.toLowerCase(), pair.bob.address.toLowerCase());
      assertEquals(
        record.tokenNetworkAddress.toLowerCase(),
        pair.contracts.tokenNetworkAddress.toLowerCase(),
      );
      assertEquals(record.deposit, 5_000_000n);
      const log = await new Deno.Command("git", {
        args: ["-C", alice.stateDir, "log", "--format=%B"],
      }).output();
      const history = new TextDecoder().decode(log.stdout);
      assertStringIncludes(history, `turnpike: payment channel ${id} opened`);
      assertStringIncludes(history, `Chain: ${LOCAL}`);
      assertStringIncludes(history, `Peer: ${pair.bob.address}`);
      const onChain = await pair.bob.getChannel(id as `0x${string}`);
      assertEquals(onChain.state, "opened");
    }

    // Restarted with only Sepolia: the announcement is replaced; alice settles on 31337 only.
    await townConfig([SEPOLIA]);
    await aliceConfig([LOCAL]);
    {
      await using town = await startTown();
      const url = town.relayUrl;
      assertEquals(town.readyLine.trim(), `chains      ${SEPOLIA}`);
      const refused = await open(url);
      assertEquals(refused.code, 1, refused.stderr);
      assertStringIncludes(
        refused.stderr,
        `Error: no settlement chain in common with the peer (ours: ${LOCAL}; theirs: ${SEPOLIA})`,
      );
      assertStringIncludes(refused.stderr, "Suggestion: add one of their chains");
    }

    await townConfig([]);
    {
      await using town = await startTown();
      const url = town.relayUrl;
      assertEquals(town.readyLine.trim(), "chains      none (no settlement chain announced)");
      const refused = await open(url);
      assertEquals(refused.code, 1, refused.stderr);
      assertStringIncludes(refused.stderr, "Error: the town settles on no chain");
      assertStringIncludes(
        refused.stderr,
        "Suggestion: the town's operator must list its chains in [channels] chains",
      );
      assertStringIncludes(refused.stderr, "`turnpike chain up --config <town state dir>`");
    }

    // No town at that URL any more.
    const gone = await open("ws://127.0.0.1:1");
    assertEquals(gone.code, 1, gone.stderr);
    assertStringIncludes(gone.stderr, "Error: cannot read the town's settlement info");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
