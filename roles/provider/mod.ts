/**
 * A provider as a library (`@turnpike/turnpike/provider`): the function that starts one, which
 * announces its skills, takes the jobs a town carries, runs them in the sandbox and publishes the
 * results (docs/ARCHITECTURE.md "The roles", docs/SKILLS.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSecretKey } from "nostr-tools/pure";
 * import { startProviderNode } from "./mod.ts";
 * import { startTownNode } from "../town/mod.ts";
 *
 * // A town in-process on port 0 (any BTP token accepted), and a skill that echoes its input.
 * const root = await Deno.makeTempDir();
 * const town = await startTownNode({
 *   config: { host: "127.0.0.1", httpPort: 0, btpPort: 0, stateDir: `${root}/town`, network: "local",
 *     ilpAddress: "test.town", peers: [], acceptAnyToken: true, pricing: { pricePerByte: 10n },
 *     maxEventBytes: 65_536, assetCode: "USD", assetScale: 6 },
 *   secretKey: generateSecretKey(),
 *   databasePath: ":memory:",
 * });
 * await Deno.mkdir(`${root}/skills/cat`, { recursive: true });
 * await Deno.writeTextFile(`${root}/skills/cat/SKILL.md`,
 *   "---\nname: cat\ndescription: Returns its input.\nmetadata:\n  kinds: [5700]\n---\n");
 * await Deno.writeTextFile(`${root}/skills/cat/run`, "#!/bin/sh\nexec cat\n", { mode: 0o755 });
 * const provider = await startProviderNode({
 *   stateDir: `${root}/provider`,
 *   secretKey: generateSecretKey(),
 *   btpUrl: `btp+ws://provider:p@127.0.0.1:${town.btpPort}`,
 *   btpToken: "p",
 *   relayUrl: `ws://127.0.0.1:${town.httpPort}`,
 *   townPubkey: town.pubkey,
 *   skillsDir: `${root}/skills`,
 * });
 * assert.equal(provider.ilpAddress, "test.town.provider");
 * await provider.stop();
 * await town.stop();
 * await Deno.remove(root, { recursive: true });
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
