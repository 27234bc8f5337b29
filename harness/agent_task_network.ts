/**
 * Test helper: the setup every agent-task e2e test shares (docs/PROTOCOL.md "agent-task (kind
 * 5603)"): a provider skills dir with the agent-task skill and scripted agents
 * (`agentSkillsDir`), a requester network whose provider runs from it, the requester profile
 * `alice` driven through its CLI (`requesterProfile`) and an empty git repository for her, at
 * `<net.root>/repo`. Disposing it stops the network and removes the skills dir.
 *
 * @module
 */
import { agentSkillsDir, requesterProfile } from "./agent_task_kit.ts";
import type { AgentResult } from "./agent_cli.ts";
import {
  type RequesterNetwork,
  type RequesterNetworkOptions,
  startRequesterNetwork,
} from "./requester_network.ts";
import { type TempGitRepo, tempGitRepo } from "./temp_git_repo.ts";

/** Options for {@linkcode startAgentTaskNetwork}. */
export interface AgentTaskNetworkOptions {
  /** The scripted agents: file name (`<name>.sh`) to shell text. */
  scripts: Record<string, string>;
  /** The network's options, given the skills dir (a preset's command names a script in it). */
  network(skills: string): Omit<RequesterNetworkOptions, "providerSkillsDir">;
}

/** A running agent-task network. */
export interface AgentTaskNetwork extends AsyncDisposable {
  net: RequesterNetwork;
  /** The provider's skills dir. */
  skills: string;
  /** Runs `turnpike --profile alice <args>` as an agent runs it. */
  alice: (...args: string[]) => Promise<AgentResult>;
  /** Alice's repository, no commit yet. */
  repo: TempGitRepo;
  /** Stops the network and removes the skills dir; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the network and makes alice's profile and repository.
 *
 * It starts a town and a provider with its sandbox, so it has no example here:
 * tests/e2e/agent_task_overlay_test.ts and the other agent-task e2e tests start theirs with it.
 */
export async function startAgentTaskNetwork(
  options: AgentTaskNetworkOptions,
): Promise<AgentTaskNetwork> {
  const skills = await agentSkillsDir(options.scripts);
  let net: RequesterNetwork | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await net?.stop();
      await Deno.remove(skills, { recursive: true }).catch(() => {});
    })();
  try {
    net = await startRequesterNetwork({ ...options.network(skills), providerSkillsDir: skills });
    const alice = await requesterProfile(net);
    const repo = await tempGitRepo(`${net.root}/repo`);
    return { net, skills, alice, repo, stop, [Symbol.asyncDispose]: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
