/**
 * A key per Gas Town worker end to end (docs/PROTOCOL.md "Gas Town workers", docs/AGENTS.md "Gas
 * Town workers"): one Mayor's profile (its own node process, driven through its CLI), a town and
 * the real provider node whose agent preset is a shell script (no model). Two workers of the Mayor
 * post agent tasks under their own keys, derived from the profile's, while the profile pays;
 * `gt whois` names each and checks the Mayor's signature; the Mayor's roster (kind 3) leaves out
 * a provider not on it; a rotated key is no longer current and its old job still verifies.
 */
import { assert, assertEquals, assertNotEquals } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
  scriptedPreset,
} from "../../harness/agent_task_kit.ts";
import { ndjsonLines } from "../../harness/agent_cli.ts";
import { runCli } from "../../harness/run_cli.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { verifyEvent } from "../../protocol/event_verifier.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { nip19 } from "nostr-tools";

const P1 = "myrig/polecats/p1";
const MAX = "myrig/crew/max";

Deno.test("gastown workers: two workers of one Mayor post agent tasks under their own keys and whois names each; the roster leaves out a provider not on it; a rotated key is retired and its old job still verifies", async () => {
  const skills = await agentSkillsDir({
    "fix.sh": "set -e\nsed -i 's/\\$1 - \\$2/$1 + $2/' add.sh\ngit commit -q -am 'add: add'",
  });
  const preset = scriptedPreset(skills, "fix");
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { agents: { fix: preset } },
  });
  try {
    const alice = await requesterProfile(net);
    const home = `${net.root}/agent-home`;
    // The commands that pay or sign at the node (`gt roster add`, `gt rotate`) prove the passphrase.
    const mayor = async (...args: string[]) => {
      const out = await runCli(
        [
          "--profile",
          "alice",
          "--json",
          ...args,
          "--passphrase-file",
          `${home}/pw`,
          "--non-interactive",
        ],
        { env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" } },
      );
      return { ...out, lines: ndjsonLines(out.stdout) };
    };
    const profileKey = (await readWalletFile(walletFilePath(`${home}/alice`))).pubkey;
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
    const submit = (worker: string, provider: string) =>
      alice(
        "job",
        "submit",
        "agent-task",
        "--repo",
        repo.dir,
        "--title",
        "Fix add",
        "--accept",
        "sh test.sh",
        "--agent",
        "fix",
        "--bid",
        "1000000",
        "--provider",
        provider,
        "--timeout",
        "240",
        "--wait",
        "--worker",
        worker,
      );
    const resultOf = (out: { lines: Record<string, unknown>[] }) =>
      out.lines.find((l) => l.type === "result")!;

    // 1. The roster: none yet, then a stranger only; the real provider is left out and a job
    // for the roster is refused before anything is posted.
    assertEquals((await alice("gt", "roster", "list")).lines[0].roster, []);
    const stranger = getPublicKey(generateSecretKey());
    const added = await mayor("gt", "roster", "add", nip19.npubEncode(stranger));
    assertEquals(added.code, 0, added.stderr);
    assertEquals(added.lines.at(-1)!.roster, [stranger]);
    const offRoster = await alice("providers", "--roster");
    assertEquals(offRoster.code, 0, offRoster.stderr);
    assertEquals(offRoster.lines[0].providers, []);
    const refused = await submit(P1, "roster");
    assertEquals(refused.code, 2, refused.stderr);
    assert(!refused.lines.some((l) => l.type === "job" || l.type === "result"));
    const withProvider = await mayor("gt", "roster", "add", net.providerPubkey!);
    // At once after the first add, often within its second: the list must still be later.
    assertEquals(withProvider.code, 0, withProvider.stderr);
    assertEquals(withProvider.lines.at(-1)!.roster, [stranger, net.providerPubkey]);
    const onRoster = (await alice("providers", "--roster")).lines[0].providers as {
      pubkey: string;
    }[];
    assertEquals(onRoster.map((p) => p.pubkey), [net.providerPubkey]);

    // 2. Two workers post: the polecat to the provider by name, the crew member to the roster's.
    const first = await submit(P1, net.providerPubkey!);
    assertEquals(first.code, 0, first.stderr);
    const second = await submit(MAX, "roster");
    assertEquals(second.code, 0, second.stderr);
    const jobs = [resultOf(first), resultOf(second)];
    assertEquals(jobs.map((j) => j.status), ["done", "done"]);
    const ids = jobs.map((j) => String(j.job));
    const { events: requests } = await queryRelay(net.relayUrl, [{ ids }]);
    const authorOf = (id: string) => requests.find((e) => e.id === id)!.pubkey;
    const [p1Key, maxKey] = ids.map(authorOf);
    assertNotEquals(p1Key, maxKey);
    assertNotEquals(p1Key, profileKey);
    assertNotEquals(maxKey, profileKey);
    // The provider answered each worker: its result is addressed to the key that signed.
    const { events: results } = await queryRelay(net.relayUrl, [{ kinds: [6603], "#e": ids }]);
    for (const [i, id] of ids.entries()) {
      const result = results.find((e) => e.tags.some((t) => t[0] === "e" && t[1] === id))!;
      assertEquals(result.tags.find((t) => t[0] === "p")?.[1], [p1Key, maxKey][i]);
    }

    // 3. whois, by address and by npub: each named, its Mayor the profile, the signature checked.
    for (const [who, key, address] of [[P1, p1Key, P1], [nip19.npubEncode(maxKey), maxKey, MAX]]) {
      const out = await alice("gt", "whois", who);
      assertEquals(out.code, 0, out.stderr);
      const line = out.lines[0];
      assertEquals(
        [line.pubkey, line.address, line.town, line.mayor, line.mayorVerified, line.current],
        [key, address, net.relayUrl, profileKey, true, true],
      );
    }
    assertEquals((await alice("gt", "whois", nip19.npubEncode(profileKey))).code, 1);

    // 4. Rotation: the polecat's key replaced and the old one revoked by the Mayor; the old key
    // is no longer current, its binding still checks, and its job's events still verify.
    const rotated = await mayor("gt", "rotate", P1);
    assertEquals(rotated.code, 0, rotated.stderr);
    const line = rotated.lines.at(-1)!;
    assertEquals([line.retired, line.rotation], [p1Key, 1]);
    const newKey = String(line.current);
    assertNotEquals(newKey, p1Key);
    const old = (await alice("gt", "whois", nip19.npubEncode(p1Key))).lines[0];
    assertEquals([old.current, old.mayorVerified, old.rotation], [false, true, 0]);
    assertEquals((old.revoked as { replacedBy: string }).replacedBy, newKey);
    const now = (await alice("gt", "whois", P1)).lines[0];
    assertEquals([now.pubkey, now.current, now.rotation, now.mayor], [newKey, true, 1, profileKey]);
    const oldRequest = requests.find((e) => e.id === ids[0])!;
    verifyEvent(oldRequest);
    assertEquals(oldRequest.pubkey, p1Key);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});
