/**
 * The agent-task runner (docs/SKILLS.md "agent-task", docs/PROTOCOL.md "agent-task (kind
 * 5603)"): a coding agent, one of the provider's presets (config/agent_presets.ts), works a task
 * on the requester's repository in the skill sandbox, behind the job's model gateway; the gate
 * (the requester's acceptance command) judges the work; the commits go back as a sealed git
 * bundle whose key the result carries (sealed again with the delivery's key K by the publisher:
 * docs/PROTOCOL.md "Paid on delivery").
 *
 * On the host, before the sandbox: the sealed repository blob opened with the key of the
 * (encrypted) params, checked out with `worktreeFromBundle` into a pristine repository the agent
 * never touches, shown to the job as an overlay at `work/` (checkout_overlay.ts; a tar of it, made
 * then, where its path cannot be an overlay's), with the task and the two commands. The job's
 * gateway (agent_gateway.ts) listens on a socket beside the work dir; at the
 * budget the run is stopped.
 *
 * In the sandbox, one run of the skill's `run` (skills/agent-task/run): the worktree found,
 * the preset's command, then `kill -KILL -1` (every other process of the job, the gateway's
 * forwarder with them: the gate has no network), the gateway closed (the driver, alone in the job,
 * posts its agent-over and waits until the socket still bound in refuses connections, or the gate
 * is not run: roles/provider/sandbox/sandbox_gateway.ts `TURNPIKE_MODEL_GATEWAY_CLOSE`), the gate, and
 * `git bundle create` of the work branch: git on the host never runs in a directory the agent
 * wrote.
 *
 * Back on the host: the bundle checked against the pristine copy (`checkResultBundle`: one ref,
 * the base its one prerequisite, its tip a descendant of the base), sealed, and left as an output
 * blob beside the agent's transcript (its log, at most {@linkcode TRANSCRIPT_MAX_BYTES}, sealed
 * with the key derived from the bundle's); the rest of what the job left in `out/` is removed.
 * The result's content carries the agent's and the gate's log tails sealed the same way
 * (roles/agent_work/result_logs.ts): the requester reads them once it paid the delivery.
 * While the agent runs, the gateway's spend so far goes to the run's `progress` hook
 * (spend_reporter.ts). Stopped at the
 * budget, a rewritten history, a bundle that does not apply or nothing committed: the job
 * fails, nothing is delivered, and only the deposit was paid. Whatever the outcome, a checkout
 * made for the job (not taken from the cache) is then moved into the cache (checkout_cache.ts).
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { AgentPreset } from "../../../config/agent_presets.ts";
import { decodeEventToon } from "../../../protocol/toon_codec.ts";
import { derivedBlobKey, sealBlob } from "../sealed_blob.ts";
import {
  prepareAgentTaskInputs,
  repositoryBlobsOf,
  worktreeTarInput,
} from "./agent_task_inputs.ts";
import type { CheckoutCache } from "./checkout_cache.ts";
import { checkoutOverlay, checkoutToHost } from "./checkout_overlay.ts";
import { removeAgentTaskFiles, removeSocketDir, SOCKET_DIR_FILE } from "./agent_task_files.ts";
import {
  AGENT_TASK_PARAM as PARAM,
  SEALED_RESULT_NAME,
  SEALED_TRANSCRIPT_NAME,
  TRANSCRIPT_KEY_LABEL,
} from "../agent_task_wire.ts";
import { checkResultBundle } from "../result_apply.ts";
import { sealResultLogs } from "../result_logs.ts";
import { sha256Hex } from "../../../protocol/delivery_commitment.ts";
import { checkProtectGlobs, protectedMatcher } from "../protected_paths.ts";
import { startAgentGateway } from "./agent_gateway.ts";
import { workOnHost } from "./host_agent.ts";
import {
  DEFAULT_AGENT_HEARTBEAT_MS,
  DEFAULT_SPEND_EVERY_MS,
  noSpend,
  startSpendReporter,
} from "./spend_reporter.ts";
import type { RunHooks } from "../../provider/jobs/job_run.ts";
import type { GatewayCall, GatewayRefusal, GatewaySpend } from "./gateway_ledger.ts";
import { agentExitReason, ownFile, tailOf, transcriptOf } from "./job_out_files.ts";
import { keepTranscript } from "./kept_transcript.ts";
import { type RunnerOutcome, runnerOutcome } from "../../provider/jobs/runner_outcome.ts";
import type { SkillJob, SkillOutcome, SkillSandbox } from "../../provider/sandbox/skill_sandbox.ts";
import { OUTPUTS_DIR } from "../../provider/sandbox/sandbox_mounts.ts";

/** The reason's code of a preset whose command could not run: the provider's failure. */
export const PRESET_CANNOT_RUN = "preset-cannot-run";
export { TRANSCRIPT_MAX_BYTES } from "./job_out_files.ts";
/** The loopback port the agent reaches its gateway on, in the job's namespace. */
const GATEWAY_PORT = 8417;
const HEX40 = /^[0-9a-f]{40}$/;
/** Paths a result lists (`changes`, `protectedChanged`); the rest are counted (`...Omitted`). */
const MAX_LISTED_PATHS = 100;
const HEX64 = /^[0-9a-f]{64}$/;

/** Options for {@linkcode createAgentTaskRunner}. */
export interface AgentTaskRunnerOptions {
  /** Per-job work dirs are here (the sandbox's `jobsRoot`; the host's files go beside). */
  jobsRoot: string;
  /** The sandbox; its mode says whose the checkout must be (checkout_overlay.ts). */
  sandbox: Pick<SkillSandbox, "run" | "mode">;
  /** The provider's presets, by name. */
  presets: Readonly<Record<string, AgentPreset>>;
  log?: (line: string) => void;
  /** Where every ended job's transcript is kept (kept_transcript.ts); none kept without. */
  transcriptsDir?: string;
  /** The checked-out repositories kept for the next task on the same bundle (none: none kept). */
  checkoutCache?: CheckoutCache;
  /** The least time between two reports of an agent's spend (default 10 s). */
  spendEveryMs?: number;
  /** The agent's heartbeat period (default 60 s; docs/PROTOCOL.md "Agent heartbeat"). */
  heartbeatMs?: number;
  /**
   * Tests only: called with each delivery before it goes out, to make a cheating provider
   * (a wrong key, a blob that does not keep the commitment). Never set in production.
   */
  deliveryForTests?: (delivery: AgentDeliveryForTests) => Promise<void>;
}

/** What {@linkcode AgentTaskRunnerOptions.deliveryForTests} may change. */
export interface AgentDeliveryForTests {
  /** The preset that ran. */
  preset: string;
  /** The dir of the sealed blobs (`<name>` each). */
  outDir: string;
  /** The result JSON: its `key` and `commitment` members among the rest. */
  result: Record<string, unknown> & { key: string; commitment: AgentCommitment };
}

/** The result's commitment, before the publisher adds the sealed key's hash. */
export interface AgentCommitment {
  /** sha256 of the bundle's key. */
  key: string;
  /** Each sealed blob: its name, sealed and plain sha256. */
  blobs: { name: string; sealed: string; plain: string }[];
}

/** What the `run` script reports on its stdout. */
interface DriverReport {
  agentExit: number;
  gateExit: number;
}

/**
 * The runner, with the skill sandbox's `run` signature.
 *
 * It runs the sandbox: no example that runs here: tests/e2e/agent_task_test.ts.
 */
export function createAgentTaskRunner(
  options: AgentTaskRunnerOptions,
): { run(job: SkillJob & RunHooks): Promise<SkillOutcome> } {
  return {
    // The host dir (the checkout: thousands of files) goes with the work dir, after the result
    // is out (job_run.ts); a restart removes what a crash left (removeAgentTaskFiles).
    run: (job) =>
      runAgentTask(job, options).then(
        (ran) => ({ ...ran, hostDirs: [`${options.jobsRoot}/${job.jobId}.agent`] }),
        async (err) => {
          await removeAgentTaskFiles(options.jobsRoot, job.jobId);
          throw err;
        },
      ),
  };
}

/** The request's params, checked. */
interface AgentRequest {
  preset: AgentPreset;
  base: string;
  accept: string;
  repoKey: string;
  budget: bigint;
  task: string;
  repoBlob: string;
  /** The delta from the repository blob's base, when the base goes as one. */
  delta?: { blob: string; key: string };
  /** The requester's protected globs (docs/PROTOCOL.md "Protected paths"). */
  protect: string[];
}

function readRequest(job: SkillJob, o: AgentTaskRunnerOptions): AgentRequest | string {
  const input = typeof job.input === "string" ? job.input : new TextDecoder().decode(job.input);
  const tags = decodeEventToon(input, { verify: false }).tags;
  const param = (name: string) => tags.find((t) => t[0] === "param" && t[1] === name)?.[2];
  const name = param(PARAM.agent) ?? "";
  const preset = o.presets[name];
  if (preset === undefined) {
    return `no agent preset ${JSON.stringify(name)} here (${
      Object.keys(o.presets).join(", ") || "none"
    })`;
  }
  const base = param(PARAM.base) ?? "";
  if (!HEX40.test(base)) return "param base must be the base commit's 40 hex digits";
  const repoKey = param(PARAM.repoKey) ?? "";
  if (!HEX64.test(repoKey)) return "param repo-key must be 64 hex digits";
  const accept = param(PARAM.accept) ?? "";
  if (accept.trim() === "" || accept.length > 4096) return "param accept: a command, 1-4096 bytes";
  const budgetText = param(PARAM.budget);
  if (budgetText !== undefined && !/^\d{1,30}$/.test(budgetText)) {
    return "param budget must be a whole number of base units";
  }
  const asked = budgetText === undefined ? preset.budget : BigInt(budgetText);
  const task = tags.find((t) => t[0] === "i" && t[2] === "text")?.[1];
  if (task === undefined) return "no task: a text input with the bead's JSON";
  const repository = repositoryBlobsOf(tags);
  if (typeof repository === "string") return repository;
  let protect: string[];
  try {
    protect = checkProtectGlobs(
      tags.filter((t) => t[0] === "param" && t[1] === PARAM.protect).flatMap((t) => t.slice(2)),
    );
  } catch (err) {
    return `param protect: ${(err as Error).message}`;
  }
  return {
    protect,
    preset,
    base,
    accept,
    repoKey,
    budget: asked < preset.budget ? asked : preset.budget,
    task,
    ...repository,
  };
}

async function runAgentTask(
  job: SkillJob & RunHooks,
  o: AgentTaskRunnerOptions,
): Promise<SkillOutcome> {
  const started = performance.now();
  const workDir = `${o.jobsRoot}/${job.jobId}`;
  const hostDir = `${o.jobsRoot}/${job.jobId}.agent`;
  const outcome = runnerOutcome(workDir, started);
  let request: AgentRequest;
  try {
    const read = readRequest(job, o);
    if (typeof read === "string") return outcome("bad-input", read);
    request = read;
  } catch (err) {
    return outcome("bad-input", `cannot read the request: ${(err as Error).message}`);
  }
  await Deno.remove(hostDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(hostDir, { recursive: true, mode: 0o700 });
  let keepCheckout: (() => Promise<unknown>) | undefined;
  try {
    const inputs = await prepareAgentTaskInputs(job, request, hostDir, o.checkoutCache).catch((
      err: Error,
    ) => err);
    if (inputs instanceof Error) return outcome("bad-input", inputs.message);
    keepCheckout = inputs.keep;
    let files = inputs.files;
    // A host preset works on the host first; the sandbox then runs the gate and the bundle
    // only (docs/OPERATIONS.md "Host presets").
    let hostLog: string | undefined;
    if (request.preset.host === true) {
      const work = await workOnHost({
        preset: request.preset,
        hostDir,
        jobId: job.jobId,
        accept: request.accept,
        budget: request.budget,
        timeoutMs: request.preset.timeoutMs ?? job.manifest.timeoutMs,
        signal: job.signal,
      }).catch((err: Error) => ({
        ok: false as const,
        status: "failed" as const,
        reason: `agent: ${err.message}`,
      }));
      if (!work.ok) {
        await keep(o, job.jobId, `${hostDir}/agent.log`);
        return outcome(work.status, work.reason);
      }
      hostLog = work.logPath;
      files.push({ path: work.worktreeTar, name: "worktree.tar" });
      await Deno.writeTextFile(`${hostDir}/host-agent-exit`, "0", { mode: 0o600 });
      files.push({ path: `${hostDir}/host-agent-exit`, name: "host-agent-exit" });
    }
    // The job works on the checkout itself through an overlay, not on an unpacked copy of it;
    // where it cannot, it gets a tar of it.
    const overlay = hostLog === undefined
      ? await checkoutOverlay(hostDir, o.sandbox.mode).catch(() => undefined)
      : undefined;
    if (hostLog === undefined && overlay === undefined) {
      const tar = await worktreeTarInput(hostDir).catch((err: Error) => err);
      if (tar instanceof Error) return outcome("sandbox-error", tar.message);
      files = [...files, tar];
    }
    const budgetReached = new AbortController();
    let stoppedAt: GatewaySpend | undefined;
    const { preset } = request;
    // A socket's path has at most 107 bytes: a short private dir, not the state dir's; named in
    // the host dir, so that a restart after a crash removes it too (removeAgentTaskFiles).
    const socketDir = await Deno.makeTempDir({ prefix: "turnpike-gw-" });
    await Deno.writeTextFile(`${hostDir}/${SOCKET_DIR_FILE}`, socketDir, { mode: 0o600 });
    await using gateway = hostLog !== undefined ? undefined : await startAgentGateway({
      socketPath: `${socketDir}/gateway.sock`,
      upstream: preset.upstream,
      flavor: preset.flavor,
      apiKey: preset.apiKey,
      headers: preset.headers,
      prices: {
        inputPerMillion: preset.inputPerMillion,
        outputPerMillion: preset.outputPerMillion,
      },
      budget: request.budget,
      onBudgetReached: (spend) => {
        stoppedAt = spend;
        budgetReached.abort();
      },
    });
    const signals = [budgetReached.signal, ...(job.signal ? [job.signal] : [])];
    const { progress, ...skillJob } = job;
    const beatMs = o.heartbeatMs ?? DEFAULT_AGENT_HEARTBEAT_MS; // a host preset: no spend
    const reporter = progress && startSpendReporter({
      spend: () => gateway?.spend() ?? noSpend(request.budget),
      report: (spend) => progress({ spend, beatMs }),
      everyMs: o.spendEveryMs ?? DEFAULT_SPEND_EVERY_MS,
      beatMs,
    });
    const ran = await o.sandbox.run({
      ...skillJob,
      input: "",
      manifest: {
        ...job.manifest,
        timeoutMs: (hostLog === undefined ? preset.timeoutMs : undefined) ??
          job.manifest.timeoutMs,
      },
      files,
      signal: AbortSignal.any(signals),
      ...(gateway ? { gateway: { socketPath: gateway.socketPath, port: GATEWAY_PORT } } : {}),
      ...(overlay ? { overlay } : {}),
    }).finally(() => reporter?.stop());
    await checkoutToHost(hostDir, o.sandbox.mode).catch(() => {});
    const spend = gateway?.spend() ?? noSpend(request.budget);
    const refusals = gateway?.refusals() ?? [];
    const kept = await keep(o, job.jobId, hostLog ?? `${workDir}/${OUTPUTS_DIR}/agent.log`);
    o.log?.(
      `agent-task ${job.jobId.slice(0, 12)} ${preset.name}: ${ran.status}, ` +
        `${spend.calls} model calls cost ${spend.cost} of ${spend.budget}, ` +
        `${spend.refused} refused` + (kept ? `, transcript ${kept.bytes} bytes kept` : ""),
    );
    if (stoppedAt !== undefined) {
      await emptyDir(`${workDir}/${OUTPUTS_DIR}`);
      return outcome(
        "failed",
        `budget: the model calls cost ${stoppedAt.cost} of the budget ${stoppedAt.budget}; ` +
          "the agent was stopped and nothing is delivered",
      );
    }
    if (ran.status !== "ok") {
      await emptyDir(`${workDir}/${OUTPUTS_DIR}`);
      return { ...ran, workDir };
    }
    const callLog = gateway?.callLog() ?? [];
    return await deliver(
      ran,
      request,
      hostDir,
      { spend, refusals, hostLog, callLog },
      outcome,
      o.deliveryForTests,
    );
  } finally {
    await removeSocketDir(hostDir);
    if (keepCheckout !== undefined) {
      // The provider's again before it is kept (a run that threw skipped the step above).
      await checkoutToHost(hostDir, o.sandbox.mode).catch(() => {});
      await keepCheckout();
    }
  }
}

/** The run's bundle checked, sealed and left as the one output; the result JSON with its key. */
async function deliver(
  ran: SkillOutcome,
  r: AgentRequest,
  hostDir: string,
  gateway: {
    spend: GatewaySpend;
    refusals: GatewayRefusal[];
    hostLog?: string;
    callLog: GatewayCall[];
  },
  outcome: RunnerOutcome,
  forTests: AgentTaskRunnerOptions["deliveryForTests"],
): Promise<SkillOutcome> {
  const out = `${ran.workDir}/${OUTPUTS_DIR}`;
  const agentLog = await tailOf(gateway.hostLog ?? `${out}/agent.log`);
  const transcript = await transcriptOf(gateway.hostLog ?? `${out}/agent.log`);
  const gateLog = await tailOf(`${out}/gate.log`);
  let report: DriverReport;
  try {
    report = JSON.parse(new TextDecoder().decode(ran.stdout).trim().split("\n").at(-1) ?? "");
  } catch {
    await emptyDir(out);
    return outcome("failed", "the agent-task driver printed no report");
  }
  // Whatever else the agent left in out/ is not the result: only the sealed bundle goes.
  const bundle = `${hostDir}/result.bundle`;
  const made = await ownFile(`${out}/result.bundle`) &&
    await Deno.rename(`${out}/result.bundle`, bundle).then(() => true, () => false);
  await emptyDir(out);
  if (!made && report.agentExit !== 0) {
    // Its exit code and last lines, not a bare no-commits. The shell's 126/127: the preset's
    // command is not there or not runnable, the provider's doing (its deposit goes back:
    // roles/provider/payments/refund_desk.ts).
    const why = agentExitReason(r.preset.name, report.agentExit, agentLog);
    const cannotRun = report.agentExit === 126 || report.agentExit === 127;
    return outcome("failed", cannotRun ? `${PRESET_CANNOT_RUN}: the agent never ran; ${why}` : why);
  }
  if (!made) return outcome("failed", "no-commits: the agent committed nothing on turnpike/work");
  let checked;
  try {
    checked = await checkResultBundle({
      repoDir: `${hostDir}/pristine`,
      bundlePath: bundle,
      base: r.base,
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? "bundle";
    return outcome("failed", `${code}: ${(err as Error).message}; nothing is delivered`);
  }
  const bytes = await Deno.readFile(bundle);
  const { sealed, key } = await sealBlob(bytes);
  await Deno.writeFile(`${out}/${SEALED_RESULT_NAME}`, sealed, { mode: 0o600 });
  const transcriptKey = await derivedBlobKey(key, TRANSCRIPT_KEY_LABEL);
  const sealedLog = (await sealBlob(transcript.bytes, transcriptKey)).sealed;
  await Deno.writeFile(`${out}/${SEALED_TRANSCRIPT_NAME}`, sealedLog, { mode: 0o600 });
  // The logs open with the delivery's key only: the gate is the requester's command, and its
  // output could carry the work itself (roles/agent_work/result_logs.ts).
  const logs = await sealResultLogs(key, { agent: agentLog, gate: gateLog });
  const spend = gateway.spend;
  // Paths and counts, not contents: fine to show before the delivery is paid.
  const isProtected = protectedMatcher(r.protect);
  const touched = checked.changes.filter((c) => isProtected(c.path)).map((c) => c.path);
  const result = {
    verdict: report.gateExit === 0 ? "pass" : "fail",
    agent: { preset: r.preset.name, exitCode: report.agentExit, logTailSealed: logs.agent },
    gate: { command: r.accept, exitCode: report.gateExit, logTailSealed: logs.gate },
    base: checked.base,
    tip: checked.tip,
    commits: checked.commits,
    diffstat: checked.diffstat,
    changes: checked.changes.slice(0, MAX_LISTED_PATHS),
    ...(checked.changes.length > MAX_LISTED_PATHS
      ? { changesOmitted: checked.changes.length - MAX_LISTED_PATHS }
      : {}),
    ...(r.protect.length === 0 ? {} : { protect: r.protect }),
    ...(touched.length === 0 ? {} : {
      protectedChanged: touched.slice(0, MAX_LISTED_PATHS),
      ...(touched.length > MAX_LISTED_PATHS
        ? { protectedChangedOmitted: touched.length - MAX_LISTED_PATHS }
        : {}),
    }),
    bundle: { name: SEALED_RESULT_NAME, bytes: bytes.length },
    transcript: {
      name: SEALED_TRANSCRIPT_NAME,
      bytes: transcript.bytes.length,
      totalBytes: transcript.totalBytes,
      truncated: transcript.truncated,
    },
    model: {
      calls: spend.calls,
      refused: spend.refused,
      inputTokens: spend.inputTokens,
      outputTokens: spend.outputTokens,
      cost: String(spend.cost),
      budget: String(spend.budget),
      refusals: gateway.refusals.slice(0, 20),
      // Each call (the last 50 of `calls`): when, whether 2xx, its tokens and exact cost.
      perCall: gateway.callLog.slice(-50),
    },
    key: bytesToHex(key),
    // What the key opens, signed in the result's tags before the delivery is paid
    // (protocol/delivery_commitment.ts; the publisher adds the sealed key's hash).
    commitment: {
      key: sha256Hex(key),
      blobs: [
        { name: SEALED_RESULT_NAME, sealed: sha256Hex(sealed), plain: sha256Hex(bytes) },
        {
          name: SEALED_TRANSCRIPT_NAME,
          sealed: sha256Hex(sealedLog),
          plain: sha256Hex(transcript.bytes),
        },
      ],
    },
  };
  await forTests?.({ preset: r.preset.name, outDir: out, result });
  return outcome("ok", `agent-task ${result.verdict}`, JSON.stringify(result) + "\n");
}

/** The job's transcript kept for the operator, whatever the outcome (never fails the job). */
function keep(o: AgentTaskRunnerOptions, jobId: string, log: string) {
  if (o.transcriptsDir === undefined) return Promise.resolve(undefined);
  return keepTranscript({ dir: o.transcriptsDir, jobId, log }).catch(() => undefined);
}

async function emptyDir(dir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  } catch { /* no such dir */ }
}
