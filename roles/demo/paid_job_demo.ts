/**
 * `turnpike demo`, the embedded default: a whole Crosstown exchange on this machine. It starts a
 * local town and a provider (serving the shipped `skills/`) on free loopback ports, with a fresh
 * temporary state dir and throwaway identities; a requester posts a paid `ci-run` job on the
 * sample project `fixtures/projects/passing` (a tar.gz built on the fly, sent as a paid blob),
 * pays the town per byte and the provider's invoice, prints the progress and the CI report, then
 * stops everything it started and removes the state dir.
 *
 * Unless `chain: false`, the demo also settles (`demo_chain.ts`): a local anvil, a channel
 * requester -> town, claims on every packet the requester sends the town, and after the job a
 * close and settle whose on-chain payouts must equal both sides' books. Without the anvil
 * binary it says so and runs without settlement.
 *
 * @module
 */
import { openWorkerNodeSigner } from "../../identity/worker_node_signer.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { startTownNode, type TownNode, type TownNodeOptions } from "../town/town_node.ts";
import { type ProviderNode, startProviderNode } from "../provider/provider_node.ts";
import { type JobProgress, type Requester, startRequester } from "../requester/requester_node.ts";
import { archiveProject } from "../requester/project_archive.ts";
import { readStoredResult } from "../requester/result_content.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { type CategoryTotals, summarizePayments } from "../../state/payments/payment_summary.ts";
import { formatAssetAmount } from "../../protocol/asset_amount.ts";
import { dockerSampleContext } from "./docker_sample_context.ts";
import type { JobBlobInput } from "../../protocol/job_blobs.ts";
import type { RequesterJobRecord } from "../../state/jobs/job_record.ts";
import type { DemoSettlement } from "./demo_chain.ts";
import { anvilInstalled } from "../../chain/anvil.ts";
import type { BtpClient } from "../../transport/btp_client.ts";
import type { TownChannelGates } from "../town/channels/town_channel_gates.ts";
import {
  connectCosignPeer,
  openDemoPayouts,
  payProvider,
  prepareSettlement,
  PROVIDER_ACCOUNT,
  REQUESTER_ACCOUNT,
  settle,
  type SettlementSide,
  shortId,
  TOWN_ADDRESS,
} from "./demo_settlement.ts";
import { errorLine, PaidJobDemoError } from "./paid_job_demo_error.ts";
import { StepGuard } from "./step_guard.ts";

export { DemoInterruptedError, PaidJobDemoError } from "./paid_job_demo_error.ts";

/** Options for {@linkcode runPaidJobDemo}. */
export interface PaidJobDemoOptions {
  /** Progress lines. */
  onLine?: (line: string) => void;
  /** The job: `ci-run` (default) or `docker-build` (needs a Docker engine). */
  skill?: "ci-run" | "docker-build";
  /** Project to test. Default `fixtures/projects/passing` (docker-build: the docker sample). */
  projectDir?: string;
  /**
   * Command the job runs. Default `sh test.sh`; docker-build: the image's own CMD for a
   * `projectDir`, `sh /app/test.sh` for the sample.
   */
  command?: string;
  /** The Docker engine for docker-build (`DOCKER_HOST` form); default the environment's. */
  dockerHost?: string;
  /** Give up after (ms). Default 120 s. */
  timeoutMs?: number;
  /** Run the job this many times, one after the other (default 1); the report sums them. */
  jobs?: number;
  /** Keep the temporary state dir (its path is in the report). */
  keepStateDir?: boolean;
  /** Settle over a payment channel on a local anvil. Default true. */
  chain?: boolean;
  /** Ask the town to co-sign the final balances (else close unilaterally). Default true. */
  cooperative?: boolean;
  /** anvil binary; default the one in tools/node_modules (see `demo_chain.ts`). */
  anvilBinary?: string;
  /** Aborting stops everything started so far and rejects with {@linkcode DemoInterruptedError}. */
  signal?: AbortSignal;
  /**
   * Opens each role's signer. Default: a worker with no permissions holding a throwaway key, as
   * the CLI runs them (tests give one whose worker also reports what it may do).
   */
  openSigner?: (role: "town" | "provider" | "requester") => Promise<NodeSigner>;
}

/** Decimal places of the demo town's asset, M2M (with or without a channel: one asset per town). */
const DEMO_ASSET_SCALE = 6;

/** What the demo did. */
export interface PaidJobDemoReport {
  jobId: string;
  status: string;
  /** The CI report (the result's content, JSON when the skill succeeded). */
  result?: unknown;
  /** Base units paid to the provider, as a decimal string. */
  paidToProvider: string;
  /** The asset of that payment (the demo town's asset). */
  paidAsset: { assetCode: string; assetScale: number };
  receipt?: string;
  seconds: number;
  stateDir: string;
  /** The payment channel and its settlement; absent without a chain. */
  settlement?: DemoSettlement;
  /** Why the demo ran without settlement (`--no-chain`, anvil missing). */
  noSettlement?: string;
  /** The build context as sent: a blob, and what storing it cost (base units). */
  context?: { sha256: string; size: number; paid: string };
  /** The jobs' money on every side (all `jobs` of the run). */
  costs?: DemoCosts;
  /** How many jobs ran (`jobs` option) and how they ended. */
  jobs?: { count: number; done: number; ids: string[] };
}

/**
 * The money of the demo's job, base units (decimal strings), from both sides' payment logs:
 * the requester's town fees (the job's writes and its context blob) and what it paid the
 * provider; the provider's earnings and its town fees for this job (its periodic heartbeat and
 * announcements are not the job's: `periodicPerDay` shows them).
 */
export interface DemoCosts {
  requester: { town_fees: string; provider: string; total: string };
  provider: { earned: string; town_fees: string; net: string; periodicPerDay: string };
  /** What the town was paid (its own log), in all and by whom: every write of the demo. */
  town: { earned: string; from_requester: string; from_provider: string };
}

/** The line printed when the anvil binary is missing. */
export const ANVIL_MISSING_LINE =
  "anvil not found (npm install --prefix tools); running without settlement";

const REPO = new URL("../../", import.meta.url);

/**
 * Runs the demo.
 *
 * It starts a town, a provider and a requester (and anvil when installed) for about 15 s: no
 * example that runs here: tests/e2e/demo_test.ts.
 * @throws {PaidJobDemoError}
 */
export async function runPaidJobDemo(options: PaidJobDemoOptions = {}): Promise<PaidJobDemoReport> {
  const say = options.onLine ?? (() => {});
  const started = performance.now();
  const root = await Deno.makeTempDir({ prefix: "turnpike-demo-" });
  const stops: (() => Promise<void>)[] = [];
  const signers: NodeSigner[] = [];
  const guard = new StepGuard(options.signal);
  const stopAll = async () => {
    for (let stop = stops.pop(); stop; stop = stops.pop()) await stop().catch(() => {});
  };
  let pending: Promise<SettlementSide> | undefined;
  let peer: BtpClient | undefined;
  try {
    const docker = options.skill === "docker-build";
    const project = docker
      ? await dockerSampleContext(`${root}/sample`, options.projectDir).catch((err) => {
        throw new PaidJobDemoError(errorLine(err));
      })
      : options.projectDir ?? new URL("fixtures/projects/passing", REPO).pathname;
    const archive = guard.step(archiveContext(project, `${root}/context.tar.gz`));
    archive.catch(() => {}); // awaited below; a rejection must not go unhandled meanwhile
    // Each role's key in its own signer worker with no permissions, as `turnpike` runs them.
    const open = options.openSigner ?? (() => openWorkerNodeSigner({ generate: true }));
    // One after the other: each is in `signers` (closed in `finally`) as soon as it is open.
    for (const role of ["town", "requester", "provider"] as const) signers.push(await open(role));
    const [townSigner, requesterSigner, providerSigner] = signers;
    const onChain = options.chain !== false && await anvilInstalled(options.anvilBinary);
    if (options.chain !== false && !onChain) say(ANVIL_MISSING_LINE);
    // The chain is prepared while the town and the provider start: only the requester waits.
    pending = onChain
      ? prepareSettlement(root, townSigner, requesterSigner, providerSigner, options)
      : Promise.resolve({
        noSettlement: options.chain === false ? "--no-chain" : "anvil not found",
      });
    pending.catch(() => {}); // awaited below and in `finally`
    const live: { gates?: TownChannelGates } = {};
    const town = await guard.step(
      startDemoTown(root, townSigner, {
        claimGate: (account) => live.gates?.claimGate(account),
        cosignDesk: (account) => live.gates?.cosignDesk(account),
      }),
      (t) => t.stop(),
    );
    stops.push(() => town.stop());
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const btp = `127.0.0.1:${town.btpPort}`;
    say(`town      ${relayUrl} (NIP-01), btp+ws://${btp} (BTP), ILP ${town.ilpAddress}`);
    // The provider keeps the town's payout claims on the chain's `[chains]` table: it starts
    // once the chain is up (the requester's channel opens meanwhile, in ~0.1 s).
    const side = await guard.step(pending);
    live.gates = side.gates;
    const provider = await guard.step(
      startProviderNode({
        stateDir: `${root}/provider`,
        signer: providerSigner,
        btpUrl: `btp+ws://${PROVIDER_ACCOUNT}:demo@${btp}`,
        btpToken: "demo",
        relayUrl,
        townPubkey: town.pubkey,
        townAddress: town.ilpAddress,
        skillsDir: new URL("skills", REPO).pathname,
        heartbeatMs: 3_600_000,
        dockerHost: options.dockerHost,
        chains: side.chain?.chainsTable,
      }).catch((err) => {
        throw new PaidJobDemoError(`the provider did not start: ${(err as Error).message}`);
      }),
      (p) => p.stop(),
    );
    stops.push(() => provider.stop());
    // The payout channel town -> provider opens while the job runs.
    const payouts = side.chain &&
      openDemoPayouts(`${root}/town`, town, side.chain, townSigner, providerSigner);
    if (payouts) stops.push(() => payouts.payouts.close());
    if (docker && !("platform" in provider.docker)) {
      throw new PaidJobDemoError(
        `no Docker engine for the docker-build demo: ${provider.docker.unavailable}`,
        { suggestion: 'start one (docs/OPERATIONS.md "Docker engine") or set DOCKER_HOST' },
      );
    }
    say(
      `provider  ${provider.ilpAddress} serving ci-run (5600), echo (5601)` +
        ("platform" in provider.docker
          ? ` and docker-build (5602, ${provider.docker.platform} on docker ${provider.docker.version})`
          : ""),
    );
    const channelId = side.chain?.channelId;
    const requester = await guard.step(
      startRequester({
        stateDir: `${root}/requester`,
        signer: requesterSigner,
        relayUrl,
        btpUrl: `btp+ws://${REQUESTER_ACCOUNT}:demo@${btp}`,
        btpToken: "demo",
        townPubkey: town.pubkey,
        townAddress: town.ilpAddress,
        onProgress: (p) => say(progressLine(p)),
        channel: channelId,
      }),
      (r) => r.close(),
    );
    stops.push(() => requester.close());
    say(
      `requester ${requester.town.btp.ilpAddress}, paying ${requester.town.pricePerByte}/byte to the town` +
        (channelId ? ` with claims on channel ${shortId(channelId)}` : ""),
    );
    const context = await guard.step(publishContext(requester, await archive, say));
    const finals: RequesterJobRecord[] = [];
    for (let i = 0; i < (options.jobs ?? 1); i++) {
      finals.push(await guard.step(runJob(requester, provider, context, options, i)));
    }
    const final = finals.at(-1)!;
    const ids = finals.map((f) => f.id);
    // The provider's records of a job are written before its result went out: all there.
    const report = {
      ...await reportOf(final, requester.stateDir, root, started),
      context: { sha256: context.sha256, size: context.size, paid: String(context.paid) },
      costs: await jobCosts(ids, context.sha256, requester.stateDir, provider, root),
      jobs: { count: ids.length, done: finals.filter((f) => f.status === "done").length, ids },
    };
    if (!side.chain) {
      return { ...report, noSettlement: side.noSettlement, seconds: seconds(started) };
    }
    // The town pays the provider what it owes now (the threshold is for a town that runs on):
    // a claim on a payout channel, kept by the provider before the town hears so.
    const payout = await guard.step(payProvider(payouts!, town, say));
    // The requester stops first: its channel file then holds its final books. It asks the town
    // to co-sign the final balances over a BTP connection of its account.
    await stops.pop()?.().catch(() => {});
    peer = options.cooperative === false
      ? undefined
      : await connectCosignPeer(`btp+ws://${REQUESTER_ACCOUNT}:demo@${btp}`);
    const stopNodes = async () => {
      await peer?.close().catch(() => {});
      await stopAll();
      await side.gates?.close();
    };
    const settlement = await guard.step(settle(side.chain, say, {
      peer,
      stopNodes,
      payout: {
        providerStateDir: `${root}/provider`,
        channelId: payout.channelId,
        owed: payout.owed,
        earned: BigInt(report.costs.provider.earned),
        townFees: BigInt(report.costs.town.from_requester),
      },
    }));
    return { ...report, settlement, seconds: seconds(started) };
  } finally {
    await guard.settled();
    await peer?.close().catch(() => {});
    await stopAll();
    const side = await pending?.catch(() => undefined);
    await side?.gates?.close().catch(() => {});
    await side?.chain?.stop();
    for (const signer of signers) signer.close();
    if (!options.keepStateDir) await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** The BTP account (username) the requester connects as: the town gates its packets. */
function seconds(started: number): number {
  return (performance.now() - started) / 1000;
}

/** The build context goes as a paid blob, as `job submit --dir` sends it. */
async function publishContext(
  requester: Requester,
  archivePath: string,
  say: (line: string) => void,
): Promise<JobBlobInput & { size: number; paid: bigint }> {
  const blob = await requester.publishBlob(archivePath).catch((err) => {
    throw new PaidJobDemoError(`the build context could not be uploaded: ${errorLine(err)}`);
  });
  const paid = formatAssetAmount(blob.paid, {
    assetCode: requester.town.assetCode,
    assetScale: DEMO_ASSET_SCALE,
  });
  say(
    `context   ${blob.size} bytes (tar.gz) as blob ${blob.sha256.slice(0, 12)}, ` +
      (blob.paid === 0n ? "stored already (free)" : `paid ${paid} to the town`),
  );
  return blob;
}

async function jobCosts(
  jobIds: string[],
  contextSha256: string,
  requesterDir: string,
  provider: ProviderNode,
  root: string,
): Promise<DemoCosts> {
  const books = async (dir: string, ids: string[]) => {
    const entries = (await openPaymentLog({ stateDir: dir })).entries();
    const mine = entries.filter((e) => ids.includes(e.jobId));
    return summarizePayments(mine)[0];
  };
  const req = await books(requesterDir, [...jobIds, `blob:${contextSha256}`]);
  const prov = await books(`${root}/provider`, jobIds);
  const town = (await openPaymentLog({ stateDir: `${root}/town` })).entries()
    .filter((e) => e.direction === "in" && e.event === "fulfilled");
  const from = (account: string) =>
    town.filter((e) => e.peer === account).reduce((s, e) => s + BigInt(e.amount), 0n);
  const fees = (t: CategoryTotals | undefined) =>
    (t?.byCategory["town-write"] ?? 0n) + (t?.byCategory["town-blob"] ?? 0n);
  const providerFees = fees(prov?.spent);
  const earned = prov?.earned.byCategory.job ?? 0n;
  return {
    requester: {
      town_fees: String(fees(req?.spent)),
      provider: String(req?.spent.byCategory.job ?? 0n),
      total: String(req?.spent.total ?? 0n),
    },
    provider: {
      earned: String(earned),
      town_fees: String(providerFees),
      net: String(earned - providerFees),
      periodicPerDay: String(provider.periodicCostPerDay),
    },
    town: {
      earned: String(town.reduce((s, e) => s + BigInt(e.amount), 0n)),
      from_requester: String(from(REQUESTER_ACCOUNT)),
      from_provider: String(from(PROVIDER_ACCOUNT)),
    },
  };
}

async function runJob(
  requester: Requester,
  provider: ProviderNode,
  context: JobBlobInput,
  options: PaidJobDemoOptions,
  run = 0,
): Promise<RequesterJobRecord> {
  const docker = options.skill === "docker-build";
  const job = await requester.submit({
    kind: docker ? 5602 : 5600,
    inputs: [],
    blobs: [{ url: context.url, sha256: context.sha256 }],
    params: [
      demoTestParam(options),
      ...(run > 0 ? [{ name: "run", values: [String(run)] }] : []),
    ],
    bid: docker ? 500_000n : 100_000n,
    providers: [provider.pubkey],
    skill: "none",
    timeoutMs: options.timeoutMs ?? 120_000,
    encrypt: false,
    then: [],
  });
  return await requester.waitFor(job.id);
}

async function reportOf(
  final: RequesterJobRecord,
  requesterDir: string,
  root: string,
  started: number,
): Promise<PaidJobDemoReport> {
  const content = (await readStoredResult(requesterDir, final.id))?.content;
  let result: unknown;
  try {
    result = content === undefined ? undefined : JSON.parse(content);
  } catch {
    result = content;
  }
  const paid = final.payments.filter((p) => p.status === "paid");
  return {
    jobId: final.id,
    status: final.status,
    result,
    paidToProvider: String(paid.reduce((s, p) => s + p.amount, 0n)),
    paidAsset: { assetCode: paid[0]?.asset ?? final.asset ?? "", assetScale: DEMO_ASSET_SCALE },
    receipt: paid[0]?.fulfillment,
    seconds: seconds(started),
    stateDir: root,
  };
}

/**
 * The job's test: `--cmd` when given; else ci-run's `sh test.sh`, and for docker-build the image's
 * own CMD on a user's project (what running the image means to its author), the sample's
 * `sh /app/test.sh` on the sample.
 */
function demoTestParam(options: PaidJobDemoOptions): { name: string; values: string[] } {
  if (options.skill !== "docker-build") {
    return { name: "cmd", values: [options.command ?? "sh test.sh"] };
  }
  if (options.command !== undefined) return { name: "test", values: [options.command] };
  return options.projectDir === undefined
    ? { name: "test", values: ["sh /app/test.sh"] }
    : { name: "test-image-cmd", values: ["true"] };
}

function progressLine(p: JobProgress): string {
  return `  job ${p.jobId.slice(0, 12)}  ${p.status}${p.detail ? `  ${p.detail}` : ""}`;
}

function startDemoTown(
  root: string,
  signer: NodeSigner,
  channels: Pick<TownNodeOptions, "claimGate" | "cosignDesk">,
): Promise<TownNode> {
  return startTownNode({
    config: {
      host: "127.0.0.1",
      httpPort: 0,
      btpPort: 0,
      stateDir: `${root}/town`,
      network: "local",
      ilpAddress: TOWN_ADDRESS,
      peers: [],
      // Loopback only, throwaway: every local peer is welcome, named by its BTP username.
      acceptAnyToken: true,
      pricing: { pricePerByte: 10n },
      maxEventBytes: 1024 * 1024,
      // The token channels settle in, with or without a channel: one asset per town.
      assetCode: "M2M",
      assetScale: DEMO_ASSET_SCALE,
    },
    signer,
    // Looked up per packet: the gate opens once the channel exists, before the requester starts.
    ...channels,
  }).catch((err) => {
    throw new PaidJobDemoError(`the town did not start: ${(err as Error).message}`);
  });
}

async function archiveContext(dir: string, to: string): Promise<string> {
  try {
    await archiveProject(dir, to);
  } catch (err) {
    throw new PaidJobDemoError(`cannot pack the project ${dir}: ${errorLine(err)}`);
  }
  return to;
}
