/**
 * What an agent-task is billed (docs/PROTOCOL.md "Who pays for what"), on real processes: a town,
 * the provider node with the agent-task skill and a scripted preset (a shell script, no model),
 * the real sandbox and git, and a requester profile driven through its CLI. A task whose result
 * is small costs its price (the skill's and the preset's) plus the writes its provider made for
 * it, counted here from the town itself: the provider's events about the job at the town's
 * price per byte and its blobs at the blob price.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { startRequesterNetwork } from "../support/requester_network.ts";
import { agentSkillsDir, requesterProfile } from "../support/agent_task_kit.ts";
import { tempGitRepo } from "../support/temp_git_repo.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB, priceBlob } from "../../protocol/blob_pricing.ts";

/** The agent-task skill's price (skills/agent-task/SKILL.md) and the preset's, base units. */
const SKILL_PRICE = 20_000n;
const PRESET_PRICE = 20_000n;
/** The test town's price per TOON byte. */
const PRICE_PER_BYTE = 10n;

Deno.test("agent-task: a task with a result under 1 KiB costs at most its price plus 10% plus the writes its provider made", async () => {
  const skills = await agentSkillsDir({
    "tiny.sh": "echo ok > done.txt && git add done.txt && git commit -q -m 'a line'",
  });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: {
      agents: {
        tiny: {
          name: "tiny",
          command: `sh ${skills}/agent-task/agents/tiny.sh`,
          price: PRESET_PRICE,
          budget: 1000n,
          flavor: "anthropic",
          upstream: "http://127.0.0.1:9",
          apiKey: "sk-unused",
          inputPerMillion: 1000n,
          outputPerMillion: 5000n,
          headers: {},
        },
      },
    },
  });
  try {
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    await repo.commit("base", { "README.md": "a repository\n" });
    const done = await alice(
      "job",
      "submit",
      "agent-task",
      "--repo",
      repo.dir,
      "--title",
      "add done.txt",
      "--accept",
      "test -f done.txt",
      "--agent",
      "tiny",
      "--bid",
      "1000000",
      "--provider",
      net.providerPubkey!,
      "--wait",
    );
    assertEquals(done.code, 0, done.stderr + done.stdout);
    const result = done.lines.find((l) => l.type === "result")!;
    const id = String(result.job);
    const shown = (await alice("job", "results", id)).lines[0];
    const report = shown.report as { bundle: { bytes: number } };
    assert(report.bundle.bytes < 1024, `bundle ${report.bundle.bytes} bytes`);

    // What the provider wrote for the job, as the town holds it.
    const { events } = await queryRelay(net.relayUrl, [
      { authors: [net.providerPubkey!], "#e": [id] },
    ]);
    const bytes = events.reduce(
      (n, e) => n + new TextEncoder().encode(encodeEventToon(e)).byteLength,
      0,
    );
    const blobs = events.flatMap((e) => e.tags.filter((t) => t[0] === "blob"))
      .reduce((n, t) => n + priceBlob(Number(t[4]), DEFAULT_BLOB_PRICE_PER_MIB), 0n);
    const written = PRICE_PER_BYTE * BigInt(bytes) + blobs;

    const costs = result.costs as { provider: string }[];
    const paid = BigInt(costs[0].provider);
    const price = SKILL_PRICE + PRESET_PRICE;
    assert(
      paid <= price + price / 10n + written,
      `paid ${paid}, price ${price}, the provider's writes ${written}`,
    );
    assert(paid >= price, `paid ${paid} < price ${price}`);
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});
