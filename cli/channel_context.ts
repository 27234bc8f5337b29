/**
 * What every `turnpike channel` command starts from: its options, the profile's settings it reads
 * (`[channels]`, `[chains."<id>"]`, the relay URL, the role), the chain a channel is on, the
 * unlocked wallet, and the amounts and addresses its flags give.
 *
 * @module
 */
import { parseUnits } from "viem";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadSettings } from "../config/settings.ts";
import {
  type ChainTables,
  chainTables,
  type ChannelOpenSettings,
  channelOpenSettings,
} from "../config/channel_settings.ts";
import { type ChainConfig, resolveChainConfig } from "../config/chain_config.ts";
import type { ChannelRecord } from "../state/channels/channel_file.ts";
import { loadNodeSigner } from "./node_identity.ts";
import type { NodeSigner } from "../protocol/node_signer.ts";
import type { GlobalOptions } from "./global_options.ts";
import { terminalText } from "./terminal_text.ts";

/** The options every channel command takes (the group's `--chain`, `--rpc-url`... and the root's). */
export interface ChannelOptions extends GlobalOptions {
  passphraseFile?: string;
  chain?: string;
  rpcUrl?: string;
  tokenNetwork?: string;
  token?: string;
  mainnet?: boolean;
  /** `open`: the town whose kind 10032 names the peer (default: the relay URL setting). */
  town?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The settings a channel command reads, loaded once from the profile. */
export interface ChannelContext {
  /** The profile's state directory. */
  stateDir: string;
  /** `[chains."<id>"]` (config/channel_settings.ts). */
  chains: ChainTables;
  /** `[channels]`, the keys an opening reads. */
  channels: ChannelOpenSettings;
  /** The town's relay URL (`--town`, else the relay URL setting). */
  relayUrl: string;
  /** The profile's role (`turnpike init --role`), when said. */
  role?: string;
}

/**
 * Loads the profile's settings a channel command reads (`--town` as the relay URL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelContext } from "./channel_context.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a profile with no config: the defaults
 * const ctx = await channelContext({ stateDir });
 * assert.equal(ctx.stateDir, stateDir);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function channelContext(opts: ChannelOptions): Promise<ChannelContext> {
  const loaded = await loadSettings({
    flags: { stateDir: opts.stateDir, profile: opts.profile, relayUrl: opts.town },
  });
  return {
    stateDir: loaded.settings.stateDir,
    chains: chainTables(loaded),
    channels: channelOpenSettings(loaded),
    relayUrl: loaded.settings.relayUrl,
    role: loaded.settings.role,
  };
}

/**
 * The chain `id` as configured (`[chains."<id>"]`), with `--rpc-url`, `--token-network` and
 * `--token` over it; a mainnet chain needs `--mainnet`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chainFor, channelContext } from "./channel_context.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const opts = { stateDir, rpcUrl: "http://127.0.0.1:8545" };
 * const chain = chainFor(await channelContext(opts), opts, "evm:base:31337");
 * assert.equal(chain.rpcUrl, "http://127.0.0.1:8545");
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function chainFor(ctx: ChannelContext, opts: ChannelOptions, id: string): ChainConfig {
  const chainsTable = ctx.chains;
  const overrides: Partial<ChainConfig> = {};
  if (opts.rpcUrl) overrides.rpcUrl = opts.rpcUrl;
  if (opts.tokenNetwork) {
    overrides.tokenNetworkAddress = evmAddress(opts.tokenNetwork, "--token-network");
  }
  if (opts.token) overrides.tokenAddress = evmAddress(opts.token, "--token");
  return resolveChainConfig(id, {
    section: chainsTable[id],
    overrides,
    allowMainnet: opts.mainnet,
  });
}

/**
 * Unlocks this node's wallet (`--passphrase-file`, else a prompt unless `--non-interactive`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelContext, unlockWallet } from "./channel_context.ts";
 * import { createWallet } from "./wallet_command.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const passphraseFile = `${stateDir}/passphrase`;
 * await Deno.writeTextFile(passphraseFile, "correct horse battery staple\n");
 * await createWallet(stateDir, { passphraseFile });
 * const opts = { stateDir, passphraseFile };
 * {
 *   using signer = await unlockWallet(await channelContext(opts), opts);
 *   assert.match(signer.evm.address, /^0x[0-9a-fA-F]{40}$/);
 * }
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function unlockWallet(ctx: ChannelContext, opts: ChannelOptions): Promise<NodeSigner> {
  return loadNodeSigner({
    stateDir: ctx.stateDir,
    who: "this node",
    passphraseFile: opts.passphraseFile,
    nonInteractive: opts.nonInteractive,
  });
}

/**
 * The chain a channel's file says it is on, the flags over it (as {@linkcode chainFor}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chainOfRecord, channelContext } from "./channel_context.ts";
 * import { listChannels } from "../state/channels/channel_file.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // no channel opened yet
 * const ctx = await channelContext({ stateDir });
 * const chains = (await listChannels(ctx.stateDir)).map((r) => chainOfRecord(ctx, {}, r).id);
 * assert.deepEqual(chains, []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function chainOfRecord(
  ctx: ChannelContext,
  opts: ChannelOptions,
  r: ChannelRecord,
): ChainConfig {
  return chainFor(ctx, {
    ...opts,
    tokenNetwork: opts.tokenNetwork ?? r.tokenNetworkAddress,
    token: opts.token ?? r.tokenAddress,
  }, r.chain);
}

/**
 * `turnpike` with the state dir or profile this command was given, for suggestions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cliPrefix } from "./channel_context.ts";
 *
 * assert.equal(cliPrefix({ profile: "alice" }), "turnpike --profile alice");
 * assert.equal(cliPrefix({}), "turnpike");
 * ```
 */
export function cliPrefix(opts: ChannelOptions): string {
  if (opts.stateDir !== undefined) return `turnpike --state-dir ${opts.stateDir}`;
  if (opts.profile !== undefined && opts.profile !== "default") {
    return `turnpike --profile ${opts.profile}`;
  }
  return "turnpike";
}

/**
 * Prints a line about what the command does: on stdout for text output, on stderr for the
 * machine formats, whose stdout holds only their lines (docs/AGENTS.md "What each command
 * prints").
 *
 * @example
 * ```ts
 * import { infoLine } from "./channel_context.ts";
 *
 * infoLine({ output: "json" }, "Network: local anvil (evm:base:31337)"); // on stderr
 * ```
 */
export function infoLine(opts: ChannelOptions, line: string): void {
  // Text output prints it on stdout; machine formats keep stdout clean, so it goes to stderr.
  // A line may name what a peer or a chain said (a token's symbol, a refusal).
  if ((opts.output ?? "text") === "text") console.log(terminalText(line));
  else console.error(terminalText(line));
}

/**
 * A decimal amount in token units (`--deposit 50`) in base units; else a usage error (exit 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenUnits } from "./channel_context.ts";
 *
 * assert.equal(tokenUnits("1.5", 6, "--amount"), 1500000n);
 * ```
 */
export function tokenUnits(text: string, decimals: number, what: string): bigint {
  if (!/^\d{1,30}(\.\d{1,18})?$/.test(text)) {
    throw new CliError(`${what} must be a positive decimal amount, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return parseUnits(text, decimals);
}

/**
 * A 0x EVM address given as `what`; else a usage error (exit 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evmAddress } from "./channel_context.ts";
 * import { CliError } from "./cli_error.ts";
 *
 * assert.equal(evmAddress("0x" + "ab".repeat(20), "--peer"), "0x" + "ab".repeat(20));
 * assert.throws(() => evmAddress("0x12", "--peer"), CliError);
 * ```
 */
export function evmAddress(text: string, what: string): `0x${string}` {
  if (!ADDRESS.test(text)) {
    throw new CliError(`${what} must be a 0x EVM address, got "${text}"`, {
      exitCode: ExitCode.Usage,
    });
  }
  return text as `0x${string}`;
}
