/**
 * The project's contracts as compiled into `chain/artifacts/` (`deno task contracts`): the
 * TokenNetwork and the ERC-20 test token, their ABIs and bytecode, read by every part that calls
 * or deploys them.
 *
 * @module
 */
import type { Abi, Hex } from "viem";
import testTokenArtifact from "./artifacts/TestToken.json" with { type: "json" };
import tokenNetworkArtifact from "./artifacts/TokenNetwork.json" with { type: "json" };

/**
 * ABI of the TokenNetwork contract.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOKEN_NETWORK_ABI } from "./contract_artifacts.ts";
 *
 * assert(TOKEN_NETWORK_ABI.some((f) => f.type === "function"));
 * ```
 */
export const TOKEN_NETWORK_ABI: Abi = tokenNetworkArtifact.abi as Abi;

/**
 * ABI of the ERC-20 test token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TEST_TOKEN_ABI } from "./contract_artifacts.ts";
 *
 * assert(TEST_TOKEN_ABI.some((f) => f.type === "function" && f.name === "mint"));
 * ```
 */
export const TEST_TOKEN_ABI: Abi = testTokenArtifact.abi as Abi;

/**
 * Creation bytecode of the TokenNetwork.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOKEN_NETWORK_BYTECODE } from "./contract_artifacts.ts";
 *
 * assert(TOKEN_NETWORK_BYTECODE.startsWith("0x"));
 * ```
 */
export const TOKEN_NETWORK_BYTECODE: Hex = tokenNetworkArtifact.bytecode as Hex;

/**
 * Creation bytecode of the ERC-20 test token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TEST_TOKEN_BYTECODE } from "./contract_artifacts.ts";
 *
 * assert(TEST_TOKEN_BYTECODE.startsWith("0x"));
 * ```
 */
export const TEST_TOKEN_BYTECODE: Hex = testTokenArtifact.bytecode as Hex;
