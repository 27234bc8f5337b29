/**
 * The requester's deposit bound from its trust of the provider (docs/PROTOCOL.md "The deposit
 * bound"), on real processes: a town, the provider node with the agent-task skill and a scripted
 * preset, the real sandbox and git, and a requester profile driven through its CLI with
 * `[requester] deposit_share = 1` and `deposit_share_trusted = 3` (percent of the bid). The
 * task's deposit is 20% of its 40,000 price plus the write that asks it, about 16,000 of a
 * 1,000,000 bid: over a stranger's 10,000, within what a provider with one paid task on the
 * profile's signed receipts gets. Before, the whole deposit was paid whoever the provider was.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { nip19 } from "nostr-tools";

const BID = 1_000_000n;
/** A stranger's share (1% of the bid) and the most a trusted provider gets (3%). */
const FLOOR = BID / 100n;
const CEILING = 3n * BID / 100n;

Deno.test("agent-task: a stranger provider is paid at most the floor share of the bid up front (its deposit over it is refused before anything is paid), a provider with paid history the larger share its trust gives", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "tiny.sh": "echo ok > done.txt && git add done.txt && git commit -q -m 'a line'",
    },
    network: (skills) => ({
      providerOptions: { agents: { tiny: scriptedPreset(skills, "tiny", { price: 20_000n }) } },
    }),
  });
  const { net, alice, repo } = kit;
  const config = `${net.root}/agent-home/alice/config.toml`;
  const plain = await Deno.readTextFile(config);
  const shares = (floor: number, trusted: number) =>
    Deno.writeTextFile(
      config,
      `${plain}\n[requester]\ndeposit_share = ${floor}\ndeposit_share_trusted = ${trusted}\n`,
    );
  await repo.commit("base", { "README.md": "a repository\n" });
  const task = (title: string) =>
    alice(...agentTaskArgs({
      repo: repo.dir,
      title,
      accept: "test -f done.txt",
      agent: "tiny",
      bid: BID,
      provider: net.providerPubkey!,
    }));
  /** What the profile paid for the job, in the order paid (the deposit first). */
  const paid = async (id: string) =>
    (await alice("wallet", "history", "--job", id)).lines
      .filter((l) => l.type === "payment" && l.category === "job")
      .map((l) => BigInt(String(l.amount)));
  const jobOf = (out: Awaited<ReturnType<typeof alice>>) =>
    String(
      out.lines.find((l) => l.type === "result")?.job ??
        out.lines.find((l) => l.type === "job")?.id,
    );

  // A stranger: the bound is the floor, the deposit over it is refused before any payment.
  await shares(1, 3);
  const stranger = await task("as a stranger");
  const bound = stranger.lines.find((l) => l.type === "deposit-bound");
  assertEquals(bound?.depositMax, String(FLOOR), stranger.stdout + stranger.stderr);
  assertEquals(bound?.trust, 0);
  const refusedId = jobOf(stranger);
  const before = await paid(refusedId);
  assert(before.reduce((a, b) => a + b, 0n) <= FLOOR, `paid ${before} up front`);
  assertEquals(stranger.code, 1, stranger.stderr + stranger.stdout);
  const result = stranger.lines.find((l) => l.type === "result");
  assertEquals(result?.status, "error");
  assertStringIncludes(
    String(result?.error),
    "refused: deposit-over-bound: the deposit ",
  );
  assertStringIncludes(String(result?.error), `is over the ${FLOOR} the requester pays`);
  assertEquals(before, []);

  // One task paid in full (no bound), its receipt signed: the provider has paid history.
  await shares(100, 100);
  const first = await task("history");
  assertEquals(first.code, 0, first.stderr + first.stdout);
  const trust = await alice(
    "trust",
    nip19.npubEncode(net.providerPubkey!),
    "--passphrase-file",
    `${net.root}/agent-home/pw`,
    "--non-interactive",
  );
  assertEquals(trust.code, 0, trust.stderr + trust.stdout);
  const rank = Number(trust.lines.find((l) => l.type === "trust")?.rank);
  assert(rank > 0, trust.stdout);

  // Trusted now: the bound grows with its rank, and the deposit is paid within it.
  await shares(1, 3);
  const trusted = await task("as a trusted provider");
  assertEquals(trusted.code, 0, trusted.stderr + trusted.stdout);
  const grown = BigInt(String(trusted.lines.find((l) => l.type === "deposit-bound")?.depositMax));
  assertEquals(grown, FLOOR + (CEILING - FLOOR) * BigInt(Math.round(rank * 10)) / 1000n);
  const [deposit] = await paid(jobOf(trusted));
  assert(deposit > FLOOR && deposit <= grown, `deposit ${deposit}, bound ${grown}`);
  console.log(
    `deposit ${deposit}: a stranger's bound ${FLOOR} (refused, nothing paid), ` +
      `at trust ${rank} the bound ${grown} (paid)`,
  );
});
