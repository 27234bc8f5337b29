/**
 * A local chain for `demo` and tests: starts the anvil binary of the npm package
 * `@foundry-rs/anvil` (installed in `tools/node_modules`) on a free port of 127.0.0.1 (port 0,
 * the port is read from anvil's "Listening on" line), and deploys the project's contracts from
 * `chain/artifacts/`. Chain id 31337 unless told another (a test of Base's 8453 or Base
 * Sepolia's 84532), the standard test mnemonic's funded accounts.
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TEST_TOKEN_ABI } from "./contract_artifacts.ts";
import { ContractDeployError, deployTokenNetwork } from "./contract_deployer.ts";

/** Secret keys of anvil's first funded accounts (the public "test ... junk" mnemonic). */
export const ANVIL_ACCOUNT_KEYS: readonly Hex[] = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9da8d7f7fd29a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/** A running anvil. */
export interface AnvilInstance {
  rpcUrl: string;
  port: number;
  chainId: number;
  /** anvil's process id. */
  pid: number;
  /** Characters anvil has printed since it listened (its log of each request, when kept: `log`). */
  loggedChars(): number;
  /** Kills anvil (SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@linkcode startAnvil}. */
export interface StartAnvilOptions {
  /** anvil binary; default the one in `tools/node_modules/@foundry-rs/anvil-<platform>`. */
  binary?: string;
  /** How long to wait for the "Listening on" line. Default 10 s. */
  startTimeoutMs?: number;
  /** Loopback port to listen on. Default 0: a free port (read back from anvil's log). */
  port?: number;
  /** The chain id anvil answers (`--chain-id`). Default 31337. */
  chainId?: number;
  /**
   * Keep anvil's log of every request (default false: turned off once it listens, by its
   * `anvil_setLoggingEnabled`). Each logged request cost anvil a write and this process a read
   * and a decode (docs/SCALE.md "anvil's log").
   */
  log?: boolean;
}

/** Options for {@linkcode deployContracts}. */
export interface DeployContractsOptions {
  rpcUrl: string;
  /** Deployer (and token minter) key; default anvil account 0. */
  deployerKey?: Hex;
  /** Bounds of the settle timeout, seconds. Default 1 to 30 days. */
  minSettleTimeout?: bigint;
  maxSettleTimeout?: bigint;
  /** Test token symbol/decimals. Default "M2M", 6. */
  tokenSymbol?: string;
  tokenDecimals?: number;
  /** The anvil's chain id. Default 31337. */
  chainId?: number;
}

/** Addresses of freshly deployed contracts. */
export interface DeployedContracts {
  tokenAddress: `0x${string}`;
  tokenNetworkAddress: `0x${string}`;
}

/** Options for {@linkcode fundAccount}. */
export interface FundAccountOptions {
  rpcUrl: string;
  tokenAddress: `0x${string}`;
  to: `0x${string}`;
  /** Test tokens to mint (base units). */
  tokens: bigint;
  /** Wei to send for gas; default 0. */
  wei?: bigint;
  /** Minter key; default anvil account 0 (the deployer). */
  minterKey?: Hex;
  /** The anvil's chain id. Default 31337. */
  chainId?: number;
}

/** anvil could not be started or the deployment failed. */
export class AnvilError extends ChainError {
  override name = "AnvilError";
}

/**
 * Path of the anvil binary shipped by `@foundry-rs/anvil` for this platform.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anvilBinaryPath } from "./anvil.ts";
 *
 * // .../tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil (deno task setup installs it)
 * assert.match(anvilBinaryPath(), /\/tools\/node_modules\/@foundry-rs\/anvil-\w+-\w+\/bin\/anvil/);
 * ```
 */
export function anvilBinaryPath(): string {
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  const exe = Deno.build.os === "windows" ? "anvil.exe" : "anvil";
  return new URL(
    `../tools/node_modules/@foundry-rs/anvil-${os}-${arch}/bin/${exe}`,
    import.meta.url,
  )
    .pathname;
}

/**
 * Starts anvil on a free loopback port.
 * It starts the anvil process (`await using anvil = await startAnvil()`, then
 * `deployContracts({ rpcUrl: anvil.rpcUrl })`), so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  const binary = options.binary ?? anvilBinaryPath();
  // anvil keeps the states it moves out of memory under `$HOME/.foundry/anvil/tmp/` and does not
  // remove them when stopped (a SIGKILL or a SIGINT alike): about 4.6 GB a 1,000-agent scale run,
  // left for ever (docs/OPERATIONS.md "anvil's state on disk"). Its HOME is a temp dir of its
  // own, removed at stop.
  const home = await Deno.makeTempDir({ prefix: "turnpike-anvil-" });
  const removeHome = () => Deno.remove(home, { recursive: true }).catch(() => {});
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      env: { HOME: home },
      args: [
        "--host",
        "127.0.0.1",
        "--port",
        String(options.port ?? 0),
        "--chain-id",
        String(options.chainId ?? 31337),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (err) {
    await removeHome();
    throw new AnvilError(`cannot run ${binary}: ${(err as Error).message}`, { cause: err });
  }
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let port: number;
  try {
    port = await readPort(reader, options.startTimeoutMs ?? 10_000);
  } catch (err) {
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    killQuietly(child);
    await child.status;
    await removeHome();
    throw err;
  }
  if (options.log !== true) await stopRequestLog(`http://127.0.0.1:${port}`);
  // anvil logs every request on stdout (unless told not to); keep draining so it never blocks on
  // a full pipe.
  let loggedChars = 0;
  const drained = (async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        loggedChars += r.value.length;
      }
    } catch { /* cancelled at stop */ }
  })();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      killQuietly(child);
      await child.status;
      await reader.cancel().catch(() => {});
      await drained;
      await removeHome();
    })();
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    port,
    chainId: options.chainId ?? 31337,
    pid: child.pid,
    loggedChars: () => loggedChars,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function readPort(
  reader: ReadableStreamDefaultReader<string>,
  timeoutMs: number,
): Promise<number> {
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AnvilError(`anvil did not start within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new AnvilError(`anvil exited before listening: ${seen.slice(-500)}`);
      seen += value;
      const m = /Listening on [0-9.]+:(\d+)/.exec(seen);
      if (m) return Number(m[1]);
      if (seen.length > 1_000_000) seen = seen.slice(-10_000);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Turns anvil's log of each request off. An anvil without the method (or slow to answer) keeps
 * logging: the drain reads it as before.
 */
async function stopRequestLog(rpcUrl: string): Promise<void> {
  const client = createTestClient({
    mode: "anvil",
    transport: http(rpcUrl, { timeout: 5_000, retryCount: 0 }),
  });
  await client.setLoggingEnabled(false).catch(() => {/* still logging: drained */});
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch { /* already exited */ }
}

/**
 * The viem chain object for anvil (chain id 31337 unless told another) at an RPC URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anvilChain } from "./anvil.ts";
 *
 * const chain = anvilChain("http://127.0.0.1:8545");
 * assert.equal(chain.id, 31337);
 * assert.deepEqual(chain.rpcUrls.default.http, ["http://127.0.0.1:8545"]);
 * ```
 */
export function anvilChain(rpcUrl: string, chainId = 31337) {
  return defineChain({
    id: chainId,
    name: "anvil",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/**
 * Deploys the test token and the TokenNetwork from the committed artifacts.
 * It needs anvil, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 */
export async function deployContracts(options: DeployContractsOptions): Promise<DeployedContracts> {
  try {
    const deployed = await deployTokenNetwork({
      rpcUrl: options.rpcUrl,
      chainId: options.chainId ?? 31337,
      account: privateKeyToAccount(options.deployerKey ?? ANVIL_ACCOUNT_KEYS[0]),
      testTokenSymbol: options.tokenSymbol,
      testTokenDecimals: options.tokenDecimals,
      minSettleTimeout: options.minSettleTimeout,
      maxSettleTimeout: options.maxSettleTimeout,
    });
    return {
      tokenAddress: deployed.tokenAddress,
      tokenNetworkAddress: deployed.tokenNetworkAddress,
    };
  } catch (err) {
    if (err instanceof ContractDeployError) throw new AnvilError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Mints test tokens and sends ETH for gas to an address (anvil only: the deployer is the minter).
 * It needs anvil, so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 */
export async function fundAccount(options: FundAccountOptions): Promise<void> {
  const chain = anvilChain(options.rpcUrl, options.chainId);
  const account = privateKeyToAccount(options.minterKey ?? ANVIL_ACCOUNT_KEYS[0]);
  const transport = http(options.rpcUrl);
  const wallet = createWalletClient({ account, chain, transport, pollingInterval: 10 });
  const pub = createPublicClient({ chain, transport, pollingInterval: 10 });
  const hashes: Hex[] = [];
  if (options.tokens > 0n) {
    hashes.push(
      await wallet.writeContract({
        address: options.tokenAddress,
        abi: TEST_TOKEN_ABI,
        functionName: "mint",
        args: [options.to, options.tokens],
      }),
    );
  }
  if ((options.wei ?? 0n) > 0n) {
    hashes.push(await wallet.sendTransaction({ to: options.to, value: options.wei }));
  }
  for (const hash of hashes) {
    const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 10 });
    if (r.status !== "success") throw new AnvilError(`funding tx ${hash} reverted`);
  }
}

/**
 * Moves anvil's clock forward and mines a block (to pass a settle timeout in tests and demo).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { increaseTime } from "./anvil.ts";
 *
 * // A JSON-RPC stand-in for anvil on a free port (tests/interop runs the real one).
 * const methods: string[] = [];
 * await using rpc = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   const { id, method } = await req.json();
 *   methods.push(method);
 *   const result = method === "eth_blockNumber" ? "0x10" : null;
 *   return Response.json({ jsonrpc: "2.0", id, result });
 * });
 * const rpcUrl = `http://127.0.0.1:${rpc.addr.port}`;
 * await increaseTime(rpcUrl, 3600);
 * assert.deepEqual(methods, ["evm_increaseTime", "evm_mine"]);
 * ```
 */
export async function increaseTime(rpcUrl: string, seconds: number): Promise<void> {
  await anvilRpc(rpcUrl, "evm_increaseTime", [seconds]);
  await anvilRpc(rpcUrl, "evm_mine", []);
}

/**
 * One JSON-RPC call to anvil (its own methods too: `evm_mine`, `txpool_status`...); its error
 * answer is thrown as an {@linkcode AnvilError} naming the method.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anvilRpc } from "./anvil.ts";
 *
 * // A JSON-RPC stand-in for anvil on a free port (tests/interop runs the real one).
 * const methods: string[] = [];
 * await using rpc = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   const { id, method } = await req.json();
 *   methods.push(method);
 *   const result = method === "eth_blockNumber" ? "0x10" : null;
 *   return Response.json({ jsonrpc: "2.0", id, result });
 * });
 * const rpcUrl = `http://127.0.0.1:${rpc.addr.port}`;
 * assert.equal(await anvilRpc(rpcUrl, "eth_blockNumber"), "0x10");
 * ```
 */
export async function anvilRpc(
  rpcUrl: string,
  method: string,
  params: unknown[] = [],
): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json() as { result?: unknown; error?: { message: string } };
  if (body.error) throw new AnvilError(`${method}: ${body.error.message}`);
  return body.result;
}

/**
 * Whether the anvil binary is installed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anvilInstalled } from "./anvil.ts";
 *
 * assert.equal(await anvilInstalled("/nonexistent/anvil"), false); // then: run without settlement
 * ```
 */
export async function anvilInstalled(binary: string = anvilBinaryPath()): Promise<boolean> {
  try {
    return (await Deno.stat(binary)).isFile;
  } catch {
    return false;
  }
}
