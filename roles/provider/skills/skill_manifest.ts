/**
 * A skill's manifest: the YAML front matter of its `SKILL.md`. Shape:
 *
 * ```yaml
 * ---
 * name: ci-run
 * description: Run a project's test command in a sandbox.
 * metadata:
 *   kinds: [5600]          # event kinds it handles, at least one: NIP-90 request kinds
 *                          # (5000-5999) are paid jobs; any other kind (e.g. 1059, a private
 *                          # message) is delivered to it once, unpaid (docs/SKILLS.md)
 *   required_params: [cmd] # job params it cannot run without: refused before payment
 *   price: 5000            # base units per job (decimal string or integer >= 0)
 *   on_delivery: 80        # percent of the job's amount paid on delivery, with the result
 *                          # (default 0: all up front; docs/PROTOCOL.md "Paid on delivery")
 *   timeout: 120           # seconds, wall clock (default 60, at most 3600)
 *   memory: 512            # MiB (default 256, at most 65536)
 *   disk: 1024             # MiB the work dir may hold (default 1024, at most 1048576)
 *   idempotent: true       # may be re-run after a crash (default false)
 *   result_bytes: 1024     # result kept in the event (default 1024, at most 16384); more goes
 *                          # as a blob. With output_mib, what the quote budgets for writes
 *   output_mib: 16         # output blobs budgeted per job, MiB (default 16, 0 to 4096)
 *   output_files: 2        # output files returned as blobs (default 2, 0 to 32)
 *   runner: sandbox        # who runs it: `sandbox` (its `run`, default), `docker` (the
 *                          # provider's docker-build runner; no `run` file) or `agent` (the
 *                          # agent-task runner: its `run` drives an agent preset in the sandbox,
 *                          # docs/SKILLS.md "agent-task") or `model` (the provider calls
 *                          # a model preset itself, no `run`: docs/SKILLS.md "text-generation")
 *   permissions:
 *     network: false       # asks for network access (the operator must also allow it)
 *     read: []             # extra host paths it asks to read (operator must allow each)
 *     write: []            # extra host paths it asks to write (operator must allow each)
 * ---
 * ```
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { parse as parseYaml } from "yaml";
import { isJobResultKind, JOB_FEEDBACK_KIND } from "../../../protocol/nip90_job.ts";
import { isRecord } from "../../../protocol/plain_record.ts";

/** Largest `SKILL.md` read; a manifest is a few hundred bytes. */
export const MAX_SKILL_MD_BYTES = 64 * 1024;

/** What a skill asks for beyond its work dir. */
export interface SkillPermissions {
  network: boolean;
  read: string[];
  write: string[];
}

/** A parsed, validated skill manifest. */
export interface SkillManifest {
  name: string;
  description: string;
  kinds: number[];
  /** Base units per job. */
  price: bigint;
  /**
   * Percent (0-100) of a job's amount invoiced with its result (paid on delivery); the rest is
   * the deposit paid up front.
   */
  onDeliveryPercent: number;
  timeoutMs: number;
  memoryBytes: number;
  /** Bytes the job's work dir may hold (its files, each and in all). */
  diskBytes: number;
  idempotent: boolean;
  /**
   * `sandbox`: the skill's `run` in the skill sandbox; `docker`: the provider's docker runner;
   * `agent`: the agent-task runner (roles/agent_work/provider/agent_task_runner.ts); `model`:
   * the text-generation runner (roles/provider/models/text_generation_runner.ts).
   */
  runner: SkillRunnerKind;
  /** Result bytes kept in the result event (beyond: a blob); budgeted in the quote. */
  resultBytes: number;
  /** Output blob bytes budgeted in the quote. */
  outputBytes: number;
  /** Output files returned as blobs (each a tag of the result, budgeted in the quote). */
  outputFiles: number;
  /** Job params it cannot run without (a job missing one is refused before payment). */
  requiredParams: string[];
  permissions: SkillPermissions;
}

/** Who runs a skill's jobs. */
export type SkillRunnerKind = "sandbox" | "docker" | "agent" | "model";

/** A `SKILL.md` that is not a valid manifest; `field` names what is wrong. */
export class SkillManifestError extends RoleError {
  override name = "SkillManifestError";
  /** The offending field (`front-matter`, `yaml`, `name`, `metadata.kinds`...). */
  field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const DEFAULT_TIMEOUT_S = 60;
const MAX_TIMEOUT_S = 3600;
const DEFAULT_MEMORY_MIB = 256;
const MAX_MEMORY_MIB = 65536;

/**
 * Parse the text of a `SKILL.md` into a manifest. Throws {@linkcode SkillManifestError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSkillManifest } from "./skill_manifest.ts";
 *
 * const m = parseSkillManifest("---\nname: echo\ndescription: x\nmetadata:\n  kinds: [5000]\n---\n");
 * assert.equal(m.name, "echo");
 * assert.deepEqual(m.kinds, [5000]);
 * ```
 */
export function parseSkillManifest(text: string): SkillManifest {
  if (text.length > MAX_SKILL_MD_BYTES) {
    throw new SkillManifestError("front-matter", `SKILL.md over ${MAX_SKILL_MD_BYTES} bytes`);
  }
  const doc = frontMatterObject(text);
  const name = requireString(doc, "name");
  if (!NAME.test(name)) {
    throw new SkillManifestError("name", `must match ${NAME.source}, got ${JSON.stringify(name)}`);
  }
  const description = requireString(doc, "description");
  const meta = optionalObject(doc.metadata, "metadata");
  const perms = optionalObject(meta.permissions, "metadata.permissions");
  const runner = parseRunner(meta.runner);
  if (runner === "model" && !(Number(meta.on_delivery ?? 0) >= 1)) {
    // Its tokens are known only once the model answered: they are billed with the delivery.
    throw new SkillManifestError("metadata.on_delivery", "a model skill bills on delivery: 1-100");
  }
  return {
    name,
    description,
    kinds: parseKinds(meta.kinds),
    price: parsePrice(meta.price),
    onDeliveryPercent: Math.floor(
      countOrZero(meta.on_delivery, "metadata.on_delivery", 0, 100),
    ),
    timeoutMs: boundedNumber(meta.timeout, "metadata.timeout", DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S) *
      1000,
    memoryBytes: boundedNumber(meta.memory, "metadata.memory", DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB) *
      1024 * 1024,
    diskBytes: boundedNumber(meta.disk, "metadata.disk", 1024, 1024 * 1024) * 1024 * 1024,
    idempotent: optionalBoolean(meta.idempotent, "metadata.idempotent"),
    runner,
    resultBytes: boundedNumber(meta.result_bytes, "metadata.result_bytes", 1024, 16384),
    outputBytes: countOrZero(meta.output_mib, "metadata.output_mib", 16, 4096) * 1024 * 1024,
    outputFiles: Math.floor(countOrZero(meta.output_files, "metadata.output_files", 2, 32)),
    requiredParams: paramNames(meta.required_params),
    permissions: {
      network: optionalBoolean(perms.network, "metadata.permissions.network"),
      read: pathList(perms.read, "metadata.permissions.read"),
      write: pathList(perms.write, "metadata.permissions.write"),
    },
  };
}

function parseRunner(value: unknown): SkillRunnerKind {
  if (value === undefined || value === "sandbox") return "sandbox";
  if (value === "docker" || value === "agent" || value === "model") return value;
  throw new SkillManifestError("metadata.runner", "must be sandbox, docker, agent or model");
}

function frontMatterObject(text: string): Record<string, unknown> {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const match = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(body);
  if (match === null) {
    throw new SkillManifestError("front-matter", "SKILL.md must start with a `---` YAML block");
  }
  let value: unknown;
  try {
    // maxAliasCount bounds alias expansion (billion-laughs) in an untrusted manifest.
    value = parseYaml(match[1], { maxAliasCount: 10 });
  } catch (err) {
    throw new SkillManifestError("yaml", err instanceof Error ? err.message : String(err));
  }
  if (!isRecord(value)) throw new SkillManifestError("front-matter", "not a YAML mapping");
  return value;
}

function requireString(doc: Record<string, unknown>, field: string): string {
  const value = doc[field];
  if (typeof value !== "string" || value.trim() === "") {
    throw new SkillManifestError(field, "required, a non-empty string");
  }
  return value.trim();
}

function optionalObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new SkillManifestError(field, "must be a mapping");
  return value;
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new SkillManifestError(field, "must be true or false");
  return value;
}

/**
 * Kinds a skill cannot take: deletions, job results and feedback are the requester's side of a
 * job, and the provider itself handles them.
 */
function isReservedKind(kind: number): boolean {
  return kind === 5 || kind === JOB_FEEDBACK_KIND || isJobResultKind(kind);
}

function parseKinds(value: unknown): number[] {
  const list = typeof value === "number" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > 64) {
    throw new SkillManifestError("metadata.kinds", "required, a list of 1 to 64 event kinds");
  }
  for (const kind of list) {
    if (!Number.isInteger(kind) || kind < 0 || kind > 65535 || isReservedKind(kind)) {
      throw new SkillManifestError(
        "metadata.kinds",
        `${JSON.stringify(kind)} is not a kind a skill can take ` +
          "(0-65535 but 5, 6000-6999 and 7000)",
      );
    }
  }
  return [...new Set(list as number[])];
}

function paramNames(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) || value.length > 32 ||
    !value.every((v) => typeof v === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(v))
  ) {
    throw new SkillManifestError("metadata.required_params", "must be a list of param names");
  }
  return [...new Set(value as string[])];
}

/**
 * The required params a job request lacks (`["param", name, value]` tags).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingParams } from "./skill_manifest.ts";
 *
 * assert.deepEqual(missingParams([["param", "cmd", "sh test.sh"]], ["cmd", "image"]), ["image"]);
 * ```
 */
export function missingParams(tags: readonly string[][], required: readonly string[]): string[] {
  return required.filter((name) => !tags.some((t) => t[0] === "param" && t[1] === name));
}

function parsePrice(value: unknown): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^\d{1,30}$/.test(value)) return BigInt(value);
  throw new SkillManifestError("metadata.price", "must be a whole number of base units >= 0");
}

function boundedNumber(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new SkillManifestError(field, `must be a number in (0, ${max}]`);
  }
  return value;
}

/** Like boundedNumber, but 0 is allowed (a skill that returns no files). */
function countOrZero(value: unknown, field: string, fallback: number, max: number): number {
  return value === 0 ? 0 : boundedNumber(value, field, fallback, max);
}

function pathList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SkillManifestError(field, "must be a list of paths");
  for (const p of value) {
    if (typeof p !== "string" || !p.startsWith("/") || p.includes("\n") || p.includes("\0")) {
      throw new SkillManifestError(field, `${JSON.stringify(p)} is not an absolute path`);
    }
  }
  return value as string[];
}
