/**
 * Agent tasks on the same base, end to end (docs/PROTOCOL.md "Agent work", the requester's cache
 * of sealed bundles): a town, the provider node with a scripted preset (a shell script, no model),
 * the real sandbox and git, and a requester profile driven through its CLI. The second task on the
 * base sends the first one's sealed blob: the same hash in its request, no second blob payment,
 * and it is delivered and applied as the first. A cache entry corrupted in the profile is dropped:
 * the third task bundles and seals afresh (a new blob, paid), and is delivered and applied too. A
 * fourth on a new base one commit on sends the third's blob again and a delta from its base
 * (docs/PROTOCOL.md "A new base as a delta"): one blob paid, and applied on the new base.
 */
import { assertEquals, assertNotEquals } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { BUNDLE_CACHE_DIR } from "../../roles/agent_work/requester/repository_bundle_cache.ts";

Deno.test("agent-task: a second task on the same base sends no repository blob again and is applied; a corrupted cache entry falls back to a fresh bundle, applied too; a new base goes as a delta", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "note.sh": "date +%s%N > note.txt && git add note.txt && git commit -q -m 'a note'",
    },
    network: (skills) => ({
      providerOptions: { agents: { note: scriptedPreset(skills, "note") } },
    }),
  });
  const { net, alice, repo } = kit;
  const state = `${net.root}/agent-home/alice`;
  await repo.commit("one", { "README.md": "a repository\n" });
  await repo.commit("two", { "README.md": "a repository, twice\n", "src.txt": "x\n" });

  /** One task, waited for and applied; its request's repository blob hash. */
  const task = async (n: number) => {
    const done = await alice(
      ...agentTaskArgs({
        repo: repo.dir,
        depth: 2,
        title: `note ${n}`,
        accept: "test -f note.txt",
        agent: "note",
        provider: net.providerPubkey!,
      }),
    );
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const result = done.lines.find((l) => l.type === "result")!;
    assertEquals(result.status, "done", JSON.stringify(result));
    const id = String(result.job);
    const applied = await alice("job", "results", id, "--apply");
    assertEquals(applied.code, 0, applied.stderr);
    assertEquals([applied.lines[0].created, applied.lines[0].verdict], [true, "passed"]);
    lastBranch = String(applied.lines[0].branch);
    const { events } = await queryRelay(net.relayUrl, [{ ids: [id] }]);
    return events[0].tags.filter((t) => t[0] === "x").map((t) => t[1]);
  };
  let lastBranch = "";
  /** The blob payments in the requester's log. */
  const blobPayments = async () =>
    (await openPaymentLog({ stateDir: state })).entries()
      .filter((e) => e.invoiceId.startsWith("blob-") && e.event === "fulfilled").length;

  const first = await task(1);
  assertEquals(await blobPayments(), 1);
  const second = await task(2);
  assertEquals(second, first);
  assertEquals(first.length, 1);
  assertEquals(await blobPayments(), 1);

  // A byte of the cached blob changed: the entry is dropped, a new blob made, sealed and paid.
  const dir = `${state}/${BUNDLE_CACHE_DIR}`;
  const name = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".sealed"))!.name;
  const bytes = await Deno.readFile(`${dir}/${name}`);
  bytes[100] ^= 1;
  await Deno.writeFile(`${dir}/${name}`, bytes);
  const third = await task(3);
  assertNotEquals(third, first);
  assertEquals(await blobPayments(), 2);

  // A new base one commit on: the third's blob again and a delta (one more blob paid, its own).
  const base = await repo.commit("three", { "src.txt": "y\n" });
  const fourth = await task(4);
  assertEquals(fourth.length, 2);
  assertEquals(fourth[0], third[0]);
  assertEquals(await blobPayments(), 3);
  // Applied on the new base: the provider's checkout was the new base's.
  const tip = await repo.git("rev-parse", `refs/heads/${lastBranch}`);
  assertEquals(await repo.git("rev-parse", `${tip}~1`), base);
  // The applied branches: four, each with its note.
  const branches = await repo.git("branch", "--list", "turnpike/*");
  assertEquals(branches.trim().split("\n").length, 4);
});
