/**
 * `turnpike chain up`: a local development chain for payment channels (anvil with the
 * project's contracts, roles/local_chain.ts), in the foreground until Ctrl-C. It funds the
 * addresses given (`turnpike wallet show` prints a node's EVM address) and writes the
 * `[chains."evm:base:31337"]` table into the config.toml of the state dirs given, so `town up`,
 * `channel open` and `job submit --channel` find the chain. Testnets (Base Sepolia) need no
 * command: they are configuration (docs/OPERATIONS.md).
 *
 * @module
 */
import type { Command } from "commander";
import { formatUnits, parseUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { stopSignal } from "./stop_signal.ts";
import { ExitCode } from "./exit_codes.ts";
import { AnvilError } from "../chain/anvil.ts";
import { LOCAL_CHAIN } from "../chain/chain_config.ts";
import { writeFileAtomic } from "../state/atomic_file.ts";
import { type LocalChain, startLocalChain } from "../roles/local_chain.ts";

interface ChainUpOptions {
  output?: "text" | "json" | "csv";
  port: string;
  fund?: string[];
  tokens: string;
  config?: string[];
  anvil?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TOKEN_DECIMALS = 6;

/**
 * Adds `chain up` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerChainCommand(new Command("turnpike"));
 * ```
 */
export function registerChainCommand(program: Command): Command {
  const chain = program.command("chain").description(
    "a local development chain for payment channels (anvil + the contracts)",
  );
  chain.command("up")
    .description("start anvil, deploy TokenNetwork + M2M test token, fund accounts; Ctrl-C stops")
    .option("--port <n>", "loopback port (0: a free one)", "8545")
    .option("--fund <address>", "EVM address to fund with tokens and 1 ETH (repeatable)", collect)
    .option("--tokens <amount>", "M2M per funded address", "100")
    .option("--config <state-dir>", "write the chain's table into <state-dir>/config.toml", collect)
    .option("--anvil <path>", "anvil binary (default: tools/node_modules)")
    .action(async (_o: unknown, cmd: Command) => {
      await chainUp(cmd.optsWithGlobals<ChainUpOptions>());
    });
  return chain;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function chainUp(opts: ChainUpOptions): Promise<void> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`--port must be 0-65535, got "${opts.port}"`, { exitCode: ExitCode.Usage });
  }
  const fund = (opts.fund ?? []).map((a) => {
    if (!ADDRESS.test(a)) {
      throw new CliError(`--fund must be a 0x EVM address, got "${a}"`, {
        suggestion: "`turnpike wallet show` prints a node's EVM address",
        exitCode: ExitCode.Usage,
      });
    }
    return a as `0x${string}`;
  });
  if (!/^\d{1,12}(\.\d{1,6})?$/.test(opts.tokens)) {
    throw new CliError(`--tokens must be an amount of M2M, got "${opts.tokens}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  const tokens = parseUnits(opts.tokens, TOKEN_DECIMALS);
  const stopped = stopSignal();
  let chain: LocalChain;
  try {
    chain = await startLocalChain({
      port,
      fund: fund.map((to) => ({ to })),
      tokens,
      binary: opts.anvil,
    });
  } catch (err) {
    if (!(err instanceof AnvilError)) throw err;
    throw new CliError(`the local chain did not start: ${err.message}`, {
      context: `port ${port}`,
      suggestion: "install anvil with `npm install --prefix tools`, or pick a free --port",
      cause: err,
    });
  }
  try {
    const written: string[] = [];
    for (const dir of opts.config ?? []) written.push(await writeChainTable(dir, chain));
    report(opts, chain, fund, tokens, written);
    await stopped;
  } finally {
    await chain.stop();
  }
  if (opts.output === "json") console.log(JSON.stringify({ event: "chain-stopped" }));
  else console.log("chain stopped (its state is gone)");
}

function report(
  opts: ChainUpOptions,
  chain: LocalChain,
  fund: readonly string[],
  tokens: bigint,
  written: readonly string[],
): void {
  if (opts.output === "json") {
    console.log(JSON.stringify({
      event: "chain-ready",
      chain: LOCAL_CHAIN,
      rpcUrl: chain.anvil.rpcUrl,
      tokenNetwork: chain.contracts.tokenNetworkAddress,
      token: chain.contracts.tokenAddress,
      funded: fund,
      tokensEach: tokens.toString(),
      configs: written,
    }));
    return;
  }
  console.log(`Chain: local anvil (${LOCAL_CHAIN}, local) at ${chain.anvil.rpcUrl}`);
  console.log(`TokenNetwork ${chain.contracts.tokenNetworkAddress}`);
  console.log(`token        ${chain.contracts.tokenAddress} (M2M, ${TOKEN_DECIMALS} decimals)`);
  for (const a of fund) {
    console.log(`funded       ${a}: ${formatUnits(tokens, TOKEN_DECIMALS)} M2M and 1 ETH for gas`);
  }
  for (const path of written) console.log(`config       ${path}`);
  console.log(`\n${chain.configToml}`);
  console.log("Ready. Ctrl-C stops the chain (everything on it is lost).");
}

/**
 * Puts the chain's table into a state dir's config.toml: appended when absent, replaced in place
 * when present (only that table's lines; the rest of the file, comments included, is kept).
 */
async function writeChainTable(stateDir: string, chain: LocalChain): Promise<string> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = `${stateDir}/config.toml`;
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const header = `[chains."${LOCAL_CHAIN}"]`;
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === header);
  let next: string;
  if (start === -1) {
    const sep = text === "" || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
    next = `${text}${sep}${chain.configToml}`;
  } else {
    let end = start + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith("[")) end++;
    const table = chain.configToml.trimEnd().split("\n");
    next = [...lines.slice(0, start), ...table, "", ...lines.slice(end)].join("\n")
      .replace(/\n{3,}/g, "\n\n");
  }
  await writeFileAtomic(path, next, { mode: 0o600 });
  return path;
}
