/**
 * Test helper for agent-task jobs (docs/PROTOCOL.md "agent-task (kind 5603)"): a provider skills
 * dir holding the repo's agent-task skill with scripted agents beside it, and a requester
 * profile driven through its CLI as an agent drives it.
 *
 * @module
 */
import { initWalletWithCli } from "./run_cli.ts";
import type { RequesterNetwork } from "./requester_network.ts";
import { agentCli, type AgentResult } from "./agent_cli.ts";
import type { TempGitRepo } from "./temp_git_repo.ts";
import type { AgentPreset } from "../config/agent_presets.ts";

const SKILL = new URL("../skills/agent-task", import.meta.url).pathname;
/** The sample repository agent tasks fix (`add.sh` subtracts; `test.sh` says so). */
const SAMPLE = new URL("../fixtures/agent-repo", import.meta.url).pathname;

/**
 * Commits the sample repository's files (fixtures/agent-repo: README.md, add.sh, test.sh) into
 * `repo`: the base an agent task ships. Returns the commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commitAgentSample } from "./agent_task_kit.ts";
 * import { tempGitRepo } from "./temp_git_repo.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const base = await commitAgentSample(await tempGitRepo(dir));
 * assert.match(base, /^[0-9a-f]{40}$/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function commitAgentSample(repo: TempGitRepo): Promise<string> {
  const files: Record<string, string> = {};
  for (const name of ["README.md", "add.sh", "test.sh"]) {
    files[name] = await Deno.readTextFile(`${SAMPLE}/${name}`);
  }
  return await repo.commit("the sample", files);
}

/**
 * A skills dir with the agent-task skill, and `scripts` (name to shell text) in its `agents/`:
 * the sandbox sees that folder at its own path, so a preset's command can run
 * `sh <dir>/agent-task/agents/<name>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentSkillsDir } from "./agent_task_kit.ts";
 *
 * const dir = await agentSkillsDir({ "noop.sh": "true" });
 * assert((await Deno.stat(`${dir}/agent-task/agents/noop.sh`)).isFile);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function agentSkillsDir(scripts: Record<string, string>): Promise<string> {
  const skills = await Deno.makeTempDir({ prefix: "turnpike-agent-skills-" });
  const skillDir = `${skills}/agent-task`;
  await Deno.mkdir(`${skillDir}/agents`, { recursive: true });
  await Deno.copyFile(`${SKILL}/SKILL.md`, `${skillDir}/SKILL.md`);
  await Deno.copyFile(`${SKILL}/run`, `${skillDir}/run`);
  await Deno.chmod(skillDir, 0o755);
  await Deno.chmod(`${skillDir}/run`, 0o755);
  for (const [name, text] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${skillDir}/agents/${name}`, text + "\n", { mode: 0o644 });
  }
  return skills;
}

/**
 * The requester `alice` of `net`: a profile of its own (a wallet, config.toml) under
 * `<net.root>/agent-home`, its commands run as an agent runs them.
 *
 * It needs a requester network (a town and a provider), so it has no example here:
 * tests/e2e/agent_task_verify_test.ts and tests/e2e/agent_delivery_proof_test.ts make their
 * profiles with it.
 */
export async function requesterProfile(
  net: Pick<RequesterNetwork, "root" | "relayUrl" | "btpUrl">,
): Promise<(...args: string[]) => Promise<AgentResult>> {
  const home = `${net.root}/agent-home`;
  const state = `${home}/alice`;
  await Deno.mkdir(state, { recursive: true });
  await Deno.writeTextFile(`${home}/pw`, "agent passphrase\n");
  await initWalletWithCli({ stateDir: state, passphraseFile: `${home}/pw` });
  await Deno.writeTextFile(
    `${state}/config.toml`,
    `role = "requester"\nrelay_url = "${net.relayUrl}"\n` +
      `connector_btp_url = "${net.btpUrl}"\nbtp_token = "agent"\n`,
  );
  return agentCli({
    profile: "alice",
    env: { TURNPIKE_HOME: home, TURNPIKE_NODE_IDLE_TIMEOUT: "2" },
    secret: ["--passphrase-file", `${home}/pw`, "--non-interactive"],
  });
}

/**
 * A preset running the scripted agent `<skills>/agent-task/agents/<name>.sh` (from
 * {@linkcode agentSkillsDir}): free, a budget of 1,000, its model API where nothing listens (a
 * script that makes no call needs none), with `more` over these.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentSkillsDir, scriptedPreset } from "./agent_task_kit.ts";
 *
 * const skills = await agentSkillsDir({ "fix.sh": "true" });
 * const preset = scriptedPreset(skills, "fix", { price: 500n });
 * assert.equal(preset.command, `sh ${skills}/agent-task/agents/fix.sh`);
 * await Deno.remove(skills, { recursive: true });
 * ```
 */
export function scriptedPreset(
  skills: string,
  name: string,
  more: Partial<AgentPreset> = {},
): AgentPreset {
  return {
    ...modelFreePreset(skills, name),
    budget: 1000n,
    upstream: "http://127.0.0.1:9",
    apiKey: "sk-unused",
    ...more,
  };
}

/**
 * A preset running the scripted agent `<skills>/agent-task/agents/<name>.sh` with no model (no
 * `upstream`, no key, a budget of 0: its gateway refuses every call), free.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelFreePreset } from "./agent_task_kit.ts";
 *
 * const preset = modelFreePreset("/skills", "slow");
 * assert.equal(preset.command, "sh /skills/agent-task/agents/slow.sh");
 * assert.equal(preset.upstream, undefined);
 * ```
 */
export function modelFreePreset(skills: string, name: string): AgentPreset {
  return {
    name,
    command: `sh ${skills}/agent-task/agents/${name}.sh`,
    price: 0n,
    budget: 0n,
    flavor: "anthropic",
    apiKey: "",
    inputPerMillion: 0n,
    outputPerMillion: 0n,
    headers: {},
  };
}

/** Options for {@linkcode agentTaskArgs}: the flags of `job submit agent-task`. */
export interface AgentTaskArgsOptions {
  /** `--repo`: the requester's repository. */
  repo: string;
  /** `--depth`: how many commits the bundle ships. */
  depth?: number;
  /** `--title`. */
  title?: string;
  /** `--text`: the task's body. */
  text?: string;
  /** `--bead`: a bead file instead of a title. */
  bead?: string;
  /** `--accept`: the acceptance command. */
  accept: string;
  /** `--agent`: the preset. */
  agent: string;
  /** `--protect`: a path glob the agent may not change. */
  protect?: string;
  /** `--bid`; default 1000000. */
  bid?: bigint;
  /** `--provider`: the provider's pubkey. */
  provider: string;
  /** `--timeout` in seconds. */
  timeoutS?: number;
  /** `--wait`: wait for the result; default true. */
  wait?: boolean;
}

/**
 * The arguments of `job submit agent-task` with these flags, in the order the e2e tests have
 * always passed them; a caller adds its own after them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentTaskArgs } from "./agent_task_kit.ts";
 *
 * const args = agentTaskArgs({ repo: "/r", title: "t", accept: "true", agent: "a", provider: "p" });
 * assert.deepEqual(args, [
 *   "job", "submit", "agent-task", "--repo", "/r", "--title", "t", "--accept", "true",
 *   "--agent", "a", "--bid", "1000000", "--provider", "p", "--wait",
 * ]);
 * ```
 */
export function agentTaskArgs(options: AgentTaskArgsOptions): string[] {
  const flag = (name: string, value: string | number | undefined) =>
    value === undefined ? [] : [name, String(value)];
  return [
    ...["job", "submit", "agent-task"],
    ...flag("--repo", options.repo),
    ...flag("--depth", options.depth),
    ...flag("--bead", options.bead),
    ...flag("--title", options.title),
    ...flag("--text", options.text),
    ...flag("--accept", options.accept),
    ...flag("--agent", options.agent),
    ...flag("--protect", options.protect),
    ...flag("--bid", String(options.bid ?? 1_000_000n)),
    ...flag("--provider", options.provider),
    ...flag("--timeout", options.timeoutS),
    ...options.wait === false ? [] : ["--wait"],
  ];
}
