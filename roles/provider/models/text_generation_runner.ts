/**
 * The runner of `runner: model` skills (skills/text-generation, kind 5050; docs/SKILLS.md
 * "text-generation"): the provider calls the job's model preset itself (model_call.ts), with no
 * sandbox, since no code of the requester runs: the job gives a prompt and a few params, read
 * and bounded by text_generation_request.ts. The answer streams back to the requester as a few
 * `partial` feedbacks (each a paid write, so pieces are batched: one at most every
 * `partialEveryMs`, at most {@linkcode MAX_PARTIALS} a job, the rest in the result), and the
 * tokens the upstream reports, at the preset's prices and within the job's budget, are what the
 * run's `metered` hook bills with the delivery.
 *
 * @module
 */
import type { ModelPreset } from "../../../config/model_presets.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { microCost, unitsOf } from "../../agent_work/provider/gateway_meter.ts";
import type { RunHooks, SkillRunner } from "../jobs/job_run.ts";
import type { SkillJob, SkillOutcome } from "../sandbox/skill_sandbox.ts";
import { callModel, ModelCallError } from "./model_call.ts";
import { TextGenerationRefusedError, textGenerationRequest } from "./text_generation_request.ts";

/** Most `partial` feedbacks of one job (its quote reserves their writes). */
export const MAX_PARTIALS = 8;

/** Options for {@linkcode createTextGenerationRunner}. */
export interface TextGenerationRunnerOptions {
  /** The presets (`[models.<name>]`), the first the default. */
  presets: Readonly<Record<string, ModelPreset>>;
  /** Where the (empty) work dirs the job pipeline expects are named. */
  jobsRoot: string;
  /** Least time between two partials, ms; default 1000. */
  partialEveryMs?: number;
  log: (line: string) => void;
}

/**
 * The text-generation runner; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTextGenerationRunner } from "./text_generation_runner.ts";
 * import { parseModelPresets } from "../../../config/model_presets.ts";
 * import { parseSkillManifest } from "../skills/skill_manifest.ts";
 *
 * const skillDir = new URL("../../../skills/text-generation", import.meta.url).pathname;
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${skillDir}/SKILL.md`));
 * const runner = createTextGenerationRunner({
 *   presets: parseModelPresets({ local: { upstream: "http://127.0.0.1:11434" } }),
 *   jobsRoot: "/var/lib/turnpike/work",
 *   log: () => {},
 * });
 * // An input that is no TOON event is refused before any upstream is called.
 * const outcome = await runner.run({ jobId: "j1", skillDir, manifest, input: "not an event" });
 * assert.equal(outcome.status, "bad-input");
 * assert.equal(outcome.workDir, "/var/lib/turnpike/work/j1");
 * ```
 */
export function createTextGenerationRunner(o: TextGenerationRunnerOptions): SkillRunner {
  return {
    run: (job) => runTextGeneration(o, job),
  };
}

async function runTextGeneration(
  o: TextGenerationRunnerOptions,
  job: SkillJob & RunHooks,
): Promise<SkillOutcome> {
  const started = Date.now();
  const outcome = (
    status: SkillOutcome["status"],
    reason: string,
    stdout = "",
  ): SkillOutcome => ({
    status,
    reason,
    exitCode: status === "ok" ? 0 : null,
    stdout: new TextEncoder().encode(stdout),
    stderrTail: "",
    stderrTruncated: false,
    durationMs: Date.now() - started,
    workDir: `${o.jobsRoot}/${job.jobId}`,
  });
  let request;
  try {
    const input = typeof job.input === "string" ? job.input : new TextDecoder().decode(job.input);
    request = textGenerationRequest(
      decodeEventToon(input, { verify: false }).tags,
      o.presets,
      job.tokenBudget,
    );
  } catch (err) {
    if (err instanceof TextGenerationRefusedError) return outcome("refused", err.message);
    return outcome("bad-input", `cannot read the request: ${(err as Error).message}`);
  }
  const { preset } = request;
  const partials = new PartialBatcher(o.partialEveryMs ?? 1000, job.partial);
  let answer;
  try {
    answer = await callModel({
      preset,
      prompt: request.prompt,
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      maxAnswerBytes: job.manifest.resultBytes,
      onText: (delta) => partials.add(delta),
      signal: job.signal,
    });
  } catch (err) {
    if (job.signal?.aborted) return outcome("cancelled", "cancelled");
    if (err instanceof ModelCallError) return outcome("failed", err.message);
    throw err;
  }
  const usage = answer.usage ?? { inputTokens: 0, outputTokens: 0 };
  let cost = unitsOf(microCost(usage, preset));
  if (job.tokenBudget !== undefined && cost > job.tokenBudget) {
    // The upstream gave more than it was asked: the requester pays its budget, no more.
    o.log(`model ${preset.name}: job ${job.jobId} cost ${cost}, billed its budget`);
    cost = job.tokenBudget;
  }
  job.metered?.({ model: preset.name, ...usage, cost });
  o.log(
    `model ${preset.name}: job ${job.jobId} ${usage.inputTokens} in, ${usage.outputTokens} out ` +
      `(${answer.usage === undefined ? "no usage reported" : `${cost} units`})` +
      (request.cutToBudget ? `, max_tokens cut to ${request.maxTokens} by the bid` : "") +
      (answer.cut ? `, answer cut at ${job.manifest.resultBytes} bytes` : ""),
  );
  return outcome("ok", "ok", answer.text);
}

/**
 * The answer's pieces gathered into a few partials: the text since the last one goes out once
 * `everyMs` passed since it (or the start), at most {@linkcode MAX_PARTIALS}; what is left when
 * the answer ends goes only in the result.
 */
class PartialBatcher {
  #pending = "";
  #sent = 0;
  #last = Date.now();
  constructor(readonly everyMs: number, readonly send?: (text: string) => void) {}

  add(delta: string): void {
    if (this.send === undefined || this.#sent >= MAX_PARTIALS) return;
    this.#pending += delta;
    if (Date.now() - this.#last < this.everyMs) return;
    this.send(this.#pending);
    this.#pending = "";
    this.#sent++;
    this.#last = Date.now();
  }
}
