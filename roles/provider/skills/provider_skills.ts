/**
 * The skills a provider serves and what runs them: the catalog of its skills dir, the sandbox,
 * and the Docker engine docker-build skills need (without one they are not served). It says
 * which skills are servable now, what is announced (job kinds, quoted prices) and what is
 * delivered unpaid (other kinds), and warms the sandbox's Deno cache for Deno skills
 * (docs/SKILLS.md).
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { isJobRequestKind } from "../../../protocol/nip90_job.ts";
import type { JobQuote } from "../../../protocol/provider_quote.ts";
import { splitJobBill } from "../../../protocol/job_bill.ts";
import type { ProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import { loadSkillCatalog, type SkillCatalog, type SkillEntry } from "./skill_catalog.ts";
import { createSkillSandbox, type SkillSandbox } from "../sandbox/skill_sandbox.ts";
import { type DockerEngineInfo, probeDockerEngine } from "../docker/docker_engine.ts";
import { createDockerBuildRunner } from "../docker/docker_build_runner.ts";
import { createAgentTaskRunner } from "../../agent_work/provider/agent_task_runner.ts";
import { CHECKOUT_CACHE_DIR, openCheckoutCache } from "../../agent_work/provider/checkout_cache.ts";
import type { SkillRunner } from "../jobs/job_run.ts";
import type { ModelPreset } from "../../../config/model_presets.ts";
import { createTextGenerationRunner } from "../models/text_generation_runner.ts";
import { announcedModels } from "../../../protocol/handler_models.ts";
import type { ProviderNodeOptions } from "../provider_options.ts";
import type { AnnouncedSkill } from "../announcer.ts";

/** Options for {@linkcode ProviderSkills}. */
export interface ProviderSkillsOptions extends
  Pick<
    ProviderNodeOptions,
    | "stateDir"
    | "skillsDir"
    | "dockerHost"
    | "sandbox"
    | "hiddenPaths"
    | "sandboxMode"
    | "preparedSandboxes"
    | "allowNetwork"
    | "agents"
    | "models"
    | "partialEveryMs"
    | "agentSpendEveryMs"
    | "agentHeartbeatMs"
    | "agentDeliveryForTests"
  > {
  log: (line: string) => void;
  /** The node is stopping (warm-ups stop). */
  stopped: () => boolean;
  /** The skills dir changed (after a rescan). */
  onChange: () => void;
  /** The folders of the skills dir that are not usable skills, with why (for the status). */
  onProblems: (problems: Record<string, string>) => void;
}

/**
 * The provider's skills and their runners; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProviderSkills } from "./provider_skills.ts";
 * import { writeSkillScaffold } from "./skill_scaffold.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * await writeSkillScaffold({ name: "wordcount", parentDir: `${stateDir}/skills`, kind: 5700 });
 * const skills = new ProviderSkills({
 *   stateDir,
 *   skillsDir: `${stateDir}/skills`,
 *   dockerHost: false,
 *   preparedSandboxes: false,
 *   log: () => {},
 *   stopped: () => false,
 *   onChange: () => {},
 *   onProblems: () => {},
 * });
 * await skills.open();
 * await skills.probeDocker();
 * assert.deepEqual(skills.announced().map((s) => [s.name, s.kinds]), [["wordcount", [5700]]]);
 * assert.deepEqual(skills.docker, { unavailable: "disabled by the operator" });
 * skills.closeCatalog();
 * await skills.closeSandbox();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class ProviderSkills {
  #o: ProviderSkillsOptions;
  #catalog?: SkillCatalog;
  #sandbox?: SkillSandbox;
  #docker?: { engine: DockerEngineInfo; runner: SkillRunner };
  #agent?: SkillRunner;
  #model?: SkillRunner;
  #dockerUnavailable = "not probed";
  #problems: Record<string, string> | undefined;
  #warmed = new Set<string>();

  constructor(options: ProviderSkillsOptions) {
    this.#o = options;
  }

  /**
   * Loads (and watches) the skills dir, then opens the sandbox skills run in: the one given in
   * the options, else a namespace sandbox.
   */
  async open(): Promise<void> {
    const o = this.#o;
    this.#catalog = await loadSkillCatalog({
      dir: o.skillsDir,
      onChange: () => o.onChange(),
    });
    this.#sandbox = o.sandbox ?? await createSkillSandbox({
      jobsRoot: `${o.stateDir}/work`,
      hiddenPaths: [o.stateDir, ...(o.hiddenPaths ?? [])],
      mode: o.sandboxMode,
      prepared: o.preparedSandboxes === false ? undefined : o.preparedSandboxes ?? {},
      allowNetwork: o.allowNetwork,
      denoCacheDir: `${o.stateDir}/skill-deno-cache`,
    });
    if (Object.keys(o.agents ?? {}).length > 0) {
      this.#agent = createAgentTaskRunner({
        jobsRoot: `${o.stateDir}/work`,
        sandbox: this.#sandbox,
        presets: o.agents!,
        transcriptsDir: `${o.stateDir}/agent-transcripts`,
        checkoutCache: openCheckoutCache({ dir: `${o.stateDir}/${CHECKOUT_CACHE_DIR}` }),
        log: o.log,
        spendEveryMs: o.agentSpendEveryMs,
        heartbeatMs: o.agentHeartbeatMs,
        deliveryForTests: o.agentDeliveryForTests,
      });
    }
    if (Object.keys(o.models ?? {}).length > 0) {
      this.#model = createTextGenerationRunner({
        presets: o.models!,
        jobsRoot: `${o.stateDir}/work`,
        partialEveryMs: o.partialEveryMs,
        log: o.log,
      });
    }
  }

  /** The sandbox (once {@linkcode open} ran). */
  get sandbox(): SkillSandbox {
    return this.#sandbox!;
  }

  /** The Docker engine docker-build skills run on, or why there is none. */
  get docker(): DockerEngineInfo | { unavailable: string } {
    return this.#docker?.engine ?? { unavailable: this.#dockerUnavailable };
  }

  /** The Docker engine, when one answers. */
  get engine(): DockerEngineInfo | undefined {
    return this.#docker?.engine;
  }

  /** A Docker engine for docker-build skills, when one answers (else they are not served). */
  async probeDocker(): Promise<void> {
    if (this.#o.dockerHost === false) {
      this.#dockerUnavailable = "disabled by the operator";
      return;
    }
    const dockerHost = this.#o.dockerHost;
    try {
      const engine = await probeDockerEngine({ dockerHost });
      this.#docker = {
        engine,
        runner: createDockerBuildRunner({
          jobsRoot: `${this.#o.stateDir}/work`,
          engine,
          dockerHost,
        }),
      };
      this.#o.log(
        `docker engine ${engine.version} (${engine.platform}, ${engine.storageDriver}) at ${engine.host}`,
      );
    } catch (err) {
      this.#dockerUnavailable = (err as Error).message;
      const wanted = (this.#catalog?.skills() ?? []).filter((s) => s.manifest.runner === "docker");
      if (wanted.length > 0) {
        this.#o.log(
          `not serving ${
            wanted.map((s) => s.manifest.name).join(", ")
          }: ${this.#dockerUnavailable}`,
        );
      }
    }
  }

  /**
   * The skills this provider can run now (docker-build ones need an engine, agent ones agent
   * presets, model ones model presets).
   */
  servable(): SkillEntry[] {
    return (this.#catalog?.skills() ?? []).filter((s) => {
      switch (s.manifest.runner) {
        case "docker":
          return this.#docker !== undefined;
        case "agent":
          return this.#agent !== undefined;
        case "model":
          return this.#model !== undefined;
        default:
          return true;
      }
    });
  }

  /** The servable skill for an event kind, if any. */
  servableFor(kind: number): SkillEntry | undefined {
    const listed = this.#catalog!.forKind(kind);
    return listed !== undefined && this.servable().includes(listed) ? listed : undefined;
  }

  /** The skill a job record names, servable or not (undefined once it is gone). */
  of(record: ProviderJobRecord): SkillEntry | undefined {
    return this.#catalog!.skills().find((s) => s.manifest.name === record.skill);
  }

  /** What runs this skill: the sandbox, the Docker runner, or why there is none. */
  runnerFor(skill: SkillEntry): SkillRunner | { unavailable: string } {
    if (skill.manifest.runner === "agent") {
      return this.#agent ?? { unavailable: "no agent presets ([agents.<name>] in the config)" };
    }
    if (skill.manifest.runner === "model") {
      return this.#model ?? { unavailable: "no model presets ([models.<name>] in the config)" };
    }
    return skill.manifest.runner !== "docker"
      ? this.#sandbox!
      : this.#docker?.runner ?? { unavailable: `no Docker engine: ${this.#dockerUnavailable}` };
  }

  /** The price of the agent preset `name` (`[agents.<name>]`); undefined: none such here. */
  agentPrice(name: string): bigint | undefined {
    return Object.hasOwn(this.#o.agents ?? {}, name) ? this.#o.agents![name].price : undefined;
  }

  /** The model presets (`[models.<name>]`), the first the default. */
  get models(): Readonly<Record<string, ModelPreset>> {
    return this.#o.models ?? {};
  }

  /** The paid-job skills (what is announced and priced): their job request kinds. */
  announced(): AnnouncedSkill[] {
    const agents = (skillTimeoutMs: number) =>
      Object.values(this.#o.agents ?? {}).map((a) => ({
        name: a.name,
        price: String(a.price),
        budget: String(a.budget),
        // A host preset runs outside the sandbox (docs/OPERATIONS.md "Host presets"): say so.
        ...(a.host === true ? { host: true } : {}),
        // The agent's wall time: a requester waits that long and a delivery's worth more.
        timeout: Math.ceil((a.timeoutMs ?? skillTimeoutMs) / 1000),
        // Its token prices: the provider pays the model out of the price (handler_bill.ts).
        ...(a.inputPerMillion > 0n || a.outputPerMillion > 0n
          ? {
            model: {
              inputPerMillion: String(a.inputPerMillion),
              outputPerMillion: String(a.outputPerMillion),
              paidBy: "provider" as const,
            },
          }
          : {}),
      }));
    return this.servable().map((s) => ({
      name: s.manifest.name,
      kinds: s.manifest.kinds.filter(isJobRequestKind),
      price: String(s.manifest.price),
      ...(s.manifest.runner === "agent"
        ? { agents: agents(s.manifest.timeoutMs), repoDeltas: true as const }
        : {}),
      ...(s.manifest.runner === "model" ? { models: announcedModels(this.models) } : {}),
    })).filter((s) => s.kinds.length > 0);
  }

  /**
   * The skills with the price a job costs (the skill's price plus this provider's own writes
   * for the job, quoted on a minimal request), so a requester can check its bid before paying:
   * the skill's price alone can be far below the quote (docker-build budgets its image blobs).
   */
  quoted(
    pubkey: string,
    quote: (event: NostrEvent, entry: SkillEntry) => JobQuote,
  ): AnnouncedSkill[] {
    const entries = this.servable();
    return this.announced().map((s) => {
      const entry = entries.find((e) => e.manifest.name === s.name)!;
      const probe: NostrEvent = {
        // Hex with letters, as a real id: TOON quotes an all-digit string, two bytes more.
        id: "f".repeat(64),
        pubkey,
        created_at: Math.floor(Date.now() / 1000),
        kind: s.kinds[0],
        tags: [],
        content: "",
        sig: "0".repeat(128),
      };
      const q = quote(probe, entry);
      // The parts of the price, as the job will be billed (protocol/job_bill.ts).
      const bill = splitJobBill({
        quote: q,
        extra: 0n,
        onDeliveryPercent: entry.manifest.onDeliveryPercent,
      });
      return {
        ...s,
        price: String(q.amount),
        bill: {
          skillPrice: String(q.price),
          onDelivery: entry.manifest.onDeliveryPercent,
          depositWrites: String(bill.depositWrites),
          writesReserved: String(bill.writesReserved),
        },
      };
    });
  }

  /** Kinds delivered to skills unpaid (private messages...): never announced as jobs. */
  deliveryKinds(): number[] {
    const kinds = this.servable().flatMap((s) => s.manifest.kinds);
    return [...new Set(kinds.filter((k) => !isJobRequestKind(k)))];
  }

  /** The announced skills' names, `a, b`, or `(none)`. */
  names(): string {
    return this.announced().map((s) => s.name).join(", ") || "(none)";
  }

  /** The announced skills in a line, `name:kind,kind ...`, or `(none)`. */
  summary(): string {
    return this.announced().map((s) => `${s.name}:${s.kinds.join(",")}`).join(" ") || "(none)";
  }

  /** Logs each skill folder that cannot be used (once per problem) and reports them all. */
  reportProblems(): void {
    const problems = this.#catalog!.problems();
    for (const [folder, why] of problems) {
      if (this.#problems?.[folder] !== why) this.#o.log(`skill ${folder}: ${why}`);
    }
    this.#problems = Object.fromEntries(problems);
    this.#o.onProblems(this.#problems);
  }

  /**
   * Warms the sandbox's Deno cache for Deno skills not warmed yet (in the background: a job that
   * comes first just starts cold), so a Deno skill's start-up is not a cold one in every job.
   */
  async warm(): Promise<void> {
    for (const skill of this.#catalog?.skills() ?? []) {
      if (this.#o.stopped() || this.#sandbox?.warmDenoCache === undefined) return;
      const run = await Deno.stat(`${skill.dir}/run`).catch(() => null);
      const key = `${skill.dir}@${run?.mtime?.getTime()}`;
      if (run === null || this.#warmed.has(key)) continue;
      this.#warmed.add(key);
      const outcome = await this.#sandbox.warmDenoCache({
        skillDir: skill.dir,
        manifest: skill.manifest,
      });
      if (outcome !== undefined) {
        this.#o.log(`skill ${skill.manifest.name}: Deno cache warmed (${outcome.status})`);
      }
    }
  }

  /** Stops watching the skills dir. */
  closeCatalog(): void {
    this.#catalog?.close();
  }

  /** Closes its own sandbox only: one given in the options is its owner's to close. */
  async closeSandbox(): Promise<void> {
    if (this.#o.sandbox === undefined) await this.#sandbox?.close?.().catch(() => {});
  }
}
