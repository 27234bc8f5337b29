/**
 * Trust assertions end to end (docs/PROTOCOL.md "Trust assertions (NIP-85)"): a town, two real
 * provider nodes serving kind 5601 (x at 1,000, y at 500) and three requester profiles driven
 * through their CLIs. bob and carol each run a job on x and publish their trust as kind 30382
 * assertions; alice, who has no receipt of x, follows bob only (her roster, kind 3). Her trust of
 * x, her `providers` order and her `--provider auto` pick move with bob's word and never with
 * carol's.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli } from "../../harness/run_cli.ts";
import { agentCli } from "../../harness/agent_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { makeSkillsDir } from "../../harness/provider_test_kit.ts";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { nip19 } from "nostr-tools";

const ECHO = "#!/bin/sh\ncat > /dev/null\nprintf ok\n";
/** Above both providers' prices (the skill's plus the writes it announces). */
const BID = "1000000";

Deno.test("trust assertions: a profile's published ranks reach another through its roster and reorder its providers and its auto pick; an assertion from a key outside the roster changes nothing", async (t) => {
  const net = await startRequesterNetwork({ provider: false });
  const stops: (() => Promise<void>)[] = [];
  try {
    // Two providers of kind 5601: x dearer, y cheaper.
    const provider = async (name: string, price: number) => {
      const key = generateSecretKey();
      const node = await startProviderNode({
        stateDir: `${net.root}/${name}`,
        secretKey: key,
        btpUrl: net.btpUrl.replace("btp+ws://", `btp+ws://${name}:p@`),
        btpToken: "p",
        relayUrl: net.relayUrl,
        townPubkey: net.town.pubkey,
        townAddress: net.town.ilpAddress,
        skillsDir: await makeSkillsDir(`${net.root}/${name}-skills`, [], [
          { name: `say-${name}`, kinds: [5601], price, run: ECHO },
        ]),
        heartbeatMs: 3_600_000,
      });
      stops.unshift(() => node.stop());
      return getPublicKey(key);
    };
    const x = await provider("x", 20_000);
    const y = await provider("y", 1_000);

    // Three requester profiles under one home, each its own wallet and BTP account.
    const home = `${net.root}/home`;
    await Deno.mkdir(home, { recursive: true });
    await Deno.writeTextFile(`${home}/pw`, "profile passphrase\n");
    const secret = ["--passphrase-file", `${home}/pw`, "--non-interactive"];
    const profile = async (name: string) => {
      const state = `${home}/${name}`;
      await Deno.mkdir(state, { recursive: true });
      await initWalletWithCli({ stateDir: state, passphraseFile: `${home}/pw` });
      await Deno.writeTextFile(
        `${state}/config.toml`,
        `role = "requester"\nrelay_url = "${net.relayUrl}"\n` +
          `connector_btp_url = "${
            net.btpUrl.replace("btp+ws://", `btp+ws://${name}:${name}@`)
          }"\n` +
          `btp_token = "${name}"\n`,
      );
      const cli = agentCli({
        profile: name,
        env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" },
        secret,
      });
      const pubkey = (await readWalletFile(walletFilePath(state))).pubkey;
      return { cli, pubkey };
    };
    const [alice, bob, carol, dave] = [
      await profile("alice"),
      await profile("bob"),
      await profile("carol"),
      await profile("dave"),
    ];
    const echoOn = async (who: typeof bob, provider: string) => {
      const out = await who.cli(
        ...["job", "submit", "5601", "--input", "text:hi", "--bid", BID],
        ...["--provider", provider, "--timeout", "60", "--wait"],
      );
      assertEquals(out.code, 0, out.stderr + out.stdout);
      assertEquals(out.lines.find((l) => l.type === "result")?.status, "done", out.stdout);
    };
    const publish = async (who: typeof bob, ...flags: string[]) => {
      const out = await who.cli("trust", "publish", ...flags, ...secret);
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return out.lines;
    };
    const trustOf = async (subject: string) => {
      const out = await alice.cli("trust", nip19.npubEncode(subject), ...secret);
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return out.lines.find((l) => l.type === "trust")!;
    };
    const listing = async () => {
      const out = await alice.cli("providers", "--kind", "5601");
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return out.lines[0].providers as { pubkey: string; skills: { price: string }[] }[];
    };
    const order = async () => (await listing()).map((p) => p.pubkey);
    const auto = async (bid: string) => {
      const out = await alice.cli(
        ...["job", "submit", "5601", "--input", "text:hi", "--bid", bid],
        ...["--provider", "auto", "--timeout", "60", "--wait"],
      );
      assertEquals(out.code, 0, out.stderr + out.stdout);
      const pick = out.lines.find((l) => l.type === "pick");
      assert(pick !== undefined, out.stdout);
      assertEquals(out.lines.find((l) => l.type === "result")?.provider, pick.provider);
      return pick;
    };

    // bob and carol each have done work from x, and publish what their receipts say.
    await echoOn(bob, x);
    await echoOn(carol, x);
    const bobSaid = await publish(bob);
    const asserted = bobSaid.filter((l) => l.type === "asserted");
    assertEquals(asserted.map((l) => l.subject), [x]);
    const bobRank = Number(asserted[0].rank);
    assert(bobRank >= 20, `bob's rank of x: ${bobRank}`);
    // With its first assertions, its rank services (kind 10040): itself.
    assertEquals(bobSaid.find((l) => l.type === "services")?.services, [
      { pubkey: bob.pubkey, relay: net.relayUrl },
    ]);
    const carolSaid = (await publish(carol)).filter((l) => l.type === "asserted");
    assertEquals(carolSaid.map((l) => l.subject), [x]);
    const carolRank = Number(carolSaid[0].rank);
    // Published again with nothing changed: nothing is sent, the list neither.
    const again = await publish(bob);
    assertEquals(again.find((l) => l.type === "published")?.sent, 0);
    assertEquals(again.find((l) => l.type === "services"), undefined);
    const { events } = await queryRelay(net.relayUrl, [{ kinds: [30382], "#d": [x] }]);
    assertEquals(events.map((e) => e.pubkey).sort(), [bob.pubkey, carol.pubkey].sort());

    await t.step("assertions from keys outside the roster change nothing", async () => {
      const stranger = getPublicKey(generateSecretKey());
      const added = await alice.cli("gt", "roster", "add", nip19.npubEncode(stranger), ...secret);
      assertEquals(added.code, 0, added.stderr + added.stdout);
      const seen = await trustOf(x);
      assertEquals([seen.rank, seen.ownRank, seen.roster], [0, 0, []]);
      // (No job of hers yet: one would give her own receipt of its provider.)
      assertEquals(await order(), [y, x], "the cheaper first when neither is trusted");
    });

    await t.step(
      "a roster key's assertion raises the trust, the order and the auto pick",
      async () => {
        const added = await alice.cli(
          "gt",
          "roster",
          "add",
          nip19.npubEncode(bob.pubkey),
          ...secret,
        );
        assertEquals(added.code, 0, added.stderr + added.stdout);
        const seen = await trustOf(x);
        // No receipt of her own: bob's word at weight 4 against the prior's 8, half his rank.
        assertEquals(seen.rank, bobRank / 2);
        assertEquals(
          (seen.roster as { author: string; rank: number; weight: number }[])
            .map((v) => [v.author, v.rank, v.weight]),
          [[bob.pubkey, bobRank, 4]],
        );
        assertEquals((await trustOf(y)).rank, 0);
        assertEquals(await order(), [x, y], "the trusted one first, though dearer");
        const price = new Map((await listing()).map((p) => [p.pubkey, BigInt(p.skills[0].price)]));
        const pick = await auto(BID);
        assertEquals([pick.provider, pick.price], [x, String(price.get(x))]);
        // Within the bid only: with x above it, the cheaper one.
        const between = (price.get(x)! + price.get(y)!) / 2n;
        assertEquals((await auto(String(between))).provider, y);
      },
    );

    await t.step(
      "a roster key's rank service (kind 10040) speaks for it; a service no roster key names does not",
      async () => {
        // dave has no receipt: he names carol as the service whose ranks speak for him.
        const listed = await publish(dave, "--service", nip19.npubEncode(carol.pubkey));
        assertEquals(listed.find((l) => l.type === "services")?.services, [
          { pubkey: carol.pubkey, relay: net.relayUrl },
        ]);
        // Not on alice's roster yet: carol's word (through dave's list) changes nothing.
        const before = await trustOf(x);
        assertEquals(
          (before.roster as { author: string }[]).map((v) => v.author),
          [bob.pubkey],
        );
        const added = await alice.cli(
          "gt",
          "roster",
          "add",
          nip19.npubEncode(dave.pubkey),
          ...secret,
        );
        assertEquals(added.code, 0, added.stderr + added.stdout);
        const seen = await trustOf(x);
        const voices =
          (seen.roster as { author: string; rank: number; weight: number; via?: string }[])
            .map((v) => [v.author, v.rank, v.weight, v.via]).sort();
        assertEquals(
          voices,
          [
            [bob.pubkey, bobRank, 4, undefined],
            [dave.pubkey, carolRank, 4, carol.pubkey],
          ].sort(),
        );
        // Two voices at 4 each (the prior's 8 shared): carol's rank counts as dave's word.
        assertEquals(seen.ownRank, before.ownRank);
      },
    );
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await net.stop();
  }
});
