/**
 * A paid job's run as its record sees it (docs/ARCHITECTURE.md, "One job, from `job submit` to
 * the skill and back"): `paid` is recorded `running` (an attempt more), the skill runs
 * (job_run.ts), and the job is recorded `result-computed` and its result published, or ended in
 * error or cancelled. The `processing` feedback goes out only for runs still going after a
 * while: a quicker job's result is its own progress report.
 *
 * @module
 */
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import type { ProviderJobStore } from "../../../state/jobs/provider_job_store.ts";
import { processingInfo } from "./job_pricing.ts";
import { spendInfo, spendTag } from "../../../protocol/agent_spend.ts";
import { agentHeartbeatTag } from "../../../protocol/agent_heartbeat.ts";
import { blobCacheDirOf, jobResultsDir, runJob, skillInput } from "./job_run.ts";
import type { JobPublisher } from "./job_publisher.ts";
import type { ProviderSkills } from "../skills/provider_skills.ts";
import type { BackgroundWork } from "../background_work.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import { DEFAULT_MAX_INPUT_BYTES } from "./blob_inputs.ts";
import type { RunHooks } from "./job_run.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { tokenBudgetOf } from "../models/text_generation_request.ts";

/** Options for {@linkcode JobRunner}. */
export interface JobRunnerOptions
  extends Pick<ProviderNodeOptions, "stateDir" | "maxInputBytes" | "processingFeedbackMs"> {
  store: Pick<ProviderJobStore, "get" | "put">;
  skills: Pick<ProviderSkills, "of" | "runnerFor">;
  publisher: Pick<JobPublisher, "feedback" | "finishWithError" | "publishResult">;
  /** Decrypts an encrypted request's params for the skill. */
  signer: NodeSigner;
  work: Pick<BackgroundWork, "track" | "timer" | "stopped">;
  log: (line: string) => void;
  markStatus: () => void;
}

/**
 * Runs paid jobs and records how they end; see the module doc.
 *
 * It needs a provider's store, skills and publisher: no example that runs here:
 * tests/e2e/provider_node_test.ts.
 */
export class JobRunner {
  #o: JobRunnerOptions;

  constructor(options: JobRunnerOptions) {
    this.#o = options;
  }

  /** The run queue's job: a paid record run through its skill (anything else is skipped). */
  runPaid(id: string, signal: AbortSignal): Promise<void> | undefined {
    const record = this.#o.store.get(id);
    if (record === undefined || record.status !== "paid") return undefined;
    return this.#runJob(record, signal);
  }

  async #runJob(record: ProviderJobRecord, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const skill = o.skills.of(record);
    if (skill === undefined) {
      return await o.publisher.finishWithError(record, "error", `skill ${record.skill} is gone`);
    }
    const running: ProviderJobRecord = {
      ...record,
      status: "running",
      attempts: record.attempts + 1,
    };
    await o.store.put(running);
    o.markStatus();
    const model = modelHooks(
      running,
      skill.manifest.runner === "model",
      (text, n) =>
        o.publisher.feedback(running, "partial", { extraInfo: `part ${n}`, content: text }),
    );
    const outcome = await runJob({
      jobId: record.id,
      skill,
      runner: o.skills.runnerFor(skill),
      input: () => skillInput(record, o.signer),
      encrypted: record.encrypted,
      signal,
      maxInputBytes: o.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
      blobCacheDir: blobCacheDirOf(o.stateDir),
      resultsDir: jobResultsDir(o.stateDir, record.id),
      onStarted: () => this.#announceProcessing(running),
      // An agent-task's spend so far, each report a `processing` feedback (bounded by the runner).
      onProgress: ({ spend, beatMs }) =>
        o.work.track(
          o.publisher.feedback(running, "processing", {
            extraInfo: spendInfo(spend),
            tags: [spendTag(spend), ...(beatMs ? [agentHeartbeatTag(beatMs)] : [])],
          }),
        ),
      model: model.hooks,
      removeLater: (dir) => o.work.track(Deno.remove(dir, { recursive: true }).catch(() => {})),
    });
    // Every partial is out before the result (the requester reads them in order) and counted in
    // the delivery's writes.
    await model.sent();
    switch (outcome.status) {
      case "cancelled":
        if (o.work.stopped) return; // the provider is stopping: the restart decides
        return await o.publisher.finishWithError(
          running,
          "cancelled",
          "cancelled by the requester (kind 5)",
        );
      case "failed":
        return await o.publisher.finishWithError(running, "error", outcome.reason, outcome.code);
      case "computed": {
        for (const skipped of outcome.skipped) {
          o.log(`output of ${record.id} left out: ${skipped}`);
        }
        const computed: ProviderJobRecord = {
          ...running,
          // A text-generation's tokens are billed with its delivery (docs/PROTOCOL.md
          // "text-generation (kind 5050)").
          ...model.delivery(running),
          status: "result-computed",
          result: outcome.result,
          ...(outcome.files.length > 0 ? { resultFiles: outcome.files } : {}),
        };
        await o.store.put(computed);
        return await o.publisher.publishResult(computed);
      }
    }
  }

  /** Publishes `processing` now or after `processingFeedbackMs`; returns what cancels it. */
  #announceProcessing(running: ProviderJobRecord): () => void {
    const publish = () =>
      this.#o.work.track(
        this.#o.publisher.feedback(running, "processing", {
          extraInfo: processingInfo(running.skill),
        }),
      );
    const delay = this.#o.processingFeedbackMs ?? 100;
    if (delay <= 0) {
      publish();
      return () => {};
    }
    return this.#o.work.timer(delay, publish);
  }
}

/**
 * A text-generation run's hooks (none for other runners): its partials published one after the
 * other (`sent` waits for the last), and its model's cost added to the delivery's price.
 */
function modelHooks(
  record: ProviderJobRecord,
  isModel: boolean,
  publish: (text: string, n: number) => Promise<void>,
): {
  hooks?: Pick<RunHooks, "partial" | "metered" | "tokenBudget">;
  sent: () => Promise<void>;
  delivery: (r: ProviderJobRecord) => Pick<ProviderJobRecord, "deliveryPrice">;
} {
  let chain = Promise.resolve();
  let cost = 0n;
  if (!isModel) return { sent: () => chain, delivery: (r) => ({ deliveryPrice: r.deliveryPrice }) };
  const request = decodeEventToon(record.requestToon, { verify: false });
  let n = 0;
  return {
    hooks: {
      // An encrypted job's answer never goes out in the clear: no partials, the result only.
      partial: record.encrypted ? undefined : (text) => {
        const part = ++n;
        chain = chain.then(() => publish(text, part)).catch(() => {});
      },
      metered: (m) => cost = m.cost,
      tokenBudget: tokenBudgetOf(record, request.tags),
    },
    sent: () => chain,
    delivery: (r) => ({
      deliveryPrice: r.deliveryPrice === undefined
        ? undefined
        : String(BigInt(r.deliveryPrice) + cost),
    }),
  };
}
