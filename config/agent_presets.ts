/**
 * A provider's agent presets: the `[agents.<name>]` tables of its config.toml, each a coding
 * agent the `agent-task` skill can run (docs/SKILLS.md "agent-task", docs/OPERATIONS.md "Agent
 * presets"): the command (any program, run with `sh -c` in the job's worktree inside the
 * sandbox), its price, its limits, and the model API its gateway forwards to with the
 * provider's key. The key itself is read here from a variable or a file the operator names, so
 * it is never written in the config and never enters the sandbox.
 *
 * ```toml
 * [agents.claude]
 * command = 'ANTHROPIC_API_KEY=placeholder claude -p "$(cat "$TURNPIKE_TASK")" --dangerously-skip-permissions --output-format stream-json --verbose'
 * price = 20000              # base units per job, announced with the preset
 * timeout = 1800             # seconds of the agent's wall time (default: the skill's timeout)
 * budget = 500000            # the most its model calls may cost a job, base units
 * flavor = "anthropic"       # or "openai": which calls pass and how the key is sent
 * upstream = "https://api.anthropic.com"
 * api_key_env = "ANTHROPIC_API_KEY"   # or api_key_file = "/etc/turnpike/anthropic.key"
 * input_per_million = 3000000         # what a million input tokens cost, base units
 * output_per_million = 15000000
 * headers = { "anthropic-version" = "2023-06-01" }
 * ```
 *
 * A preset with no `upstream` (a scripted or tool agent) has no model: no key, a budget of 0
 * unless given, and a gateway that refuses every call. At `node up` every problem of every preset
 * is told at once, an agent command the sandbox cannot run among them.
 *
 * A host preset (`host = true`, docs/OPERATIONS.md "Host presets") is the operator's own trusted
 * program, run on the host as the provider's user, outside the sandbox and without a gateway:
 * its `command` is the absolute path of an executable (refused at load otherwise), run with
 * `args` and no shell, in a clean environment plus its `env` table:
 *
 * ```toml
 * [agents.gastown]
 * host = true
 * command = "/opt/turnpike/turnpike-gastown-provider"
 * args = ["--rig", "turnpike", "--rig-repo", "/srv/gt/turnpike.git"]
 * env = { GT_TOWN_ROOT = "/srv/gt" }
 * price = 50000
 * timeout = 3600
 * ```
 *
 * @module
 */
import { parsePresetTable, PresetTableError, readPresetApiKey } from "./preset_table.ts";
import { isRecord } from "../protocol/plain_record.ts";

/** One agent preset, checked, its key read. */
export interface AgentPreset {
  name: string;
  /**
   * Run with `sh -c` in the worktree, inside the job's sandbox; for a host preset, the absolute
   * path of the executable run on the host with {@linkcode AgentPreset.args}.
   */
  command: string;
  /** A host preset: run on the host, outside the sandbox, with no gateway (default false). */
  host?: boolean;
  /** A host preset's arguments (no shell). */
  args?: string[];
  /** A host preset's environment besides the job's and a few of the provider's own. */
  env?: Record<string, string>;
  /** Base units per job, announced with the preset. */
  price: bigint;
  /** The agent's wall time, ms; undefined: the skill's timeout. */
  timeoutMs?: number;
  /** The most the job's model calls may cost, base units (the job's own budget may be lower). */
  budget: bigint;
  flavor: "anthropic" | "openai";
  /** The model API's base URL; none: no model, the gateway refuses every call. */
  upstream?: string;
  /** The provider's key for the upstream: the gateway adds it; the job never sees it ("": none). */
  apiKey: string;
  inputPerMillion: bigint;
  outputPerMillion: bigint;
  /** Headers added to every forwarded call. */
  headers: Record<string, string>;
}

/** Options for {@linkcode parseAgentPresets}. */
export interface ParseAgentPresetsOptions {
  /** Environment, for `api_key_env`; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Reads `api_key_file`; default `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
  /** Whether a host preset's command is an executable file; default: a stat of its mode. */
  isExecutable?: (path: string) => boolean;
  /**
   * Why a sandboxed preset's command cannot run in the sandbox, or undefined: `node up` passes
   * the sandbox's view (roles/provider/sandbox/sandbox_command.ts); default: not checked.
   */
  checkCommand?: (command: string) => string | undefined;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The presets of an `[agents]` table (undefined: none). Every problem of every preset is found
 * before any is reported: one {@linkcode AgentPresetsError} lists them all, each naming the
 * preset and the key at fault. A preset with no `upstream` has no model: its gateway refuses
 * every call, and its budget is 0 unless given (a scripted or tool agent needs no model).
 *
 * @example
 * ```ts
 * import { parseAgentPresets } from "./agent_presets.ts";
 *
 * const presets = parseAgentPresets({
 *   fix: {
 *     command: "sh /opt/agents/fix.sh",
 *     price: 1000,
 *     budget: 500,
 *     upstream: "http://127.0.0.1:9",
 *     api_key_env: "MODEL_KEY",
 *   },
 *   lint: { command: "deno lint --fix" },
 * }, { env: () => "sk-test" });
 * if (presets.fix.apiKey !== "sk-test" || presets.fix.flavor !== "anthropic") throw new Error();
 * if (presets.lint.upstream !== undefined || presets.lint.budget !== 0n) throw new Error();
 * ```
 */
export function parseAgentPresets(
  table: unknown,
  options: ParseAgentPresetsOptions = {},
): Record<string, AgentPreset> {
  return parsePresetTable(table, {
    section: "agents",
    // `protect` is a requester's list of protected globs (config/requester_settings.ts).
    skip: (name, value) => name === "protect" && Array.isArray(value),
    read: (where, name, value, problem) => readPreset(where, name, value, options, problem),
    error: (problems) => new AgentPresetsError(problems),
  });
}

/**
 * Every problem of the `[agents]` presets, at once: `problems` holds one line each, naming the
 * preset and the key (`[agents.a] budget: ...`); the message is the one line, or all of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AgentPresetsError } from "./agent_presets.ts";
 * import { ConfigError } from "./config_error.ts";
 *
 * const err = new AgentPresetsError(["[agents.a] budget: x", "[agents.b] command: y"]);
 * assert.ok(err instanceof ConfigError); // a bad setting: `node up` exits 2
 * assert.equal(err.message, "2 problems in [agents]:\n  [agents.a] budget: x\n  [agents.b] command: y");
 * ```
 */
export class AgentPresetsError extends PresetTableError {
  /** `"AgentPresetsError"`: explicit so it survives bundling. */
  override name = "AgentPresetsError";
  /** `problems`: at least one. */
  constructor(problems: string[]) {
    super("agents", problems);
  }
}

/** One preset, or undefined with its problems told to `problem`. */
function readPreset(
  where: string,
  name: string,
  value: unknown,
  options: ParseAgentPresetsOptions,
  problem: (line: string) => void,
): AgentPreset | undefined {
  if (!NAME.test(name)) problem(`${where}: a preset name is [a-z0-9_-], 1-64`);
  if (!isRecord(value)) {
    problem(`${where} must be a table`);
    return undefined;
  }
  const text = (key: string, fallback?: string): string => {
    const v = value[key] ?? fallback;
    if (typeof v === "string" && v.trim() !== "") return v;
    problem(`${where} ${key}: a non-empty string is required`);
    return "";
  };
  const units = (key: string, fallback?: bigint): bigint => {
    const v = value[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (
      (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) ||
      (typeof v === "string" && /^\d{1,30}$/.test(v))
    ) return BigInt(v);
    problem(`${where} ${key}: a whole number of base units >= 0 is required`);
    return 0n;
  };
  const flavor = text("flavor", "anthropic");
  if (flavor !== "" && flavor !== "anthropic" && flavor !== "openai") {
    problem(`${where} flavor: anthropic or openai, not ${JSON.stringify(flavor)}`);
  }
  const timeout = value.timeout;
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || !(timeout > 0) || timeout > 86_400)
  ) {
    problem(`${where} timeout: seconds in (0, 86400]`);
  }
  const timeoutMs = typeof timeout === "number" ? Math.round(timeout * 1000) : undefined;
  const headers = value.headers ?? {};
  if (!isRecord(headers) || !Object.values(headers).every((h) => typeof h === "string")) {
    problem(`${where} headers: a table of strings`);
  }
  if (value.host !== undefined && typeof value.host !== "boolean") {
    problem(`${where} host: true or false`);
  }
  if (value.host === true) return hostPreset(where, name, value, text, units, options, problem);
  const command = text("command");
  const unseen = command === "" ? undefined : options.checkCommand?.(command);
  if (unseen !== undefined) problem(`${where} command: ${unseen}`);
  // No upstream: no model, no key; the gateway refuses every call (agent_gateway.ts).
  const upstream = value.upstream === undefined ? undefined : text("upstream");
  for (const key of ["api_key_env", "api_key_file"]) {
    if (upstream === undefined && value[key] !== undefined) {
      problem(`${where} ${key}: no upstream to send a key to (give upstream, or no key)`);
    }
  }
  return {
    name,
    command,
    price: units("price", 0n),
    timeoutMs,
    budget: units("budget", upstream === undefined ? 0n : undefined),
    flavor: flavor === "openai" ? "openai" : "anthropic",
    upstream,
    apiKey: upstream === undefined ? "" : readPresetApiKey(where, value, options, problem, true),
    inputPerMillion: units("input_per_million", 0n),
    outputPerMillion: units("output_per_million", 0n),
    headers: headers as Record<string, string>,
  };
}

function hostPreset(
  where: string,
  name: string,
  value: Record<string, unknown>,
  text: (key: string) => string,
  units: (key: string, fallback?: bigint) => bigint,
  options: ParseAgentPresetsOptions,
  problem: (line: string) => void,
): AgentPreset {
  const command = text("command");
  const isExecutable = options.isExecutable ?? executableFile;
  if (command !== "" && (!command.startsWith("/") || !isExecutable(command))) {
    problem(
      `${where} command: a host preset's command is the absolute path of an executable file ` +
        `(its arguments in args), not ${JSON.stringify(command)}`,
    );
  }
  const args = value.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    problem(`${where} args: an array of strings`);
  }
  const env = value.env ?? {};
  if (!isRecord(env) || !Object.values(env).every((v) => typeof v === "string")) {
    problem(`${where} env: a table of strings`);
  }
  const timeout = value.timeout;
  return {
    name,
    command,
    host: true,
    args: args as string[],
    env: env as Record<string, string>,
    price: units("price", 0n),
    timeoutMs: typeof timeout === "number" ? Math.round(timeout * 1000) : undefined,
    budget: units("budget", 0n),
    flavor: "anthropic",
    apiKey: "",
    inputPerMillion: 0n,
    outputPerMillion: 0n,
    headers: {},
  };
}

function executableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
