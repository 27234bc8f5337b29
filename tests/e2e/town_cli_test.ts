/**
 * `turnpike town up` as a user runs it: a real subprocess with ephemeral ports, printing its
 * ILP address, pubkey and the ports it chose; a child peer pays for a write over BTP; NIP-11 is
 * served on the printed port; SIGINT stops it cleanly. Also the refusals: no wallet and no
 * --generate-key, and a malformed --peer.
 */
import { connectPayingClient } from "../../harness/town_test_node.ts";
import { runCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";

Deno.test("town up: prints its ports and identity, takes a paid write, stops on SIGINT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_cli_" });
  const town = spawnCli([
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
    "--ilp-address",
    "test.clitown",
  ]);
  try {
    await town.waitForLine((l) => l.includes("identity"));
    const out = town.stdout();
    const field = (name: string) => out.match(new RegExp(`^  ${name}\\s+(\\S+)$`, "m"))?.[1] ?? "";
    assertEquals(field("ilpAddress"), "test.clitown");
    assertMatch(field("pubkey"), /^[0-9a-f]{64}$/);
    const btpPort = Number(field("btpPort"));
    const httpPort = Number(field("httpPort"));
    assertEquals(field("btpUrl"), `btp+ws://127.0.0.1:${btpPort}`);
    assertEquals(town.stderr[0], "Network: local (test funds)");
    assertStringIncludes(out, "  network     local (test funds)");

    const alice = await connectPayingClient({
      url: `btp+ws://127.0.0.1:${btpPort}`,
      token: "tok-alice",
      townAddress: "test.clitown",
      townPubkey: field("pubkey"),
    });
    const reply = await alice.write(alice.sign({ content: "via the CLI town" }));
    assertEquals(reply.type, "fulfill");
    await alice.close();

    const nip11 = await fetch(`http://127.0.0.1:${httpPort}/`, {
      headers: { accept: "application/nostr+json" },
    });
    assertStringIncludes(nip11.headers.get("content-type") ?? "", "application/nostr+json");
    assertStringIncludes(JSON.stringify(await nip11.json()), "test.clitown");
    const health = await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json();
    assertEquals(health.events, 2, "the paid write and the town's own kind 10032");
  } finally {
    town.child.kill("SIGINT");
    const status = await town.done;
    await Deno.remove(dir, { recursive: true });
    assertEquals(status.code, 0);
    assertStringIncludes(town.stdout(), "town stopped");
  }
});

Deno.test("town up: refuses to start without an identity, and on a malformed --peer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_cli_" });
  try {
    const noWallet = await runCli([
      "--state-dir",
      dir,
      "town",
      "up",
      "--town-port",
      "0",
      "--btp-port",
      "0",
      "--non-interactive",
    ]);
    assertEquals(noWallet.code, 1);
    assertStringIncludes(noWallet.stderr, "Error: the town has no identity");
    assertStringIncludes(noWallet.stderr, "--generate-key");
    const badPeer = await runCli([
      "--state-dir",
      dir,
      "town",
      "up",
      "--generate-key",
      "--peer",
      "nocolon",
    ]);
    assertEquals(badPeer.code, 2);
    assertStringIncludes(badPeer.stderr, "--peer must be account:token");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("town up --network mainnet says MAINNET (real funds) first, in text and JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_cli_mainnet_" });
  const town = spawnCli([
    "--state-dir",
    dir,
    "--output",
    "json",
    "town",
    "up",
    "--generate-key",
    "--network",
    "mainnet",
    "--town-port",
    "0",
    "--btp-port",
    "0",
  ]);
  try {
    const info = JSON.parse(await town.waitForLine((l) => l.includes('"town-up"')));
    assertEquals(info.network, "MAINNET (real funds)");
    assertEquals(town.stderr[0], "Network: MAINNET (real funds)");
  } finally {
    town.child.kill("SIGINT");
    await town.done;
    await Deno.remove(dir, { recursive: true });
  }
});
