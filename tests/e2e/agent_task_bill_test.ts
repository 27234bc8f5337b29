/**
 * What an agent-task is billed (docs/PROTOCOL.md "Who pays for what"), on real processes: a town,
 * the provider node with the agent-task skill and a scripted preset (a shell script, no model),
 * the real sandbox and git, and a requester profile driven through its CLI. A task whose result
 * is small costs its price (the skill's and the preset's) plus the writes its provider made for
 * it, counted here from the town itself: the provider's events about the job at the town's
 * price per byte and its blobs at the blob price.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { agentTaskArgs, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { queryRelay } from "../../transport/relay_query.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB, priceBlob } from "../../protocol/blob_pricing.ts";

/** The agent-task skill's price (skills/agent-task/SKILL.md) and the preset's, base units. */
const SKILL_PRICE = 20_000n;
const PRESET_PRICE = 20_000n;
/** The test town's price per TOON byte. */
const PRICE_PER_BYTE = 10n;

Deno.test("agent-task: --quote prints the parts and posts and pays nothing; a task with a result under 1 KiB then costs at most its price plus 10% plus the writes its provider made, its deposit the quoted one", async () => {
  await using kit = await startAgentTaskNetwork({
    scripts: {
      "tiny.sh": "echo ok > done.txt && git add done.txt && git commit -q -m 'a line'",
    },
    network: (skills) => ({
      providerOptions: {
        agents: {
          tiny: scriptedPreset(skills, "tiny", {
            price: PRESET_PRICE,
            inputPerMillion: 1000n,
            outputPerMillion: 5000n,
          }),
        },
      },
    }),
  });
  const { net, alice, repo } = kit;
  await repo.commit("base", { "README.md": "a repository\n" });

  // The quote: read from the provider's 31990, nothing posted (the town holds no event of
  // the requester's), nothing paid (no payment in the wallet's history).
  const othersEvents = async () =>
    (await queryRelay(net.relayUrl, [{ limit: 500 }], { maxEvents: 500 })).events
      .filter((e) => e.pubkey !== net.providerPubkey).length;
  const eventsBefore = await othersEvents();
  const quoted = await alice(
    "job",
    "submit",
    "agent-task",
    "--agent",
    "tiny",
    "--bid",
    "1000000",
    "--quote",
  );
  assertEquals(quoted.code, 0, quoted.stderr + quoted.stdout);
  const quote = quoted.lines.find((l) => l.type === "quote")!;
  console.log(`quote: ${JSON.stringify(quote)}`);
  assertEquals(
    [quote.price, quote.skillPrice, quote.presetPrice, quote.onDelivery, quote.posted],
    [String(SKILL_PRICE + PRESET_PRICE), String(SKILL_PRICE), String(PRESET_PRICE), 80, false],
  );
  assertEquals(quote.model, {
    inputPerMillion: "1000",
    outputPerMillion: "5000",
    paidBy: "provider",
  });
  assertEquals(BigInt(String(quote.deliveryShare)), (SKILL_PRICE + PRESET_PRICE) * 80n / 100n);
  assertEquals(
    BigInt(String(quote.deposit)),
    (SKILL_PRICE + PRESET_PRICE) / 5n + BigInt(String(quote.depositWrites)),
  );
  // In text: the same parts, who pays the model; `providers` shows the preset's price.
  const env = { TURNPIKE_HOME: `${net.root}/agent-home` };
  const text = await runCli(
    ["--profile", "alice", "job", "submit", "agent-task", "--agent", "tiny", "--quote"],
    { env },
  );
  assertEquals(text.code, 0, text.stderr);
  for (
    const part of ["price         40000 (skill 20000 + preset 20000)", "paid by the provider"]
  ) {
    assertStringIncludes(text.stdout, part);
  }
  assertStringIncludes(text.stdout, "nothing posted, nothing paid");
  const listed = await runCli(["--profile", "alice", "providers"], { env });
  assertStringIncludes(listed.stdout, "preset tiny");
  assertStringIncludes(listed.stdout, "+ 0.02 USD");
  assertEquals(await othersEvents(), eventsBefore);
  const history = await alice("wallet", "history");
  assertEquals(history.lines.filter((l) => l.type === "payment"), []);
  const done = await alice(
    ...agentTaskArgs({
      repo: repo.dir,
      title: "add done.txt",
      accept: "test -f done.txt",
      agent: "tiny",
      provider: net.providerPubkey!,
    }),
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

  const costs = result.costs as {
    provider: string;
    providerParts?: { price: string; writes: string; blobs: string };
  }[];
  const paid = BigInt(costs[0].provider);
  const price = SKILL_PRICE + PRESET_PRICE;
  assert(
    paid <= price + price / 10n + written,
    `paid ${paid}, price ${price}, the provider's writes ${written}`,
  );
  assert(paid >= price, `paid ${paid} < price ${price}`);
  // The deposit is the quoted one; the delivery its share and the writes made, within the
  // reserve.
  const receipts = (result.receipts as { amount: string }[]).map((r) => BigInt(r.amount));
  assertEquals(receipts[0], BigInt(String(quote.deposit)));
  const deliveryWrites = receipts[1] - BigInt(String(quote.deliveryShare));
  assert(deliveryWrites > 0n && deliveryWrites <= BigInt(String(quote.writesReserved)));
  // The result's costs and the wallet's history say each part.
  assertEquals(costs[0].providerParts, {
    price: String(price),
    writes: String(paid - price - BigInt(costs[0].providerParts!.blobs)),
    blobs: costs[0].providerParts!.blobs,
  });
  const lines = (await alice("wallet", "history", "--job", id)).lines
    .filter((l) => l.type === "payment" && l.category === "job");
  assertEquals(lines.map((l) => (l.parts as { price: string }).price), ["8000", "32000"]);
  console.log(
    `billed: deposit ${receipts[0]}, delivery ${receipts[1]} (share ${quote.deliveryShare} + ` +
      `writes ${deliveryWrites}); the provider's writes on the town ${written}`,
  );
});
