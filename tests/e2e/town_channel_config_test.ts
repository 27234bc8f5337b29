/**
 * `turnpike town up` with a peer that settles over a payment channel, configured in TOML, on a
 * real anvil with the real contracts: the town's channel file comes from `turnpike channel
 * recover`, the town runs as a subprocess and prints which peer settles over which channel; the
 * peer's paid write is rejected T04 without claims and fulfilled with claims from a BtpClient,
 * and the town's channel file then holds the peer's newest claim. A missing channel file stops
 * the town with a clear error and exit 1; malformed channel settings are usage errors.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { startChannelPair } from "../../harness/anvil_channel_pair.ts";
import { startChannelCliTown } from "../support/channel_cli_town.ts";
import { connectClaimClient } from "../../harness/channel_town.ts";
import { runCli } from "../../harness/run_cli.ts";
import { channelFilePath, readChannel } from "../../state/channels/channel_file.ts";

const DEPOSIT = 50_000_000n;

Deno.test("town up: a TOML peer channel gates the peer's packets with claims (anvil)", async () => {
  await using pair = await startChannelPair();
  await using t = await startChannelCliTown(pair, {
    prefix: "town_channel_",
    deposit: DEPOSIT,
    alice: false,
  });
  const { channelId, dir, townState: state, town } = t;
  const settles = town.readyLine;
  assertStringIncludes(settles, `alice over channel ${channelId}`);
  assertStringIncludes(settles, "local anvil (evm:base:31337, local)");
  assertStringIncludes(settles, `peer ${pair.alice.address}`);
  assertEquals(town.field("ilpAddress"), "test.chtown");
  const connect = (claims: boolean, sub: string) =>
    connectClaimClient({
      url: town.btpUrl,
      townAddress: "test.chtown",
      townPubkey: town.field("pubkey"),
      stateDir: `${dir}/${sub}`,
      secretKey: pair.aliceKey,
      record: t.channel.aliceRecord,
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
  const health = await (await fetch(`${town.httpUrl}/health`)).json();
  assertEquals(health.events, 4, "3 paid writes and the town's own kind 10032");
  // The FULFILLs came after the claims were durable: the town's file holds the newest one.
  const file = await readChannel(channelFilePath(state, channelId));
  assertEquals(file.received, claimed);
  assertEquals(file.receivedNonce, 3n);
  assertMatch(file.receivedSignature ?? "", /^0x[0-9a-f]{130}$/);
  await town.stop();
  // The town's database never enters its audit history.
  const tracked = await new Deno.Command("git", { args: ["-C", state, "ls-files"] }).output();
  const files = new TextDecoder().decode(tracked.stdout);
  assertStringIncludes(files, `channels/${channelId}.toml`);
  assert(!files.includes("town-events.sqlite"), files);
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
