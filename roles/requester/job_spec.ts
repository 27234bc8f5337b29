/**
 * What the requester is asked to post: a job spec (kind, inputs, params, bid, callback skill,
 * timeout, chain of follow-up jobs), its JSON form (kept in the job's sidecar so a restarted
 * requester can continue a chain) and the `--then` string form:
 *
 *     <kind or name>[,bid=<n>][,skill=<name>][,param=<name>=<value>][,timeout=<s>][,output=<mime>]
 *
 * e.g. `--then ci-run,bid=5000,skill=notify`. The next job gets the previous job's result as the
 * input `["i", <result event id>, "job"]`.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { JobInput, JobParam } from "../../protocol/nip90_job.ts";
import { isJobRequestKind } from "../../protocol/nip90_kinds.ts";
import type { JobBlobInput } from "../../protocol/job_blobs.ts";
import { jobKindFromName } from "../../protocol/job_kind_names.ts";
import type { JobBead } from "../../state/jobs/job_record.ts";
import type { WorkerKeyRef } from "../../protocol/node_signer.ts";

/** A job to post. */
export interface JobSpec {
  kind: number;
  inputs: JobInput[];
  params: JobParam[];
  output?: string;
  /** Bid in base units. */
  bid?: bigint;
  /** Target provider pubkeys (hex). */
  providers: string[];
  /** Callback skill run with the result (`none`: no callback). */
  skill: string;
  /** Give up after this long without a result. */
  timeoutMs: number;
  /** NIP-44 encrypt inputs and params to the (single) target provider. */
  encrypt: boolean;
  /** Jobs to post one after the other with the previous result as input. */
  then: JobSpec[];
  /** Inputs published as blobs (`i` url + `x` tags; docs/PROTOCOL.md "Blobs in jobs"). */
  blobs?: JobBlobInput[];
  /**
   * Leave a result's delivery invoice unpaid when its verdict is `fail` (an agent-task whose
   * gate failed): the job ends `error`, the provider keeps only the deposit.
   */
  declineFailed?: boolean;
  /**
   * Pay a result's delivery even when its commits change a protected path (an agent-task's
   * `protectedChanged`, docs/PROTOCOL.md "Protected paths"); without it such a delivery is not
   * paid and the job ends `error` (`protected-changed`).
   */
  allowProtected?: boolean;
  /** The bead the job works (an agent-task's `--bead`): kept on the job's record. */
  bead?: JobBead;
  /**
   * The Gas Town worker that posts it: the request is signed by that worker's key, derived from
   * the profile's (docs/PROTOCOL.md "Gas Town workers"); the profile pays.
   */
  worker?: WorkerKeyRef;
}

/** A job spec or `--then` string is not usable. */
export class JobSpecError extends RoleError {
  override name = "JobSpecError";
}

/** Default timeout: 300 s. */
export const DEFAULT_JOB_TIMEOUT_MS = 300_000;

export { NO_CALLBACK } from "../../state/jobs/job_record.ts";

const HEX64 = /^[0-9a-f]{64}$/;
const SKILL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UINT = /^(0|[1-9][0-9]{0,19})$/;

/**
 * Resolves a kind given as a number (5000-5999), a documented name (`ci-run`) or, through
 * `skillKind`, the name of a skill a provider announces (`wordcount`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveJobKind } from "./job_spec.ts";
 * import { kindOfSkill } from "./provider_directory.ts";
 *
 * const skills = [{ name: "wordcount", kinds: [5603], price: "1" }];
 * const providers = [{ pubkey: "ab".repeat(32), name: "mayor", skills, online: true }];
 * assert.equal(resolveJobKind("ci-run"), 5600);
 * assert.equal(resolveJobKind("wordcount", (name) => kindOfSkill(providers, name)), 5603);
 * ```
 * @throws {UnknownJobKindError} for an unknown name; {@linkcode JobSpecError} out of range.
 */
export function resolveJobKind(
  text: string,
  skillKind?: (name: string) => number | undefined,
): number {
  if (/^[0-9]+$/.test(text)) {
    const kind = Number(text);
    if (!isJobRequestKind(kind)) throw new JobSpecError(`kind ${text} is not 5000-5999`);
    return kind;
  }
  try {
    return jobKindFromName(text);
  } catch (err) {
    // Not a documented name: a skill some provider announces under that name.
    const kind = skillKind?.(text);
    if (kind !== undefined && isJobRequestKind(kind)) return kind;
    throw err;
  }
}

/** Options for {@linkcode parseThenSpec}: defaults inherited from the job before. */
export interface ThenSpecDefaults {
  skill: string;
  timeoutMs: number;
  providers: string[];
}

/**
 * Parses one `--then` string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const next = parseThenSpec("echo,bid=100", { skill: "none", timeoutMs: 300_000, providers: [] });
 * assert.deepEqual([next.bid, next.skill], [100n, "none"]);
 * ```
 * @throws {JobSpecError} on a bad part; {@linkcode UnknownJobKindError} for an unknown kind name.
 */
export function parseThenSpec(text: string, defaults: ThenSpecDefaults): JobSpec {
  if (text.length === 0 || text.length > 4096) throw new JobSpecError("empty or too long --then");
  const [kindText, ...parts] = text.split(",");
  const spec: JobSpec = {
    kind: resolveJobKind(kindText.trim()),
    inputs: [],
    params: [],
    providers: [...defaults.providers],
    skill: defaults.skill,
    timeoutMs: defaults.timeoutMs,
    encrypt: false,
    then: [],
  };
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new JobSpecError(`--then part "${part}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "bid") spec.bid = parseAmount(value, "bid");
    else if (key === "skill") spec.skill = checkSkill(value);
    else if (key === "timeout") spec.timeoutMs = parseSeconds(value);
    else if (key === "output") spec.output = value;
    else if (key === "provider") spec.providers = [checkPubkey(value)];
    else if (key === "param") {
      const i = value.indexOf("=");
      if (i < 1) throw new JobSpecError(`--then param "${value}" is not name=value`);
      spec.params.push({ name: value.slice(0, i), values: [value.slice(i + 1)] });
    } else throw new JobSpecError(`unknown --then key "${key}"`);
  }
  return spec;
}

/**
 * JSON form of a spec (bigints as strings), for the sidecar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobSpecFromJson, jobSpecToJson, parseThenSpec } from "./job_spec.ts";
 *
 * const spec = parseThenSpec("echo,bid=100", { skill: "none", timeoutMs: 300_000, providers: [] });
 * assert.deepEqual(jobSpecFromJson(jobSpecToJson(spec)), spec);
 * ```
 */
export function jobSpecToJson(spec: JobSpec): unknown {
  return {
    ...spec,
    bid: spec.bid?.toString(),
    blobs: spec.blobs?.map(({ url, sha256 }) => ({ url, sha256 })),
    then: spec.then.map(jobSpecToJson),
  };
}

/**
 * Reads the JSON form back, validating it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobSpecFromJson } from "./job_spec.ts";
 *
 * const text = '{"kind":5600,"inputs":[],"params":[],"providers":[],"skill":"none","timeoutMs":1000,"encrypt":false,"then":[],"bid":"100"}';
 * assert.equal(jobSpecFromJson(JSON.parse(text)).bid, 100n);
 * ```
 * @throws {JobSpecError} when a field is missing or ill-typed.
 */
export function jobSpecFromJson(value: unknown, depth = 0): JobSpec {
  if (depth > 64) throw new JobSpecError("chain deeper than 64");
  if (typeof value !== "object" || value === null) throw new JobSpecError("spec is not an object");
  const v = value as Record<string, unknown>;
  if (typeof v.kind !== "number" || !isJobRequestKind(v.kind)) {
    throw new JobSpecError("spec kind is not 5000-5999");
  }
  if (!Array.isArray(v.inputs) || !Array.isArray(v.params) || !Array.isArray(v.then)) {
    throw new JobSpecError("spec inputs/params/then are not lists");
  }
  if (!Array.isArray(v.providers) || typeof v.skill !== "string") {
    throw new JobSpecError("spec providers/skill missing");
  }
  const spec: JobSpec = {
    kind: v.kind,
    inputs: v.inputs as JobInput[],
    params: v.params as JobParam[],
    providers: (v.providers as unknown[]).map((p) => checkPubkey(String(p))),
    skill: checkSkill(v.skill),
    timeoutMs: typeof v.timeoutMs === "number" ? v.timeoutMs : DEFAULT_JOB_TIMEOUT_MS,
    encrypt: v.encrypt === true,
    then: v.then.map((t) => jobSpecFromJson(t, depth + 1)),
  };
  if (typeof v.output === "string") spec.output = v.output;
  if (v.blobs !== undefined) {
    if (
      !Array.isArray(v.blobs) ||
      !v.blobs.every((b) =>
        typeof b?.url === "string" && typeof b?.sha256 === "string" && HEX64.test(b.sha256)
      )
    ) throw new JobSpecError("spec blobs are not {url, sha256} inputs");
    spec.blobs = v.blobs.map((b) => ({ url: b.url, sha256: b.sha256 }));
  }
  if (typeof v.bid === "string") spec.bid = parseAmount(v.bid, "bid");
  if (v.declineFailed === true) spec.declineFailed = true;
  if (v.allowProtected === true) spec.allowProtected = true;
  if (typeof v.bead === "object" && v.bead !== null && typeof (v.bead as JobBead).id === "string") {
    spec.bead = v.bead as JobBead;
  }
  // The worker that posted it, kept so a restarted node follows, cancels and refunds the job
  // with that worker's key (its address is checked where the key is derived).
  const worker = v.worker as Partial<WorkerKeyRef> | undefined;
  if (worker !== undefined) {
    if (
      typeof worker?.address !== "string" || worker.address.length > 200 ||
      !Number.isSafeInteger(worker.rotation) || worker.rotation! < 0
    ) throw new JobSpecError("spec worker is not {address, rotation}");
    spec.worker = { address: worker.address, rotation: worker.rotation! };
  }
  return spec;
}

/**
 * Checks a callback skill name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(checkSkill("notify"), "notify");
 * assert.throws(() => checkSkill("../x"), JobSpecError);
 * ```
 * @throws {JobSpecError} when it is not a valid skill name.
 */
export function checkSkill(name: string): string {
  if (!SKILL.test(name)) throw new JobSpecError(`"${name}" is not a valid skill name`);
  return name;
}

/**
 * Checks a hex pubkey.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(checkPubkey("ab".repeat(32)), "ab".repeat(32));
 * assert.throws(() => checkPubkey("AB"), JobSpecError);
 * ```
 * @throws {JobSpecError} when it is not 64 lowercase hex.
 */
export function checkPubkey(text: string): string {
  if (!HEX64.test(text)) throw new JobSpecError(`"${text}" is not a 64-hex pubkey`);
  return text;
}

/**
 * Parses a base-unit amount.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseAmount("5000", "bid"), 5000n);
 * ```
 * @throws {JobSpecError} when it is not a uint64 decimal.
 */
export function parseAmount(text: string, what: string): bigint {
  if (!UINT.test(text) || BigInt(text) > 0xffff_ffff_ffff_ffffn) {
    throw new JobSpecError(`${what} "${text}" is not a whole number of base units`);
  }
  return BigInt(text);
}

function parseSeconds(text: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0 || s > 86_400 * 7) {
    throw new JobSpecError(`timeout "${text}" is not 0-604800 seconds`);
  }
  return Math.round(s * 1000);
}
