/**
 * Test helper: one town process of a town on several processes (docs/OPERATIONS.md, "A town on
 * several machines"): the town's key and a shared PostgreSQL store, any BTP token accepted
 * (the account is the auth username), given ports (shared with the other processes when equal,
 * SO_REUSEPORT) or free ones. SIGKILL it to crash it; `stop` ends it cleanly.
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { channelLearnBudget, type TownLimits } from "../config/town_limits.ts";
import type { PayAllResult, TownProcessPayoutPlan } from "./town_process_payouts.ts";

/** Options for {@linkcode startSharedTownProcess}. */
export interface SharedTownProcessOptions {
  /** The shared store; absent: SQLite in the process's own temp dir (for comparisons). */
  storeUrl?: string;
  secretKey: Uint8Array;
  /** 0 (default): a free port. */
  httpPort?: number;
  btpPort?: number;
  /** Signature-verifying workers (0: inline); default the town's. */
  verifierWorkers?: number;
  /** The blob directory the processes share (`[store] blobs_dir`); absent: no blobs. */
  blobsDir?: string;
  /**
   * Blobs in the process's own directory, the index in the shared store, bytes fetched by hash
   * from the process holding them (as on separate hosts); without `blobsDir`.
   */
  ownBlobs?: boolean;
  /** Blob price per MiB with `blobsDir` or `ownBlobs`. Default 200. */
  blobPricePerMiB?: number;
  /** The SQLite store's path without `storeUrl` (default: in the process's temp dir, gone with
   * it); give one to start the same town again after a kill. */
  databasePath?: string;
  /**
   * The town's state dir (kept after the process ends; its books: `payment_log.jsonl` for its
   * income, `peer_ledger.jsonl` for what it owes its children); default a temp one, removed
   * with it. Give one to read the books, or to keep them across a kill and a restart.
   */
  stateDir?: string;
  /** A parent connector (BTP URL and token): the town learns its ILP address from it. */
  parent?: { url: string; token: string };
  /** Overrides of the town's limits (config/town_limits.ts), e.g. the connection caps. */
  limits?: Partial<TownLimits>;
  /**
   * Payment channels, as `town up` with `[channels] chains` runs them: the chain announced in
   * the town's kind 10032 (payers open channels to it by themselves) and every channel learned
   * from its first claim (roles/town/channels/town_channel_gates.ts), its books in the shared
   * store with `storeUrl`. Give `stateDir` too: the channel files live there.
   */
  channels?: { chainsTable: Record<string, Record<string, string>> };
  /**
   * With `channels`: the town pays the named peers as `town up` does with `[town.payouts]`
   * (harness/town_process_payouts.ts), on the first chain of the table; the payout
   * channel files and the books per peer (`peer_ledger.jsonl`) in `stateDir`; with `storeUrl`
   * the payout books and channels in the shared store (roles/town/channels/shared_payouts.ts).
   */
  payouts?: TownProcessPayoutPlan;
  /**
   * Credit for channel-less peers: `floor` is `peer_credit_limit`, `ceiling` and `graceMs` the
   * learned line's (config/town_credit_line.ts); absent: the town's default (no limit).
   */
  credit?: { floor: bigint; ceiling: bigint; graceMs: number };
  /** A directory for a V8 CPU profile of the process (`--cpu-prof`, written when it stops). */
  cpuProfDir?: string;
}

/** A running town process. */
export interface SharedTownProcess extends AsyncDisposable {
  pid: number;
  httpPort: number;
  btpPort: number;
  /** The town's ILP address (its parent's IL-DCP answer, with one). */
  ilpAddress: string;
  /** Its private blob fetch URL (a shared store without a shared blob directory). */
  blobPeerUrl?: string;
  /** Its private listener (a shared store): where the others forward packets to its peers. */
  privateUrl?: string;
  /** What the process wrote on stderr so far. */
  stderr(): string;
  /**
   * With `payouts`: the town pays every named peer what it owes now; resolves with what it did
   * (rejects when the process does not answer within 120 s).
   */
  payAll(): Promise<PayAllResult>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** SIGTERM: the town stops in order. */
  stop(): Promise<void>;
}

/**
 * Starts one town process and waits until it listens.
 *
 * It starts a town as a process on a shared store, so it has no example here:
 * tests/e2e/town_network_test.ts and tests/e2e/town_peer_info_address_test.ts run on it.
 */
export async function startSharedTownProcess(
  options: SharedTownProcessOptions,
): Promise<SharedTownProcess> {
  const dir = await Deno.makeTempDir({ prefix: "shared_town_" });
  const runner = `${dir}/runner.ts`;
  await Deno.writeTextFile(
    runner,
    `import { startWithSmallYoungGeneration } from "${new URL(
      "../transport/small_young_generation.ts",
      import.meta.url,
    )}";
// As \`town up\` starts: V8's young generation sized for a town (the process replaces itself).
startWithSmallYoungGeneration();
const { startTestTown } = await import("${new URL("./town_test_node.ts", import.meta.url)}");
${
      options.payouts === undefined
        ? ""
        : `import { payoutPolicyOf, startTownProcessPayouts } from "${new URL(
          "./town_process_payouts.ts",
          import.meta.url,
        )}";`
    }
const hex = ${JSON.stringify(bytesToHex(options.secretKey))};
const secretKey = Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
// The town's address for the channel gates' REJECTs (its parent's IL-DCP answer, with one).
let ilpAddress = "test.town";
${options.channels === undefined ? "const gates = undefined;" : channelGatesCode(options)}
// The payouts need the running town (its books and peers); its hooks reach them.
const hooks = {};
const town = await startTestTown({
  secretKey,
  claimGate: gates?.claimGate,
  cosignDesk: gates?.cosignDesk,
  onOwed: (balance) => hooks.payouts?.payouts.owed(balance),
  onPeerConnected: (account) => hooks.payouts?.payouts.connected(account),
  ${options.payouts === undefined ? "" : `payouts: ${payoutPolicyCode(options.payouts)},`}
  ${options.channels === undefined ? "" : `settlement: ${settlementJson(options.channels)},`}
  ${
      options.storeUrl === undefined
        ? `databasePath: ${JSON.stringify(options.databasePath ?? `${dir}/events.sqlite`)},`
        : `storeUrl: ${JSON.stringify(options.storeUrl)},`
    }
  httpPort: ${options.httpPort ?? 0},
  ${options.stateDir === undefined ? "" : `stateDir: ${JSON.stringify(options.stateDir)},`}
  btpPort: ${options.btpPort ?? 0},
  acceptAnyToken: true,
  limits: ${JSON.stringify(options.limits ?? {})},
  verifierWorkers: ${options.verifierWorkers ?? "undefined"},
  ${options.blobsDir === undefined ? "" : `storeBlobsDir: ${JSON.stringify(options.blobsDir)},`}
  ${
      options.blobsDir === undefined && !options.ownBlobs
        ? ""
        : `blobs: { pricePerMiB: ${options.blobPricePerMiB ?? 200}n },`
    }
  parent: ${options.parent === undefined ? "undefined" : JSON.stringify(options.parent)},
  ${
      options.credit === undefined
        ? ""
        : `peerCreditLimit: ${options.credit.floor}n, peerCreditLine: { ceiling: ${options.credit.ceiling}n, graceMs: ${options.credit.graceMs} },`
    }
});
ilpAddress = town.ilpAddress;
${options.payouts === undefined ? "" : payoutsCode(options)}
console.log(JSON.stringify({
  httpPort: town.httpPort,
  btpPort: town.btpPort,
  ilpAddress: town.ilpAddress,
  blobPeerUrl: town.blobPeerUrl,
  privateUrl: town.privateUrl,
}));
Deno.addSignalListener("SIGTERM", () =>
  town.stop().then(() => hooks.payouts?.payouts.close()).then(() => gates?.close())
    .then(() => Deno.exit(0)));
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      runner,
    ],
    stdin: options.payouts === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  void (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      errText = (errText + chunk).slice(-20_000);
    }
  })().catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`the town process ended before listening: ${errText.slice(-2000)}`);
    }
    text += value;
  }
  // Later lines answer the commands sent on stdin (payAll), in order.
  const answers: ((line: string | undefined) => void)[] = [];
  let rest = text.slice(text.indexOf("\n") + 1);
  void (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      rest += value;
      for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
        answers.shift()?.(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
  })().catch(() => {}).finally(() => {
    for (const answer of answers.splice(0)) answer(undefined);
  });
  const stdin = options.payouts === undefined ? undefined : child.stdin.getWriter();
  const ask = async (command: string): Promise<string> => {
    if (stdin === undefined) throw new Error("this town process takes no commands");
    const answer = new Promise<string | undefined>((r) => answers.push(r));
    await stdin.write(new TextEncoder().encode(command + "\n"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      answer,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`no answer to ${command} in 120 s`)), 120_000)
      ),
    ]).finally(() => clearTimeout(timer));
    if (line === undefined) throw new Error(`the town process ended before answering ${command}`);
    return line;
  };
  const ports = JSON.parse(text.split("\n")[0]) as {
    httpPort: number;
    btpPort: number;
    ilpAddress: string;
    blobPeerUrl?: string;
    privateUrl?: string;
  };
  let ended: Promise<void> | undefined;
  const end = (signal: Deno.Signal) =>
    ended ??= (async () => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return {
    pid: child.pid,
    ...ports,
    stderr: () => errText,
    payAll: async () => JSON.parse(await ask("pay-all")) as PayAllResult,
    kill: () => end("SIGKILL"),
    stop: () => end("SIGTERM"),
    [Symbol.asyncDispose]: () => end("SIGTERM"),
  };
}

/** The runner's lines opening the channel gates (as `town up` does, cli/town_command.ts). */
function channelGatesCode(options: SharedTownProcessOptions): string {
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const chains = options.channels!.chainsTable;
  return `import { openTownChannelGates } from ${
    module("../roles/town/channels/town_channel_gates.ts")
  };
import { localNodeSigner } from ${module("../identity/local_node_signer.ts")};
import { openPostgresClaimBooks } from ${module("../state/postgres/postgres_claim_books.ts")};
const storeUrl = ${JSON.stringify(options.storeUrl)};
const gates = await openTownChannelGates({
  stateDir: ${JSON.stringify(options.stateDir)},
  sharedBooks: storeUrl === undefined ? undefined : await openPostgresClaimBooks({ url: storeUrl }),
  peerChannels: [],
  chains: ${JSON.stringify(chains)},
  settlementChains: ${JSON.stringify(Object.keys(chains))},
  discoveryLimits: { overall: ${JSON.stringify(channelLearnBudget(options.limits))} },
  signer: localNodeSigner(secretKey),
  triggeredBy: () => ilpAddress,
  onWatchError: (account, err) => console.error("channel of " + account + ": " + err.message),
});
`;
}

/** The `[town.payouts]` policy of the plan, as code of the runner. */
function payoutPolicyCode(plan: TownProcessPayoutPlan): string {
  return `payoutPolicyOf(${JSON.stringify(plan)})`;
}

/** The runner's lines starting the payouts and answering `pay-all` on stdin (one JSON line). */
function payoutsCode(options: SharedTownProcessOptions): string {
  return `hooks.payouts = await startTownProcessPayouts({
  town,
  ${options.storeUrl === undefined ? "" : `storeUrl: ${JSON.stringify(options.storeUrl)},`}
  signer: localNodeSigner(secretKey),
  stateDir: ${JSON.stringify(options.stateDir)},
  chainsTable: ${JSON.stringify(options.channels!.chainsTable)},
  plan: ${JSON.stringify(options.payouts)},
  log: (line) => console.error(line),
});
void (async () => {
  let buffered = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    for (let nl = buffered.indexOf("\\n"); nl >= 0; nl = buffered.indexOf("\\n")) {
      const command = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (command === "pay-all") console.log(JSON.stringify(await hooks.payouts.payAll()));
    }
  }
})();
`;
}

/** The kind 10032 settlement section naming the chains of `[chains]`. */
function settlementJson(channels: NonNullable<SharedTownProcessOptions["channels"]>): string {
  return JSON.stringify({
    chains: Object.entries(channels.chainsTable).map(([chain, t]) => ({
      chain,
      tokenNetwork: t.token_network,
      token: t.token,
    })),
  });
}
