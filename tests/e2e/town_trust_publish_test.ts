/**
 * A town publishes its trust of its peers (docs/PROTOCOL.md "Trust assertions (NIP-85)"): a real
 * `turnpike town up` process with `publish_trust` on, raw ILP packets over real BTP sockets, and
 * a requester profile driven through its CLI. The child, a channel-less peer whose
 * `[[town.peers]] pubkey` is set, spends its floor of 5,000 through the town and the payer pays
 * it back within the grace: 5,000 repaid on a span of 15,000 (ceiling 20,000), rank 25, which the
 * town signs with its own key into its own store at its next publication (its start here: the
 * interval is 10 minutes). Published again (restarted), it sends nothing: the rank is what it
 * published. alice, whose roster names the town, sees the town's word in `trust <npub>`.
 * Before, a town published nothing.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { nip19 } from "nostr-tools";
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { agentCli } from "../../harness/agent_cli.ts";
import { type CliTown, startCliTown } from "../../harness/cli_town.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { invoicePeers } from "../../harness/invoice_peers.ts";

const PRICE = 2_500n;

Deno.test("a town with publish_trust signs a rank of its channel-less peer from its repaid credit, sends it once, and a requester whose roster names the town sees it", async () => {
  const root = await Deno.makeTempDir({ prefix: "town_trust_publish_" });
  const child = getPublicKey(generateSecretKey());
  const townDir = `${root}/town`;
  await Deno.mkdir(townDir);
  await Deno.writeTextFile(`${root}/pw`, "town passphrase\n");
  const secret = ["--passphrase-file", `${root}/pw`, "--non-interactive"];
  await initWalletWithCli({ stateDir: townDir, passphraseFile: `${root}/pw` });
  await Deno.writeTextFile(
    `${townDir}/config.toml`,
    `[town]
ilp_address = "test.town"
peer_credit_limit = "5000"
peer_credit_ceiling = "20000"
peer_credit_grace = "600"
publish_trust = true

[[town.peers]]
account = "child"
token = "child-token"
pubkey = "${child}"

[[town.peers]]
account = "beta"
token = "beta-token"

[[town.peers]]
account = "payer"
token = "payer-token"
credit_limit = "1000000000000"

[[town.peers]]
account = "alice"
token = "alice"
credit_limit = "1000000000000"
`,
  );
  const startTown = () =>
    startCliTown({ stateDir: townDir, secret, ready: (l) => l.startsWith("  learns") });
  /** Stops the town; its `trust:` log lines (stderr, all read once it exited). */
  const stopForLines = async (town: CliTown) => {
    await town.stop();
    return town.process.stderr.filter((l) => l.startsWith("trust:"));
  };
  /** The child's repaid credit on the town's books (`town balances`, the town running). */
  const repaid = async () => {
    const shown = await runCli(["--state-dir", townDir, "--output", "json", "town", "balances"]);
    assertEquals(shown.code, 0, shown.stderr);
    const peers = JSON.parse(shown.stdout).peers as { account: string; repaid?: string }[];
    return peers.find((p) => p.account === "child")?.repaid;
  };
  // Every peer fulfils the invoices made for it.
  const peers = invoicePeers();
  const connect = (town: CliTown, token: string) =>
    peers.connect({ url: town.btpUrl, authToken: token });
  const pay = peers.pay;

  let town = await startTown();
  try {
    const townKey = town.field("pubkey");
    const [childLink, payerLink] = [
      await connect(town, "child-token"),
      await connect(town, "payer-token"),
    ];
    await connect(town, "beta-token");
    // The child spends its floor on the town's credit, and its earnings repay it in time.
    for (let i = 0; i < 2; i++) assertEquals((await pay(childLink, "beta", PRICE)).type, "fulfill");
    assertEquals((await pay(payerLink, "child", 5_000n)).type, "fulfill");
    // (The episode closes once the town has booked what it owes the child.)
    while (await repaid() !== "5000") await new Promise((resolve) => setTimeout(resolve, 100));
    await peers.close();
    // At its start it had no history of the child; beta, payer and alice have no pubkey.
    assertEquals(await stopForLines(town), [
      "trust: 0 assertions sent, 0 unchanged, 3 peers without a pubkey",
    ]);

    // The next publication (at start here) signs its rank: 100 * 5,000 / (5,000 + 15,000).
    town = await startTown();
    const { events } = await queryRelay(town.relayUrl, [{ kinds: [30382], authors: [townKey] }]);
    assertEquals(events.map((e) => e.tags), [[["d", child], ["rank", "25"]]]);
    const published = events[0].id;
    assertEquals(await stopForLines(town), [
      "trust: 1 assertions sent, 0 unchanged, 3 peers without a pubkey",
    ]);

    // Published again: the rank is what the store holds, nothing is sent.
    town = await startTown();
    const again = await queryRelay(town.relayUrl, [{ kinds: [30382], authors: [townKey] }]);
    assertEquals(again.events.map((e) => e.id), [published]);

    // alice's roster names the town: the town's word is in her trust of the child.
    const home = `${root}/home`;
    await Deno.mkdir(`${home}/alice`, { recursive: true });
    await initWalletWithCli({ stateDir: `${home}/alice`, passphraseFile: `${root}/pw` });
    await Deno.writeTextFile(
      `${home}/alice/config.toml`,
      `role = "requester"\nrelay_url = "${town.relayUrl}"\n` +
        `connector_btp_url = "${town.btpUrl.replace("btp+ws://", "btp+ws://alice:alice@")}"\n` +
        `btp_token = "alice"\n`,
    );
    const alice = agentCli({
      profile: "alice",
      env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" },
      secret,
    });
    const added = await alice("gt", "roster", "add", nip19.npubEncode(townKey), ...secret);
    assertEquals(added.code, 0, added.stderr + added.stdout);
    const out = await alice("trust", nip19.npubEncode(child), ...secret);
    assertEquals(out.code, 0, out.stderr + out.stdout);
    const seen = out.lines.find((l) => l.type === "trust");
    assert(seen !== undefined, out.stdout);
    assertEquals(
      (seen.roster as { author: string; rank: number; weight: number }[])
        .map((v) => [v.author, v.rank, v.weight]),
      [[townKey, 25, 4]],
    );
    // No receipt of her own: the town's word at weight 4 against the prior's 8.
    assertEquals(seen.rank, 12.5);
    assertEquals(await stopForLines(town), [
      "trust: 0 assertions sent, 1 unchanged, 3 peers without a pubkey",
    ]);
  } finally {
    await peers.close();
    await town.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
