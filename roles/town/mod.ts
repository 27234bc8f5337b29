/**
 * A town as a library (`@turnpike/turnpike/town`): the settings a `town up` resolves and the
 * function that starts one (docs/ARCHITECTURE.md "The roles"). The codecs and clients a program
 * talks to it with are in the root `mod.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadSettings } from "../../config/settings.ts";
 * import { resolveTownSettings, startTownNode } from "./mod.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const loaded = await loadSettings({
 *   readFile: false,
 *   env: () => undefined,
 *   flags: { stateDir, townPort: "0", btpPort: "0" },
 * });
 * const config = resolveTownSettings({
 *   loaded,
 *   flags: { devAcceptAnyToken: true },
 *   env: () => undefined,
 * });
 * const town = await startTownNode({ config, secretKey: crypto.getRandomValues(new Uint8Array(32)) });
 * assert(town.httpPort > 0 && town.btpPort > 0);
 * await town.stop();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 *
 * @module
 */
export { startTownNode, type TownNode, type TownNodeOptions } from "./town_node.ts";
export {
  DEFAULT_TOWN_PAYOUTS,
  resolveTownSettings,
  type ResolveTownSettingsOptions,
  type TownFlags,
  type TownPayoutPolicy,
  type TownSettings,
} from "../../config/town_settings.ts";
