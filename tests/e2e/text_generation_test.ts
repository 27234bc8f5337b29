/**
 * text-generation end to end (docs/PROTOCOL.md "text-generation (kind 5050)"): a town, the real
 * provider node with the text-generation skill and model presets calling a stand-in
 * OpenAI-compatible server (harness/stand_in_model_api.ts, a mock: no real model can run
 * here) in the chat and responses shapes, streamed and not, and a requester profile driven
 * through its CLI (its own node process).
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { requesterProfile } from "../../harness/agent_task_kit.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import { parseModelPresets } from "../../config/model_presets.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";
import { readBillTag } from "../../protocol/bill_tag.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

const SKILL = new URL("../../skills/text-generation/SKILL.md", import.meta.url).pathname;
const ANSWER =
  "A fox, quick and brown, jumps over a lazy dog; the dog sleeps on, and the fox runs " +
  "into the woods before the sun goes down.";
/** Every answer's usage, as the stand-in reports it. */
const USAGE = { input: 1000, output: 200 };
/** The skill's price and each preset's. */
const SKILL_PRICE = 100n, PRESET_PRICE = 300n;
/** 1 unit per input token, 5 per output token: 1000 + 1000 units an answer. */
const TOKENS_COST = 2000n;

Deno.test("text-generation: a job on each API shape is done, streamed as ordered partials and billed base + the upstream's tokens; a bid that cannot pay the prompt is refused before any payment", async () => {
  const apiKey = `sk-provider-${crypto.randomUUID()}`;
  await using api = await startStandInModelApi({
    apiKey,
    usage: USAGE,
    text: ANSWER,
    chunkDelayMs: 25,
  });
  const skills = await Deno.makeTempDir({ prefix: "turnpike-textgen-skills-" });
  await Deno.mkdir(`${skills}/text-generation`);
  await Deno.copyFile(SKILL, `${skills}/text-generation/SKILL.md`);
  const preset = (api_: string, stream: boolean) => ({
    upstream: api.url,
    api: api_,
    model: "stand-in",
    api_key_env: "TEXTGEN_TEST_KEY",
    price: Number(PRESET_PRICE),
    input_per_million: 1_000_000,
    output_per_million: 5_000_000,
    stream,
  });
  const models = parseModelPresets({
    chat: preset("chat", true),
    "chat-whole": preset("chat", false),
    responses: preset("responses", true),
    "responses-whole": preset("responses", false),
  }, { env: () => apiKey });
  const net = await startRequesterNetwork({
    providerSkillsDir: skills,
    providerOptions: { models, partialEveryMs: 50 },
  });
  try {
    const alice = await requesterProfile(net);
    // The presets, with their prices, in the provider's 31990.
    const listed = (await alice("providers")).lines[0].providers as {
      skills: { name: string; price: string; models?: { name: string; price: string }[] }[];
    }[];
    const served = listed.flatMap((p) => p.skills).find((s) => s.name === "text-generation");
    assertEquals(served?.models?.map((m) => [m.name, m.price]), [
      ["chat", "300"],
      ["chat-whole", "300"],
      ["responses", "300"],
      ["responses-whole", "300"],
    ]);
    const quoted = BigInt(served!.price);

    const submit = (model: string, bid: bigint) =>
      alice(
        "job",
        "submit",
        "text-generation",
        "--input",
        "text:Summarize the fable of the fox and the dog",
        "--param",
        `model=${model}`,
        "--bid",
        String(bid),
        "--provider",
        net.providerPubkey!,
        "--wait",
      );
    const events = async (job: string, kind: number) =>
      (await net.town.store.query([{ kinds: [kind], "#e": [job] }]))
        .map((s) => decodeEventToon(s.toon));
    const paidIn = async (job: string) =>
      (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries()
        .filter((l) => l.jobId === job && l.direction === "in");

    for (const model of ["chat", "chat-whole", "responses", "responses-whole"]) {
      const done = await submit(model, 1_000_000n);
      assertEquals(done.code, 0, done.stderr + done.stdout);
      const result = done.lines.find((l) => l.type === "result")!;
      assertEquals(result.status, "done", JSON.stringify(result));
      const job = String(result.job);
      const [answer] = await events(job, 6050);
      assertEquals(answer.content, ANSWER, model);
      // Streamed: a few partials, numbered in order, whose texts are the answer's beginning.
      const partials = (await events(job, 7000))
        .map((e) => ({ e, status: e.tags.find((t) => t[0] === "status") }))
        .filter(({ status }) => status?.[1] === "partial")
        .map(({ e, status }) => ({ n: Number(status![2]?.replace("part ", "")), text: e.content }))
        .sort((a, b) => a.n - b.n);
      if (model.endsWith("-whole")) assertEquals(partials.length, 0, model);
      else {
        assert(partials.length >= 2 && partials.length <= 8, `${model}: ${partials.length}`);
        assertEquals(partials.map((p) => p.n), partials.map((_, i) => i + 1));
        const streamed = partials.map((p) => p.text).join("");
        assert(streamed.length > 0 && ANSWER.startsWith(streamed), streamed);
      }
      // Billed: the skill's and the preset's prices plus the tokens the upstream counted, at the
      // preset's prices (deposit and delivery, each with its parts).
      const deposit = (await events(job, 7000)).find((e) =>
        e.tags.some((t) => t[0] === "status" && t[1] === "payment-required")
      )!;
      const amountOf = (e: { tags: string[][] }) =>
        BigInt(e.tags.find((t) => t[0] === "amount")![1]);
      const parts = [deposit, answer].map((e) => readBillTag(e.tags, amountOf(e))!);
      const price = parts.reduce((sum, p) => sum + BigInt(p.price), 0n);
      assertEquals(price, SKILL_PRICE + PRESET_PRICE + TOKENS_COST, model);
      const paid = await paidIn(job);
      assertEquals(paid.length, 2, model);
      assertEquals(
        paid.reduce((sum, p) => sum + BigInt(p.amount), 0n),
        amountOf(deposit) + amountOf(answer),
      );
    }
    // The provider's key reached the upstream; the model asked for is the preset's.
    const calls = api.seen.filter((r) => r.target === "/v1/chat/completions");
    assert(calls.every((r) => r.headers.authorization === `Bearer ${apiKey}`));
    assertEquals(JSON.parse(calls[0].body).model, "stand-in");

    // A bid that leaves 50 units for tokens: the prompt alone may cost more. Refused before any
    // payment, with the reason.
    const seen = api.seen.length;
    const low = await submit("chat", quoted + PRESET_PRICE + 50n);
    assertEquals(low.code === 0, false, low.stdout);
    const ended = low.lines.find((l) => l.type === "result")!;
    assertEquals(ended.status, "error", JSON.stringify(ended));
    assertStringIncludes(String(ended.error), "budget: the bid leaves 50 for tokens");
    assertEquals((await paidIn(String(ended.job))).length, 0);
    assertEquals(api.seen.length, seen, "the upstream was not called");
  } finally {
    await net.stop();
  }
});
