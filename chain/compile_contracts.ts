/**
 * Compiles `chain/contracts/*.sol` with the pinned `solc` npm package (offline: the compiler is
 * the package's own soljson, never `loadRemoteVersion`) into `chain/artifacts/<Name>.json`
 * (abi, bytecode, compiler version, SHA-256 of the sources). The artifacts are committed so the
 * node deploys without compiling; `--check` fails (exit 1) when they differ from a fresh build.
 *
 * ```sh
 * deno task contracts        # write chain/artifacts/*.json
 * deno task contracts:check  # exit 1 if the committed artifacts are stale
 * ```
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import solc from "solc";
import { bytesToHex } from "@noble/hashes/utils.js";

/** One compiled contract as committed in `chain/artifacts/`. */
export interface ContractArtifact {
  contractName: string;
  sourceName: string;
  compiler: string;
  sourceSha256: string;
  abi: unknown[];
  bytecode: `0x${string}`;
}

/** Options for {@linkcode compileContracts}. */
export interface CompileContractsOptions {
  /** Folder of the `.sol` sources. Default `chain/contracts` next to this file. */
  contractsDir?: string;
}

/** solc reported errors; `messages` holds its formatted errors. */
export class ContractCompileError extends ChainError {
  override name = "ContractCompileError";
  constructor(readonly messages: string[]) {
    super(`solc failed:\n${messages.join("\n")}`);
  }
}

const HERE = new URL(".", import.meta.url).pathname;

/**
 * Compiles every `.sol` file of the contracts folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileContracts } from "./compile_contracts.ts";
 *
 * const contractsDir = await Deno.makeTempDir();
 * try {
 *   const source = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Ping { }\n";
 *   await Deno.writeTextFile(`${contractsDir}/Ping.sol`, source);
 *   const artifacts = await compileContracts({ contractsDir }); // chain/contracts by default
 *   assert.deepEqual(artifacts.map((a) => a.contractName), ["Ping"]);
 * } finally {
 *   await Deno.remove(contractsDir, { recursive: true });
 * }
 * ```
 */
export async function compileContracts(
  options: CompileContractsOptions = {},
): Promise<ContractArtifact[]> {
  const dir = options.contractsDir ?? `${HERE}contracts`;
  const sources: Record<string, { content: string }> = {};
  const names = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sol")) names.push(entry.name);
  }
  names.sort();
  for (const name of names) sources[name] = { content: await Deno.readTextFile(`${dir}/${name}`) };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new ContractCompileError(errors.map((e) => e.formattedMessage));
  const artifacts: ContractArtifact[] = [];
  for (const sourceName of names) {
    const sourceSha256 = await sha256Hex(sources[sourceName].content);
    for (const [contractName, c] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      // Interfaces compile to empty bytecode; only deployable contracts become artifacts.
      if (c.evm.bytecode.object === "") continue;
      artifacts.push({
        contractName,
        sourceName,
        compiler: solc.version(),
        sourceSha256,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
      });
    }
  }
  return artifacts;
}

/**
 * The committed artifact file text for an artifact (stable formatting, trailing newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { artifactText, type ContractArtifact } from "./compile_contracts.ts";
 *
 * const artifact: ContractArtifact = {
 *   contractName: "Ping",
 *   sourceName: "Ping.sol",
 *   compiler: "0.8.24",
 *   sourceSha256: "ab".repeat(32),
 *   abi: [],
 *   bytecode: "0x00",
 * };
 * const text = artifactText(artifact);
 * assert(text.endsWith("}\n"));
 * assert.deepEqual(JSON.parse(text), artifact);
 * ```
 */
export function artifactText(artifact: ContractArtifact): string {
  return JSON.stringify(artifact, null, 2) + "\n";
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>
  >;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return bytesToHex(new Uint8Array(digest));
}

async function main(args: string[]): Promise<number> {
  const check = args.includes("--check");
  const artifacts = await compileContracts();
  let stale = 0;
  for (const artifact of artifacts) {
    const path = `${HERE}artifacts/${artifact.contractName}.json`;
    const text = artifactText(artifact);
    if (check) {
      const current = await Deno.readTextFile(path).catch(() => "");
      if (current !== text) {
        console.error(`stale: chain/artifacts/${artifact.contractName}.json`);
        stale++;
      }
    } else {
      await Deno.writeTextFile(path, text);
      console.log(`wrote chain/artifacts/${artifact.contractName}.json`);
    }
  }
  if (check && stale > 0) {
    console.error("Suggestion: run `deno task contracts` and commit chain/artifacts/");
    return 1;
  }
  if (check) console.log(`artifacts match the sources (${artifacts.length} contracts)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
