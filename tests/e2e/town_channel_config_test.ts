/**
 * `turnpike town up` with a peer that settles over a payment channel, configured in TOML, on a
 * real anvil with the real contracts: the town's channel file comes from `turnpike channel
 * recover`, the town runs as a subprocess and prints which peer settles over which channel; the
 * peer's paid write is rejected T04 without claims and fulfilled with claims from a BtpClient,
 * and the town's channel file then holds the peer's newest claim. A missing channel file stops
 * the town with a clear error and exit 1; malformed channel settings are usage errors.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { BOB_MNEMONIC, startChannelPair } from "../support/anvil_channel_pair.ts";
import { channelRecord, connectClaimClient } from "../support/channel_town.ts";
import { initWalletWithCli, runCli } from "../support/run_cli.ts";
import { spawnCli } from "../support/cli_process.ts";
import { channelFilePath, readChannel } from "../../state/channel_file.ts";

const DEPOSIT = 50_000_000n;

Deno.test("town up: a TOML peer channel gates the peer's packets with claims (anvil)", async () => {
  await using pair = await startChannelPair();
  const { channelId } = await pair.alice.openChannel({
    partner: pair.bob.address,
    deposit: DEPOSIT,
    settleTimeout: 600n,
  });
  const dir = await Deno.makeTempDir({ prefix: "town_channel_" });
  const state = `${dir}/town`;
  try {
    await Deno.writeTextFile(`${dir}/pass`, "town passphrase\n");
    await Deno.writeTextFile(`${dir}/words`, BOB_MNEMONIC + "\n");
    await initWalletWithCli({
      stateDir: state,
      passphraseFile: `${dir}/pass`,
      mnemonicFile: `${dir}/words`,
    });
    await Deno.writeTextFile(
      `${state}/config.toml`,
      `[town]
ilp_address = "test.chtown"

[[town.peers]]
account = "alice"
token = "alice-token"
channel = "${channelId}"
credit_limit = "0"

[chains."evm:base:31337"]
rpc_url = "${pair.anvil.rpcUrl}"
token_network = "${pair.contracts.tokenNetworkAddress}"
token = "${pair.contracts.tokenAddress}"
`,
    );
    const secret = ["--passphrase-file", `${dir}/pass`, "--non-interactive"];
    const recovered = await runCli(["--state-dir", state, "channel", "recover", ...secret]);
    assertEquals(recovered.code, 0, recovered.stderr);

    const town = spawnCli([
      "--state-dir",
      state,
      "town",
      "up",
      "--town-port",
      "0",
      "--btp-port",
      "0",
      ...secret,
    ]);
    try {
      const settles = await town.waitForLine((l) => l.includes("settles"));
      assertStringIncludes(settles, `alice over channel ${channelId}`);
      assertStringIncludes(settles, "local anvil (evm:base:31337, local)");
      assertStringIncludes(settles, `peer ${pair.alice.address}`);
      const out = town.stdout();
      const field = (name: string) =>
        out.match(new RegExp(`^  ${name}\\s+(\\S+)$`, "m"))?.[1] ?? "";
      assertEquals(field("ilpAddress"), "test.chtown");
      const connect = (claims: boolean, sub: string) =>
        connectClaimClient({
          url: `btp+ws://127.0.0.1:${field("btpPort")}`,
          townAddress: "test.chtown",
          townPubkey: field("pubkey"),
          stateDir: `${dir}/${sub}`,
          secretKey: pair.aliceKey,
          record: channelRecord({
            chain: pair.chain,
            self: pair.alice,
            peer: pair.bob,
            channelId,
            deposit: DEPOSIT,
          }),
          claims,
        });

      {
        await using unpaid = await connect(false, "alice-no-claims");
        const { reply } = await unpaid.write(unpaid.sign("no claim"));
        assert(reply.type === "reject", "a packet without a claim must be rejected");
        assertEquals(reply.code, "T04");
        assertStringIncludes(reply.message, "not-covered");
      }
      let claimed: bigint;
      {
        await using payer = await connect(true, "alice");
        for (let i = 0; i < 3; i++) {
          const { reply } = await payer.write(payer.sign(`paid with a claim ${i}`));
          assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
        }
        claimed = payer.signer.transferred;
        assertEquals(payer.signer.nonce, 3n);
      }
      const health = await (await fetch(`http://127.0.0.1:${field("httpPort")}/health`)).json();
      assertEquals(health.events, 4, "3 paid writes and the town's own kind 10032");
      // The FULFILLs came after the claims were durable: the town's file holds the newest one.
      const file = await readChannel(channelFilePath(state, channelId));
      assertEquals(file.received, claimed);
      assertEquals(file.receivedNonce, 3n);
      assertMatch(file.receivedSignature ?? "", /^0x[0-9a-f]{130}$/);
    } finally {
      town.child.kill("SIGINT");
      const status = await town.done;
      assertEquals(status.code, 0, town.stderr.join("\n"));
    }
    // The town's database never enters its audit history.
    const tracked = await new Deno.Command("git", { args: ["-C", state, "ls-files"] }).output();
    const files = new TextDecoder().decode(tracked.stdout);
    assertStringIncludes(files, `channels/${channelId}.toml`);
    assert(!files.includes("town-events.sqlite"), files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("town up: a peer channel without a channel file is a clear error (exit 1)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_channel_" });
  const id = `0x${"ab".repeat(32)}`;
  const up = (...extra: string[]) =>
    runCli([
      "--state-dir",
      dir,
      "town",
      "up",
      "--generate-key",
      "--town-port",
      "0",
      "--btp-port",
      "0",
      "--peer",
      "alice:tok-alice",
      ...extra,
    ]);
  try {
    const missing = await up("--peer-channel", `alice:${id}:1000`);
    assertEquals(missing.code, 1, missing.stderr);
    assertStringIncludes(
      missing.stderr,
      `Error: peer "alice" settles over channel ${id}, which has no channel file`,
    );
    assertStringIncludes(
      missing.stderr,
      "Suggestion: run `turnpike channel recover` in the town's state dir",
    );
    assertEquals(missing.stdout, "", "nothing started");

    const badId = await up("--peer-channel", "alice:0x1234");
    assertEquals(badId.code, 2);
    assertStringIncludes(badId.stderr, "must be a 0x channel id");
    const notPeer = await up("--peer-channel", `bob:${id}`);
    assertEquals(notPeer.code, 2);
    assertStringIncludes(notPeer.stderr, `names "bob", which is not a peer`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
