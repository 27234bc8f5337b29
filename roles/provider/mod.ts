/**
 * A provider as a library (`@turnpike/turnpike/provider`): the function that starts one, which
 * announces its skills, takes the jobs a town carries, runs them in the sandbox and publishes the
 * results (docs/ARCHITECTURE.md "The roles", docs/SKILLS.md).
 *
 * @example
 * ```ts
 * import { type ProviderNodeOptions, startProviderNode } from "./mod.ts";
 *
 * declare const options: ProviderNodeOptions; // its town, state dir, skills and key
 * const provider = await startProviderNode(options);
 * await provider.stop();
 * ```
 *
 * @module
 */
export {
  type ProviderCounters,
  type ProviderNode,
  type ProviderNodeOptions,
  ProviderStartError,
  type ProviderTown,
  startProviderNode,
} from "./provider_node.ts";
