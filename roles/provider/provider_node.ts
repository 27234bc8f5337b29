/**
 * The provider node (Mayor-Beta): BTP to its town (IL-DCP address, incoming payments),
 * announcements (10032 peer info, 31990 NIP-89 handler, a NIP-38 heartbeat), the job
 * subscription, admission, invoices, sandboxed runs, feedback and results, crash recovery.
 *
 * Per job (states in `state/provider_job_record.ts`, each persisted before its effects):
 *
 *     request --admission--> admitted --invoice--> invoiced --exact PREPARE--> paid
 *        (free skills: admitted -> paid)                                         |
 *     (a new job's first write is already `invoiced`/`paid`: the invoice is made in memory first;
 *     `admitted` on disk only comes from older versions and is billed on recovery)
 *     published <--6xxx result + 7000 success-- result-computed <--skill-- running
 *     error / cancelled (7000 error, `notified` once sent)
 *
 * Restart rules (point 6): finished jobs are duplicates and never re-run; `result-computed`
 * is published; `running` is re-run when the skill's manifest says `idempotent`, otherwise
 * reported as `error`; `invoiced` re-opens its invoice until it expires; `paid` runs.
 *
 * @module
 */
import { undoOnFailure } from "../undo_on_failure.ts";
import type { TownChannelSettings } from "../../config/town_channel_settings.ts";
import { RunQueue } from "./run_queue.ts";
import { formatAssetAmount } from "../../protocol/asset_amount.ts";
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import { PaymentDesk } from "./payment_desk.ts";
import { nip44 } from "nostr-tools";
import { type NodeKeyOptions, nodeSignerOf } from "../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { backoffDelay } from "../../protocol/backoff.ts";
import type { IlpPrepare, IlpReply } from "../../protocol/ilp_packet.ts";
import { recoveryStepFor } from "./job_recovery.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { decodeEventToon, encodeEventToon } from "../../protocol/toon_codec.ts";
import {
  buildJobFeedback,
  buildJobResult,
  decryptJobParams,
  type FeedbackStatus,
  isJobRequestKind,
} from "../../protocol/nip90_job.ts";
import { ProviderAnnouncer } from "./announcer.ts";
import type { EventFeed, EventFeedOptions } from "../event_feed.ts";
import { openMultiTownFeed } from "../multi_town_feed.ts";
import type { SummaryChunk } from "../../stages/chunks.ts";
import { type AuditLog, openAuditLog } from "../../state/audit_log.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payment_log.ts";
import { townWriteEntry } from "../../state/town_write_entry.ts";
import { openProviderJobStore, type ProviderJobStore } from "../../state/provider_job_store.ts";
import { isTerminalProviderJob, type ProviderJobRecord } from "../../state/provider_job_record.ts";
import { loadSkillCatalog, type SkillCatalog, type SkillEntry } from "./skill_catalog.ts";
import { missingParams } from "./skill_manifest.ts";
import {
  createSkillSandbox,
  type SandboxMode,
  type SkillJob,
  type SkillOutcome,
  type SkillSandbox,
} from "./skill_sandbox.ts";
import { type AdmissionDropReason, decideAdmission } from "./job_admission.ts";
import { DropNotices } from "./drop_notice.ts";
import { EventDelivery } from "./event_delivery.ts";
import { openDeliveryLog } from "../../state/delivery_log.ts";
import { wrapDirectMessage } from "../../protocol/gift_wrap.ts";
import type { NostrFilter } from "../../protocol/nostr_filter.ts";
import {
  DEFAULT_MAX_UNPAID,
  DEFAULT_MAX_UNPAID_PER_REQUESTER,
  DEFAULT_UNPAID_GRACE_SEC,
  type UnpaidDropReason,
} from "./unpaid_pool.ts";
import { TownClient, type TownUplink } from "../town_client/town_client.ts";
import { type LaterTown, TownClients } from "../town_client/town_clients.ts";
import {
  type ChannelSender,
  ChannelSenderError,
  openChannelSender,
} from "../channels/channel_sender.ts";
import type { ChannelChange } from "../channels/channel_watcher.ts";
import { ensureAutoChannel } from "../channels/channel_auto_open.ts";
import { PayoutReceiver } from "../channels/payout_receiver.ts";
import { townDebtOf, townDebtRefusal } from "./town_debt.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { listChannels } from "../../state/channel_file.ts";
import { resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { type AlertKind, createNodeAlerts, type NodeAlerts } from "../node_alerts.ts";
import { reapSkillCgroups, reapSkillProcesses } from "./orphan_reaper.ts";
import {
  BlobInputError,
  checkBlobInputs,
  DEFAULT_MAX_INPUT_BYTES,
  pruneBlobCache,
} from "./blob_inputs.ts";
import { runJob } from "./job_run.ts";
import { paymentRequiredInfo, priceJob, processingInfo } from "./job_pricing.ts";
import type { JobQuote } from "../../protocol/provider_quote.ts";
import { type DockerEngineInfo, probeDockerEngine } from "./docker_engine.ts";
import {
  checkDockerBuildRequest,
  createDockerBuildRunner,
  DockerBuildRequestError,
} from "./docker_build_runner.ts";
import { publishBlob } from "../blob_publisher.ts";
import { blobOutputTag } from "../../protocol/job_blobs.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../../protocol/blob_pricing.ts";
import { blobServerOf, fetchRelayInfo, townBlobPrice } from "../../transport/relay_info.ts";
import {
  PROVIDER_STATUS_TOUCH_MS,
  type ProviderStatus,
  touchProviderStatus,
  writeProviderStatus,
} from "./provider_status.ts";

/** Longest the status file goes without a whole rewrite while only touched (#flushStatus). */
const STATUS_REWRITE_MS = 60_000;

/** Requests parked per requester waiting for its room (see `ProviderNode` #park). */
const MAX_PARKED_PER_REQUESTER = 64;
/** Requests parked in all. */
const MAX_PARKED = 1024;
/**
 * How long a feedback or result write that failed for a passing reason (the town restarting:
 * no answer, T03 while it stops) is sent again, the same event (docs/OPERATIONS.md "Stopping a
 * town"); past it a result is published again at the next start.
 */
const WRITE_RETRY_MS = 30_000;

/** One more town a provider follows and writes to. */
export interface ProviderTown extends LaterTown {
  /** Its own uplink (BTP URL of the town or of a connector); absent: the home town's. */
  btpUrl?: string;
  btpToken?: string;
}

/** Options for {@linkcode startProviderNode}. */
export interface ProviderNodeOptions extends TownChannelSettings, NodeKeyOptions {
  stateDir: string;
  /** BTP URL of the town (or a connector in front of it). */
  btpUrl: string;
  btpToken: string;
  /** The town's NIP-01 URL (reads are free). */
  relayUrl: string;
  /** The town's Nostr pubkey (SPSP answers are signed with it). */
  townPubkey: string;
  /** The town's ILP address; default: our IL-DCP address minus its last segment. */
  townAddress?: string;
  /** Town price per TOON byte. Default 10. */
  pricePerByte?: bigint;
  /**
   * More towns of the profile (`[towns.<name>]`): followed for requests, announced on, and
   * written to when a request names them (roles/town_client/town_clients.ts); a town with its
   * own `btpUrl` is paid through its own uplink, else (or when that one is down) through the
   * home town's.
   */
  moreTowns?: ProviderTown[];
  skillsDir: string;
  name?: string;
  about?: string;
  /** Paid unfinished jobs at most (default 32) and per requester (default 8). */
  maxInFlight?: number;
  maxInFlightPerRequester?: number;
  /**
   * Jobs waiting for payment, in a pool of their own (`unpaid_pool.ts`): at most `maxUnpaid`
   * (default 8; when full the oldest invoice is withdrawn), `maxUnpaidPerRequester` per
   * requester (default 2), each withdrawn when unpaid after `unpaidGraceMs` (default 60 s).
   */
  maxUnpaid?: number;
  maxUnpaidPerRequester?: number;
  unpaidGraceMs?: number;
  /**
   * How often the status file is refreshed while nothing changed: its liveness touch, the
   * precision of "last seen" after a crash (default {@linkcode PROVIDER_STATUS_TOUCH_MS}, 10 s;
   * at least 1 s). Changes are written within a second whatever this is (docs/OPERATIONS.md).
   */
  statusTouchMs?: number;
  /** Skills running at once (default 2). */
  maxConcurrentRuns?: number;
  /** Oldest request accepted, seconds (default 600). */
  maxAgeSec?: number;
  /** Invoice lifetime (default and at most: the unpaid grace). */
  invoiceExpiryMs?: number;
  /**
   * Heartbeat period (default 1 h; it expires after 3 periods); announcements are refreshed
   * every `refreshMs` (default 24 h) and whenever the skills change. Both are paid writes: rare
   * by default (their cost per day is in the status).
   */
  heartbeatMs?: number;
  refreshMs?: number;
  /** Operator's network consent for skills that ask (see the sandbox). */
  allowNetwork?: boolean | string[];
  /** A sandbox to use instead of the namespace sandbox (benchmarks comparing with direct runs). */
  sandbox?: SkillSandbox;
  /** Extra paths hidden from skills (the state dir is always hidden). */
  hiddenPaths?: string[];
  /** Largest input blobs of one job, bytes (default 256 MiB). */
  maxInputBytes?: number;
  /** The town's blob price per MiB; default its NIP-11 `fees.blob`, else 200. */
  blobPricePerMiB?: bigint;
  /**
   * The Docker engine docker-build skills use (`DOCKER_HOST` form); default the environment's.
   * `false`: serve no docker-build skill. Without an answering engine they are not served.
   */
  dockerHost?: string | false;
  /** Sandbox mode: `root`, `rootless` or `auto` (default: root when running as uid 0). */
  sandboxMode?: SandboxMode | "auto";
  /** One line per event of note (admissions, drops with reasons, payments, errors). */
  log?: (line: string) => void;
  /** BTP endpoint others may reach us at, for 10032 (informational). */
  btpEndpoint?: string;
  /**
   * Publish the `processing` feedback only for runs still going after this many ms (default
   * 100; 0: as each run starts). A quicker job's result is its own progress report, and the
   * feedback, a signed paid write the town verifies and the requester records, would compete
   * with the skill for the CPU on the job's critical path (measured: +20-40 ms p50 per job).
   */
  processingFeedbackMs?: number;
  /** How the feed's stages run: "workers" (default) or "inline" (benchmarks comparing). */
  feedMode?: EventFeedOptions["mode"];
  /**
   * Audit group commit window (ms, default 200; state/audit_log.ts): a longer one batches more
   * changes into each `git commit` (one spawn, ~20 ms of CPU), at the price of a change
   * reaching history later (the files, written first, stay the truth).
   */
  auditWindowMs?: number;
  /**
   * Take only requests addressed to this provider (default false: every request of its kinds).
   * The request subscription then carries `#p: [own pubkey]`, a plain NIP-01 filter the town
   * indexes by `p`: a job for another provider costs neither this provider nor the town
   * anything for it, however many providers share the town (docs/SCALE.md). Open requests (no
   * `p` tag) are then never seen: the choice of a provider on a busy town that is reached by
   * name (its announcement, a requester's `--provider`).
   */
  addressedOnly?: boolean;
  /** Feed stage modules to load instead of the registered ones (plugins, boundary tests). */
  feedStageModules?: EventFeedOptions["stageModules"];
  /**
   * Most the town may owe this provider unclaimed (`[provider] max_town_debt`, base units):
   * past it the node alerts and refuses new jobs until the town pays (roles/provider/town_debt.ts).
   * Default: no limit.
   */
  maxTownDebt?: bigint;
}

/** Counters of a running node. */
export interface ProviderCounters {
  admitted: number;
  paid: number;
  published: number;
  errors: number;
  cancelled: number;
  earned: bigint;
  dropped: Partial<Record<AdmissionDropReason | UnpaidDropReason, number>>;
}

/** A running provider. */
export interface ProviderNode {
  pubkey: string;
  ilpAddress: string;
  counters: ProviderCounters;
  store: ProviderJobStore;
  /** How skills run: the sandbox's mode, why, and how it bounds memory and processes. */
  sandbox: Pick<SkillSandbox, "mode" | "modeReason" | "limits">;
  /** The Docker engine docker-build skills run on, or why there is none. */
  docker: DockerEngineInfo | { unavailable: string };
  /** What the heartbeat and announcements cost per day (base units), at their last price. */
  readonly periodicCostPerDay: bigint;
  /** How the feed's stages run now ("workers": each in its worker); undefined between feeds. */
  readonly feedMode: EventFeed["mode"] | undefined;
  /** The feed's stages and what each may do, in a line; undefined between feeds. */
  readonly feedDescription: string | undefined;
  /** Unfinished jobs. */
  /** Requests parked until their requester has room here (paid an invoice, a job ended). */
  readonly parked: number;
  inFlight(): number;
  /** Resolves when no job is running or queued to run. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** The node could not start (BTP, SPSP, state dir, sandbox). */
export class ProviderStartError extends Error {
  override name = "ProviderStartError";
}

/**
 * Starts a provider.
 *
 * @example
 * ```ts
 * declare const o: Parameters<typeof startProviderNode>[0];
 * const { stateDir, signer, btpUrl, relayUrl, townPubkey } = o;
 * const node = await startProviderNode({ stateDir, signer, btpUrl, btpToken: "beta",
 *   relayUrl, townPubkey, skillsDir: "skills" });
 * await node.stop();
 * ```
 */
export async function startProviderNode(options: ProviderNodeOptions): Promise<ProviderNode> {
  const node = new Provider(options);
  await undoOnFailure(() => node.start(), () => node.stop()).catch((err) => {
    // A channel the operator named but that cannot pay keeps its own message and suggestion.
    throw err instanceof ProviderStartError || err instanceof ChannelSenderError
      ? err
      : new ProviderStartError(`provider did not start: ${(err as Error).message}`, { cause: err });
  });
  return node;
}

const nowIso = () => new Date().toISOString();
/** How far before the job window delivered kinds are read (gift wraps back-date by 2 days). */
const DELIVERY_LOOKBACK_S = 3 * 86_400;

class Provider implements ProviderNode {
  pubkey: string;
  ilpAddress = "";
  get sandbox(): Pick<SkillSandbox, "mode" | "modeReason" | "limits"> {
    return this.#sandbox!;
  }
  get docker(): DockerEngineInfo | { unavailable: string } {
    return this.#docker?.engine ?? { unavailable: this.#dockerUnavailable };
  }
  #docker?: { engine: DockerEngineInfo; runner: { run(job: SkillJob): Promise<SkillOutcome> } };
  #dockerUnavailable = "not probed";
  counters: ProviderCounters = {
    admitted: 0,
    paid: 0,
    published: 0,
    errors: 0,
    cancelled: 0,
    earned: 0n,
    dropped: {},
  };
  store!: ProviderJobStore;
  #o: ProviderNodeOptions;
  readonly #signer: NodeSigner;
  #log: (line: string) => void;
  #audit?: AuditLog;
  #payments?: PaymentLog;
  #btp?: BtpClient;
  #channel?: ChannelSender;
  #alerts?: NodeAlerts;
  #payouts?: PayoutReceiver;
  #raise?: (kind: AlertKind, message: string, details: Record<string, string>) => void;
  /** Every town's client (`home` is the home town's). */
  #towns?: TownClients;
  /** The more towns' own uplinks, by relay URL. */
  #uplinks = new Map<string, BtpClient>();
  /** The town each recent request was first found on (its writes' fallback). */
  #foundOn = new Map<string, string>();
  #announcer?: ProviderAnnouncer;
  #desk?: PaymentDesk;
  #blobPricePerMiB = DEFAULT_BLOB_PRICE_PER_MIB;
  #catalog?: SkillCatalog;
  #sandbox?: SkillSandbox;
  #feed?: EventFeed;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #intervals: ReturnType<typeof setInterval>[] = [];
  #dropped = new Map<string, true>();
  #townDebtAlerted = false;
  /** Requests waiting for their requester's room here, per requester (see #park). */
  #parked = new Map<string, { event: NostrEvent; toon: string }[]>();
  #parkedIds = new Set<string>();
  #notices!: DropNotices;
  #delivery?: EventDelivery;
  #deliveryAbort = new AbortController();
  #cancelledEarly = new Map<string, string>();
  #runs: RunQueue;
  #stopped = false;
  #status: ProviderStatus;
  #statusDirty = false;
  /** Something besides the clock changed since the last write (see #flushStatus). */
  #statusChanged = true;
  /** When the status file was last written whole (ms). */
  #statusWrittenAt = 0;
  /** When the status file was last written or touched (ms). */
  #statusSeenAt = 0;
  #pending = new Set<Promise<unknown>>();
  #warmed = new Set<string>();

  constructor(options: ProviderNodeOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#signer = nodeSignerOf(options);
    this.pubkey = this.#signer.pubkey;
    this.#notices = new DropNotices({ pubkey: this.pubkey });
    this.#runs = new RunQueue({
      maxConcurrent: options.maxConcurrentRuns ?? 2,
      run: (id, signal) => this.#runPaid(id, signal),
      settled: (id, error) => {
        if (error !== undefined) this.#log(`job ${id} failed: ${(error as Error).message}`);
        this.#markStatus();
      },
    });
    this.#status = {
      pid: Deno.pid,
      state: "starting",
      startedAt: nowIso(),
      updatedAt: nowIso(),
      pubkey: this.pubkey,
      ilpAddress: "",
      relayUrl: options.relayUrl,
      btpUrl: options.btpUrl,
      skills: [],
      inFlight: 0,
      running: 0,
      openInvoices: 0,
      counters: {
        admitted: 0,
        paid: 0,
        published: 0,
        errors: 0,
        cancelled: 0,
        earned: "0",
        spentOnWrites: "0",
        dropped: {},
      },
    };
  }

  async start(): Promise<void> {
    const o = this.#o;
    await Deno.mkdir(o.stateDir, { recursive: true, mode: 0o700 });
    this.#audit = await openAuditLog({ dir: o.stateDir, windowMs: o.auditWindowMs });
    const alerts = createNodeAlerts({ webhook: o.alertWebhook, log: (l) => this.#log(l) });
    this.#alerts = alerts;
    const raise = (kind: AlertKind, message: string, details: Record<string, string>) => {
      alerts.raise(kind, message, details);
      this.#status.alerts = alerts.snapshot();
      this.#markStatus();
    };
    this.#raise = raise;
    const channelId = o.channel ?? await this.#autoChannel();
    const sender = channelId === undefined ? undefined : await openChannelSender({
      stateDir: o.stateDir,
      channelId,
      topUp: o.channel === undefined ? o.channelPolicy : undefined,
      alert: raise,
      signer: this.#signer,
      townPubkey: o.townPubkey,
      audit: this.#audit,
      chains: o.chains,
      watchIntervalMs: o.channelWatchIntervalMs,
      prepay: o.channelPrepay,
      onChannelChange: (c) => this.#onChannelChange(c),
      onWatchError: (err) => this.#log(`channel: cannot read the chain: ${err.message}`),
    });
    this.#channel = sender;
    this.#payments = await openPaymentLog({ stateDir: o.stateDir, audit: this.#audit });
    this.store = await openProviderJobStore({ stateDir: o.stateDir, audit: this.#audit });
    for (const c of this.store.corrupt) this.#log(`corrupt job record ${c.path}: ${c.reason}`);
    this.#catalog = await loadSkillCatalog({
      dir: o.skillsDir,
      onChange: () => this.#track(this.#onCatalogChange()),
    });
    this.#sandbox = o.sandbox ?? await createSkillSandbox({
      jobsRoot: `${o.stateDir}/work`,
      hiddenPaths: [o.stateDir, ...(o.hiddenPaths ?? [])],
      mode: o.sandboxMode,
      allowNetwork: o.allowNetwork,
      denoCacheDir: `${o.stateDir}/skill-deno-cache`,
    });
    const payouts = this.#payoutReceiver();
    this.#payouts = payouts;
    this.#btp = new BtpClient({
      url: o.btpUrl,
      authToken: o.btpToken,
      claims: sender?.claims,
      onPrepare: (prepare) => this.#onPrepare(prepare),
      // The town lost our answers in a crash: the fulfillments we hold prove those payments.
      onInDoubt: (conditions) => Promise.resolve(this.#fulfillmentsOf(conditions)),
      // The town's payouts (roles/channels/payout_receiver.ts): kept before the town hears so.
      onClaim: async (claim) => {
        if (!payouts) {
          throw new Error(
            "this provider keeps no payout claims: no [chains] table to check them on",
          );
        }
        const kept = await payouts.take(claim);
        this.#log(`payout from the town: ${kept.received} claimed on ${kept.channelId}`);
      },
    });
    await this.#btp.connect();
    await payouts?.watchKept();
    const ildcp = await this.#btp.fetchIldcp();
    this.ilpAddress = ildcp.clientAddress;
    this.#desk = this.#openPaymentDesk(ildcp.assetCode, ildcp.assetScale);
    await this.#probeDocker();
    this.#blobPricePerMiB = o.blobPricePerMiB ??
      await fetchRelayInfo(o.relayUrl).then(townBlobPrice, () => undefined) ??
      DEFAULT_BLOB_PRICE_PER_MIB;
    await pruneBlobCache(this.#blobCacheDir, 24 * 3600_000);
    const homeAddress = o.townAddress ?? this.ilpAddress.split(".").slice(0, -1).join(".");
    // One payment-log line per paid write, whichever town it paid (home or another).
    const recordWrite = (
      w: { event: NostrEvent; amount: bigint; blob?: boolean; jobId?: string },
      townAddress: string,
    ) =>
      this.#payments!.append(townWriteEntry({
        ts: nowIso(),
        direction: "out",
        kind: w.blob ? "blob" : "write",
        event: w.event,
        jobId: w.jobId,
        amount: w.amount,
        asset: ildcp.assetCode,
        scale: ildcp.assetScale,
        peer: townAddress,
      }));
    await this.#openUplinks();
    const homeBtp = this.#btp;
    const uplinksFor = (relay: string): TownUplink[] => {
      const own = this.#uplinks.get(relay);
      const others = [...this.#uplinks.values()].filter((u) => u !== own);
      return own ? [own, homeBtp, ...others] : [homeBtp, ...others];
    };
    this.#towns = new TownClients({
      home: new TownClient({
        relayUrl: o.relayUrl,
        uplinks: () => uplinksFor(o.relayUrl),
        townAddress: homeAddress,
        townPubkey: o.townPubkey,
        signer: this.#signer,
        pricePerByte: o.pricePerByte,
        record: (w) => recordWrite(w, homeAddress),
      }),
      later: o.moreTowns,
      uplinksFor,
      signer: this.#signer,
      record: (w) => recordWrite(w, w.townAddress),
    });
    this.#status.ilpAddress = this.ilpAddress;
    this.#status.assetCode = ildcp.assetCode;
    this.#status.assetScale = ildcp.assetScale;
    await this.#openDelivery();
    this.#announcer = this.#openAnnouncer(ildcp.assetCode, ildcp.assetScale);
    await this.#announcer.start();
    // Changes are written within a second; when nothing changed the file is still refreshed
    // every `statusTouchMs` (10 s): its `updatedAt` is the provider's heartbeat, "last seen"
    // after a crash and the age a monitor watches (whether it runs is its pid, see
    // isProcessAlive). A tick with nothing to do makes no call: a process hosting hundreds of
    // providers spent a fifth of its main thread on a touch per provider per second
    // (docs/SCALE.md). Only the file: #markStatus also wakes parked requests, which a clock
    // tick must not do.
    const touchMs = Math.max(1000, o.statusTouchMs ?? PROVIDER_STATUS_TOUCH_MS);
    this.#intervals.push(setInterval(() => {
      if (!this.#statusDirty && Date.now() - this.#statusSeenAt < touchMs - 500) return;
      this.#statusDirty = true;
      this.#track(this.#flushStatus());
    }, 1000));
    await this.#recover();
    await this.#subscribe();
    this.#track(this.#warmSkills());
    this.#status.state = "serving";
    this.#markStatus();
    await this.#flushStatus();
    this.#log(
      `provider up: ${this.ilpAddress} pubkey ${this.pubkey} skills ` +
        (this.#skillList().map((s) => `${s.name}:${s.kinds.join(",")}`).join(" ") || "(none)"),
    );
    this.#reportSkillProblems();
  }

  /** Logs each skill folder that cannot be used (once per problem) and keeps them in the status. */
  #reportSkillProblems(): void {
    const problems = this.#catalog!.problems();
    for (const [folder, why] of problems) {
      if (this.#status.skillProblems?.[folder] !== why) this.#log(`skill ${folder}: ${why}`);
    }
    this.#status.skillProblems = Object.fromEntries(problems);
    this.#markStatus();
  }

  inFlight(): number {
    let n = 0;
    for (const r of this.store.all()) if (!isTerminalProviderJob(r)) n++;
    return n;
  }

  idle(): Promise<void> {
    return this.#runs.idle();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Running skills are killed; their records stay `running` and recovery decides at restart.
    const stopping = this.#runs.stop(new Error("provider stopping"));
    for (const i of this.#intervals) clearInterval(i);
    this.#announcer?.stop();
    for (const t of this.#timers) clearTimeout(t);
    this.#desk?.close();
    await this.#feed?.close().catch(() => {});
    this.#catalog?.close();
    this.#deliveryAbort.abort(new Error("provider stopping"));
    await stopping;
    await Promise.allSettled([...this.#pending]);
    // Its own sandbox only: one given in the options is its owner's to close.
    if (this.#o.sandbox === undefined) await this.#sandbox?.close?.().catch(() => {});
    await this.#btp?.close().catch(() => {});
    await Promise.allSettled([...this.#uplinks.values()].map((u) => u.close()));
    await this.#channel?.close().catch(() => {});
    await this.#payouts?.close().catch(() => {});
    await this.#alerts?.close().catch(() => {});
    if (this.#status.pid === Deno.pid && this.store !== undefined) {
      this.#status.state = "stopped";
      this.#markStatus();
      await this.#flushStatus().catch(() => {});
    }
    await this.#payments?.flush().catch(() => {});
    await this.#audit?.close().catch(() => {});
  }

  // ---- background work bookkeeping

  #track(p: Promise<unknown>): void {
    const guarded = p.catch((err) => this.#backgroundError(err as Error));
    this.#pending.add(guarded);
    void guarded.finally(() => this.#pending.delete(guarded));
  }

  #backgroundError(err: Error): void {
    this.#status.lastError = err.message;
    this.#log(`error: ${err.message}`);
  }

  #later(ms: number, fn: () => Promise<void>): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) this.#track(fn());
    }, ms);
    this.#timers.add(t);
  }

  // ---- announcements

  /** A Docker engine for docker-build skills, when one answers (else they are not served). */
  /**
   * Connects each more town's own uplink (`btpUrl`); one that cannot connect now is tried again
   * with backoff (its town's writes leave by the home town's uplink meanwhile).
   */
  async #openUplinks(): Promise<void> {
    const connect = async (town: ProviderTown, attempt: number): Promise<void> => {
      const uplink = new BtpClient({
        url: town.btpUrl!,
        authToken: town.btpToken ?? "",
        reconnect: true,
        // This provider is paid at its home town's address: nothing arrives by this uplink.
        onPrepare: () => ({
          type: "reject",
          code: ILP_ERROR.unreachable,
          triggeredBy: "",
          message: `pay this provider at ${this.ilpAddress}`,
          data: new Uint8Array(),
        }),
      });
      try {
        await uplink.connect();
        if (this.#stopped) return await uplink.close();
        this.#uplinks.set(town.relayUrl, uplink);
      } catch (err) {
        await uplink.close().catch(() => {});
        this.#log(
          `uplink to ${town.relayUrl} not connected: ` +
            `${(err as Error).message}; its writes leave by the home town's meanwhile`,
        );
        this.#later(
          backoffDelay(attempt, { initialMs: 1_000, maxMs: 30_000 }),
          () => connect(town, attempt + 1),
        );
      }
    };
    const own = (this.#o.moreTowns ?? []).filter((t) =>
      t.btpUrl && t.relayUrl !== this.#o.relayUrl
    );
    await Promise.all(own.map((town) => connect(town, 0)));
  }

  async #probeDocker(): Promise<void> {
    if (this.#o.dockerHost === false) {
      this.#dockerUnavailable = "disabled by the operator";
      return;
    }
    const dockerHost = this.#o.dockerHost;
    try {
      const engine = await probeDockerEngine({ dockerHost });
      this.#docker = {
        engine,
        runner: createDockerBuildRunner({
          jobsRoot: `${this.#o.stateDir}/work`,
          engine,
          dockerHost,
        }),
      };
      this.#log(
        `docker engine ${engine.version} (${engine.platform}, ${engine.storageDriver}) at ${engine.host}`,
      );
    } catch (err) {
      this.#dockerUnavailable = (err as Error).message;
      const wanted = (this.#catalog?.skills() ?? []).filter((s) => s.manifest.runner === "docker");
      if (wanted.length > 0) {
        this.#log(
          `not serving ${
            wanted.map((s) => s.manifest.name).join(", ")
          }: ${this.#dockerUnavailable}`,
        );
      }
    }
  }

  /** The skills this provider can run now (docker-build ones need an engine). */
  #servable(): SkillEntry[] {
    return (this.#catalog?.skills() ?? []).filter((s) =>
      s.manifest.runner !== "docker" || this.#docker !== undefined
    );
  }

  /** The paid-job skills (what is announced and priced): their job request kinds. */
  #skillList() {
    return this.#servable().map((s) => ({
      name: s.manifest.name,
      kinds: s.manifest.kinds.filter(isJobRequestKind),
      price: String(s.manifest.price),
    })).filter((s) => s.kinds.length > 0);
  }

  /**
   * The skills with the price a job costs (the skill's price plus this provider's own writes
   * for the job, quoted on a minimal request), so a requester can check its bid before paying:
   * the skill's price alone can be far below the quote (docker-build budgets its image blobs).
   */
  #quotedSkillList() {
    const entries = this.#servable();
    return this.#skillList().map((s) => {
      const entry = entries.find((e) => e.manifest.name === s.name)!;
      const probe: NostrEvent = {
        id: "0".repeat(64),
        pubkey: this.pubkey,
        created_at: Math.floor(Date.now() / 1000),
        kind: s.kinds[0],
        tags: [],
        content: "",
        sig: "0".repeat(128),
      };
      return { ...s, price: String(this.#quote(probe, entry).amount) };
    });
  }

  /** Kinds delivered to skills unpaid (private messages...): never announced as jobs. */
  #deliveryKinds(): number[] {
    const kinds = this.#servable().flatMap((s) => s.manifest.kinds);
    return [...new Set(kinds.filter((k) => !isJobRequestKind(k)))];
  }

  /** The delivery of non-job events: its log recovered first (cut-off ones reported). */
  async #openDelivery(): Promise<void> {
    const log = await openDeliveryLog({ stateDir: this.#o.stateDir });
    for (const cut of await log.recover()) {
      this.#log(`delivery of ${cut.eventId} to ${cut.skill} was cut off: not run again`);
    }
    this.#delivery = new EventDelivery({
      log,
      signer: this.#signer,
      run: (job) => this.#sandbox!.run(job),
      reply: async ({ recipient, text, replyTo }) => {
        // Signed by the wrap's one-time key: published as is, never re-signed.
        await this.#towns!.home.write(
          await wrapDirectMessage({ signer: this.#signer, recipient, text, replyTo }),
        );
      },
      logLine: (line) => this.#log(line),
      signal: this.#deliveryAbort.signal,
    });
  }

  /** The announcer, once the ILP address and asset are known (IL-DCP). */
  #openAnnouncer(assetCode: string, assetScale: number): ProviderAnnouncer {
    const o = this.#o;
    const towns = this.#towns!;
    const announcer: ProviderAnnouncer = new ProviderAnnouncer({
      // Announcements and heartbeats go to every town of the profile.
      publish: (template) => towns.publishTo(towns.relays, template),
      spent: () => towns.spent,
      relays: towns.relays,
      ilpAddress: this.ilpAddress,
      btpEndpoint: o.btpEndpoint ?? o.btpUrl,
      assetCode,
      assetScale,
      name: o.name,
      about: o.about,
      heartbeatMs: o.heartbeatMs,
      refreshMs: o.refreshMs,
      skills: () => this.#quotedSkillList(),
      inFlight: () => this.inFlight(),
      onChange: () => {
        this.#status.skills = announcer.skills;
        this.#status.lastAnnounceAt = announcer.lastAnnounceAt?.toISOString();
        this.#status.lastHeartbeatAt = announcer.lastHeartbeatAt?.toISOString();
        this.#status.periodicCostPerDay = String(announcer.costPerDay);
        this.#markStatus();
      },
      onError: (err) => this.#backgroundError(err),
    });
    return announcer;
  }

  get feedMode(): EventFeed["mode"] | undefined {
    return this.#feed?.mode;
  }

  get feedDescription(): string | undefined {
    return this.#feed?.description;
  }

  /** Cost per day of the heartbeat and announcements (base units), for the banner. */
  get periodicCostPerDay(): bigint {
    return this.#announcer?.costPerDay ?? 0n;
  }

  /**
   * Warms the sandbox's Deno cache for Deno skills not warmed yet (in the background: a job that
   * comes first just starts cold), so a Deno skill's start-up is not a cold one in every job.
   */
  async #warmSkills(): Promise<void> {
    for (const skill of this.#catalog?.skills() ?? []) {
      if (this.#stopped || this.#sandbox?.warmDenoCache === undefined) return;
      const run = await Deno.stat(`${skill.dir}/run`).catch(() => null);
      const key = `${skill.dir}@${run?.mtime?.getTime()}`;
      if (run === null || this.#warmed.has(key)) continue;
      this.#warmed.add(key);
      const outcome = await this.#sandbox.warmDenoCache({
        skillDir: skill.dir,
        manifest: skill.manifest,
      });
      if (outcome !== undefined) {
        this.#log(`skill ${skill.manifest.name}: Deno cache warmed (${outcome.status})`);
      }
    }
  }

  async #onCatalogChange(): Promise<void> {
    if (this.#stopped || this.#desk === undefined) return;
    this.#track(this.#warmSkills());
    this.#log(`skills changed: ${this.#skillList().map((s) => s.name).join(", ") || "(none)"}`);
    this.#reportSkillProblems();
    await this.#resubscribe();
    await this.#announcer?.announce();
  }

  #resubscribing: Promise<void> = Promise.resolve();

  /**
   * The feed again with the skills as they are now. One at a time, the old feed closed first:
   * two feeds at once would hand the same request to admission twice.
   */
  #resubscribe(): Promise<void> {
    const next = this.#resubscribing.then(async () => {
      const feed = this.#feed;
      this.#feed = undefined;
      await feed?.close().catch(() => {});
      await this.#subscribe();
    });
    this.#resubscribing = next.catch(() => {});
    return next;
  }

  // ---- subscription and admission

  /** The feed of requests, cancellations and delivered kinds (docs/ARCHITECTURE.md, "Pipelines and their permissions"). */
  async #subscribe(): Promise<void> {
    if (this.#stopped) return;
    const kinds = [...new Set(this.#skillList().flatMap((s) => s.kinds))];
    // A margin past the max age, so requests just too old get an explicit, logged drop.
    const since = Math.floor(Date.now() / 1000) - (this.#o.maxAgeSec ?? 600) - 60;
    const filters: NostrFilter[] = [{ kinds: [5], since }];
    if (kinds.length > 0) {
      filters.unshift(
        this.#o.addressedOnly ? { kinds, "#p": [this.pubkey], since } : { kinds, since },
      );
    }
    const delivered = this.#deliveryKinds();
    // Gift wraps carry a created_at up to two days in the past (NIP-59): look back further;
    // the delivery log keeps each event to one delivery however often it comes back.
    if (delivered.length > 0) {
      filters.push({ kinds: delivered, "#p": [this.pubkey], since: since - DELIVERY_LOOKBACK_S });
    }
    const feed = await openMultiTownFeed({
      relays: [this.#o.relayUrl, ...(this.#o.moreTowns ?? []).map((t) => t.relayUrl)],
      filters,
      mode: this.#o.feedMode,
      stageModules: this.#o.feedStageModules,
      onEvent: (summary, relay) => this.#onFeedEvent(summary, relay),
      onLog: (e, relay) => {
        if (e.type === "closed" || e.type === "notice") {
          this.#log(`relay ${relay} ${e.type}: ${e.message}`);
        } else if (e.type === "disconnected") {
          this.#raise?.("relay-disconnected", `relay ${relay} disconnected`, {
            code: String(e.code),
            reason: String(e.reason),
          });
        }
      },
      onFailure: (f) => this.#log(`feed: ${f.stage}: ${f.message}`),
    });
    if (this.#stopped) return await feed.close();
    this.#feed = feed;
    this.#status.feed = feed.description;
    this.#markStatus();
    void feed.done.then(() => {
      // A feed ends on close, or when its stages gave up (a relay refusing us for good).
      if (!this.#stopped && this.#feed === feed) {
        this.#backgroundError(new Error("the feed of requests ended: no new jobs come in"));
        this.#markStatus();
      }
    });
  }

  /** One event from the feed: verified here (a full decode checks the signature), then routed. */
  async #onFeedEvent(summary: SummaryChunk, relay?: string): Promise<void> {
    // A request addressed to other providers only is dropped before the full decode and the
    // signature check: its cost here must not grow with the number of providers on the town
    // (docs/ARCHITECTURE.md, "Pipelines and their permissions"). Counted, not logged: that is every other job.
    if (
      isJobRequestKind(summary.kind) && summary.p.length > 0 && !summary.p.includes(this.pubkey)
    ) {
      this.counters.dropped["other-provider"] = (this.counters.dropped["other-provider"] ?? 0) + 1;
      this.#markStatus();
      return;
    }
    if (relay !== undefined && relay !== this.#o.relayUrl) {
      this.#foundOn.set(summary.id, relay);
      if (this.#foundOn.size > 10_000) this.#foundOn.delete(this.#foundOn.keys().next().value!);
    }
    let event: NostrEvent;
    try {
      event = decodeEventToon(summary.toon);
    } catch (err) {
      this.#log(`drop undecodable event: ${(err as Error).message}`);
      return;
    }
    try {
      if (event.kind === 5) await this.#onDeletion(event);
      else if (isJobRequestKind(event.kind)) await this.#onRequest(event, summary.toon);
      else this.#deliver(event, summary.toon);
    } catch (err) {
      this.#log(`error handling ${event.id}: ${(err as Error).message}`);
    }
  }

  /** Hands a non-job event to its skill in the background (bounded by EventDelivery). */
  #deliver(event: NostrEvent, toon: string): void {
    const skill = this.#catalog!.forKind(event.kind);
    if (skill === undefined || !this.#servable().includes(skill)) return;
    this.#track(this.#delivery!.deliver(event, toon, skill));
  }

  /** Paid jobs not finished, of everyone or of one requester: unpaid ones are not counted. */
  #paidInFlight(pubkey?: string): number {
    let n = 0;
    for (const r of this.store.all()) {
      if (isTerminalProviderJob(r) || r.status === "admitted" || r.status === "invoiced") continue;
      if (pubkey === undefined || r.customer === pubkey) n++;
    }
    return n;
  }

  #drop(event: NostrEvent, reason: AdmissionDropReason | UnpaidDropReason, detail: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.#markStatus();
    if (reason !== "duplicate") {
      this.#dropped.set(event.id, true);
      if (this.#dropped.size > 100_000) this.#dropped.delete(this.#dropped.keys().next().value!);
      // A duplicate is the relay replaying a request already handled (every re-subscription:
      // a reconnect, a skills change): counted in the status, not logged once per past job.
      this.#log(`drop ${event.id} kind ${event.kind}: ${reason} (${detail})`);
    }
    this.#markStatus();
    const notice = this.#notices.noticeFor(event, reason, detail);
    const towns = this.#towns;
    if (notice !== undefined && towns !== undefined) {
      this.#track(
        towns.publishTo(
          towns.targetsFor(event, this.#foundOn.get(event.id)),
          buildJobFeedback({
            request: { id: event.id, pubkey: event.pubkey },
            status: "error",
            extraInfo: notice,
          }),
        ).catch((err) => this.#log(`notice of ${event.id} not sent: ${(err as Error).message}`)),
      );
    }
  }

  async #onRequest(event: NostrEvent, toon: string): Promise<void> {
    const listed = this.#catalog!.forKind(event.kind);
    const entry = listed !== undefined && this.#servable().includes(listed) ? listed : undefined;
    const quote = entry === undefined ? undefined : this.#quote(event, entry);
    const decision = decideAdmission(event, {
      nowSec: Math.floor(Date.now() / 1000),
      maxAgeSec: this.#o.maxAgeSec ?? 600,
      providerPubkey: this.pubkey,
      price: quote?.amount,
      seen: (id) => this.store.has(id) || this.#dropped.has(id) || this.#parkedIds.has(id),
      cancelled: (id, author) => this.#cancelledEarly.get(id) === author,
      inFlight: this.#paidInFlight(),
      inFlightOf: (p) => this.#paidInFlight(p),
      maxInFlight: this.#o.maxInFlight ?? 32,
      maxInFlightPerRequester: this.#o.maxInFlightPerRequester ?? 8,
    });
    if (!decision.admit) {
      if (decision.reason === "over-requester-capacity" && this.#park(event, toon)) return;
      return this.#drop(event, decision.reason, decision.detail);
    }
    // Paid through the town: not while it owes more than this provider's limit.
    const owed = quote!.amount > 0n ? await this.#townDebtRefusal() : undefined;
    if (owed !== undefined) return this.#drop(event, "town-debt", owed);
    const record: ProviderJobRecord = {
      id: event.id,
      kind: event.kind,
      customer: event.pubkey,
      skill: entry!.manifest.name,
      status: "admitted",
      price: String(quote!.amount),
      requestToon: toon,
      encrypted: event.tags.some((t) => t[0] === "encrypted"),
      admittedAt: nowIso(),
      updatedAt: nowIso(),
      attempts: 0,
    };
    // Inputs too large or missing are refused before anyone pays (a HEAD per blob input).
    const refusal = await this.#checkRequest(record, entry!, event);
    if (refusal !== undefined) {
      await this.store.put(record);
      this.counters.admitted++;
      return await this.#finishWithError(record, "error", refusal);
    }
    const desk = this.#desk!;
    if (quote!.amount > 0n) {
      const slot = desk.reserve(record);
      if (!slot.ok) {
        return this.#park(event, toon) ? undefined : this.#drop(event, slot.reason, slot.detail);
      }
    }
    // Persisted before anything else happens. The invoice is made first, in memory only
    // (nothing leaves this process before the record is on disk), so admission and billing
    // are one durable write instead of two on the job's critical path.
    const billed = await desk.bill(record);
    try {
      await this.store.put(billed);
    } catch (err) {
      desk.release(record.id); // never announced: nobody can pay it
      throw err;
    }
    this.counters.admitted++;
    this.#log(
      `admit ${event.id} kind ${event.kind} skill ${record.skill} price ${record.price} ` +
        `(skill ${quote!.price} + writes ${quote!.writes} + blobs ${quote!.blobs})`,
    );
    this.#markStatus();
    this.#track(this.#announceBill(billed));
  }

  async #onDeletion(event: NostrEvent): Promise<void> {
    for (const tag of event.tags) {
      if (tag[0] !== "e" || tag[1] === undefined) continue;
      const record = this.store.get(tag[1]);
      if (record === undefined) {
        this.#cancelledEarly.set(tag[1], event.pubkey);
        if (this.#cancelledEarly.size > 10_000) {
          this.#cancelledEarly.delete(this.#cancelledEarly.keys().next().value!);
        }
        continue;
      }
      if (record.customer !== event.pubkey || isTerminalProviderJob(record)) continue;
      this.#log(`cancel ${record.id} (kind 5 from its requester)`);
      if (this.#runs.cancel(record.id, new Error("cancelled by the requester")) === "running") {
        continue; // #runJob records the outcome
      }
      this.#desk!.release(record.id);
      await this.#finishWithError(record, "cancelled", "cancelled by the requester (kind 5)");
    }
  }

  // ---- the job state machine

  async #advance(record: ProviderJobRecord): Promise<void> {
    if (this.#stopped) return;
    switch (record.status) {
      case "admitted":
        return await this.#invoice(record);
      case "invoiced":
        return this.#desk!.reopen(record);
      case "paid":
        return this.#enqueue(record.id);
      case "result-computed":
        return await this.#publishResult(record);
      case "error":
      case "cancelled":
        if (!record.notified) await this.#notifyError(record);
        return;
    }
  }

  async #invoice(record: ProviderJobRecord): Promise<void> {
    const billed = await this.#desk!.bill(record);
    await this.store.put(billed);
    await this.#announceBill(billed);
  }

  /**
   * What this job costs its requester: the skill's price plus this provider's writes for it
   * (job_pricing.ts). A free skill (price 0) stays free: its provider chose to pay them.
   */
  #quote(event: NostrEvent, entry: SkillEntry): JobQuote {
    if (entry.manifest.price === 0n) return { amount: 0n, price: 0n, writes: 0n, blobs: 0n };
    return priceJob({
      request: event,
      manifest: entry.manifest,
      // Its feedback and result are written (and paid) on each town they go to.
      pricePerByte: (this.#o.pricePerByte ?? 10n) *
        BigInt(this.#towns?.targetsFor(event, this.#foundOn.get(event.id)).length ?? 1),
      blobPricePerMiB: this.#blobPricePerMiB,
      providerPubkey: this.pubkey,
      invoiceText: (amount) => this.#desk!.previewText(event.id, amount),
      asset: this.#desk!.asset,
    });
  }

  /** The payment desk, once the asset is known (IL-DCP). */
  #openPaymentDesk(assetCode: string, assetScale: number): PaymentDesk {
    const o = this.#o;
    // An invoice lives no longer than the grace its slot is held for.
    const grace = o.unpaidGraceMs ?? DEFAULT_UNPAID_GRACE_SEC * 1000;
    return new PaymentDesk({
      address: () => this.ilpAddress,
      assetCode,
      assetScale,
      unpaid: {
        max: o.maxUnpaid ?? DEFAULT_MAX_UNPAID,
        maxPerRequester: o.maxUnpaidPerRequester ?? DEFAULT_MAX_UNPAID_PER_REQUESTER,
      },
      invoiceLifetimeMs: Math.min(o.invoiceExpiryMs ?? grace, grace),
      store: this.store,
      payments: this.#payments!,
      onPaid: (record, amount, asset) => {
        this.counters.paid++;
        this.counters.earned += amount;
        this.#log(
          `paid ${record.id}: ${formatAssetAmount(amount, { assetCode: asset, assetScale })}`,
        );
        this.#markStatus();
        this.#enqueue(record.id);
        // A paying requester's slot is free again: its parked requests come in.
        this.#wakeParked(record.customer);
      },
      onWithdrawn: (record, reason, why) => {
        this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
        this.#log(`withdraw ${record.id}: ${reason} (${why})`);
        this.#markStatus();
        this.#track(this.#finishWithError(record, "error", why));
      },
      onLatePayment: (destination, message) => {
        this.counters.dropped["late-payment"] = (this.counters.dropped["late-payment"] ?? 0) + 1;
        this.#log(`late payment to ${destination} rejected: ${message}`);
        this.#markStatus();
      },
      onRecordError: (jobId, err) => this.#log(`cannot record payment of ${jobId}: ${err.message}`),
    });
  }

  /** After the billed record is on disk: run a free job, or publish the payment request. */
  async #announceBill(billed: ProviderJobRecord): Promise<void> {
    if (billed.status === "paid") return this.#enqueue(billed.id);
    this.#desk!.armExpiry(billed);
    this.#markStatus();
    await this.#feedback(billed, "payment-required", {
      extraInfo: paymentRequiredInfo(BigInt(billed.price), this.#desk!.asset),
      amount: { amount: billed.price, paymentRequest: billed.invoice },
    });
  }

  /** Payments go to the payment desk once it is open; until then (and when stopping) T00. */
  #onPrepare(prepare: IlpPrepare): Promise<IlpReply> {
    if (this.#desk !== undefined && !this.#stopped) return this.#desk.onPrepare(prepare);
    return Promise.resolve({
      type: "reject",
      code: ILP_ERROR.internalError,
      triggeredBy: this.ilpAddress,
      message: "provider not ready",
      data: new Uint8Array(),
    });
  }

  #enqueue(id: string): void {
    this.#runs.enqueue(id);
  }

  /** The run queue's job: a paid record run through its skill (anything else is skipped). */
  #runPaid(id: string, signal: AbortSignal): Promise<void> | undefined {
    const record = this.store.get(id);
    if (record === undefined || record.status !== "paid") return undefined;
    return this.#runJob(record, signal);
  }

  #skillOf(record: ProviderJobRecord): SkillEntry | undefined {
    return this.#catalog!.skills().find((s) => s.manifest.name === record.skill);
  }

  async #runJob(record: ProviderJobRecord, signal: AbortSignal): Promise<void> {
    const skill = this.#skillOf(record);
    if (skill === undefined) {
      return await this.#finishWithError(record, "error", `skill ${record.skill} is gone`);
    }
    const running: ProviderJobRecord = {
      ...record,
      status: "running",
      attempts: record.attempts + 1,
    };
    await this.store.put(running);
    this.#markStatus();
    const outcome = await runJob({
      jobId: record.id,
      skill,
      runner: skill.manifest.runner !== "docker"
        ? this.#sandbox!
        : this.#docker?.runner ?? { unavailable: `no Docker engine: ${this.#dockerUnavailable}` },
      input: () => this.#skillInput(record),
      encrypted: record.encrypted,
      signal,
      maxInputBytes: this.#o.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
      blobCacheDir: this.#blobCacheDir,
      resultsDir: this.#resultsDir(record.id),
      onStarted: () => this.#announceProcessing(running),
      removeLater: (dir) => this.#track(Deno.remove(dir, { recursive: true }).catch(() => {})),
    });
    switch (outcome.status) {
      case "cancelled":
        if (this.#stopped) return; // the provider is stopping: the restart decides
        return await this.#finishWithError(
          running,
          "cancelled",
          "cancelled by the requester (kind 5)",
        );
      case "failed":
        return await this.#finishWithError(running, "error", outcome.reason);
      case "computed": {
        for (const skipped of outcome.skipped) {
          this.#log(`output of ${record.id} left out: ${skipped}`);
        }
        const computed: ProviderJobRecord = {
          ...running,
          status: "result-computed",
          result: outcome.result,
          ...(outcome.files.length > 0 ? { resultFiles: outcome.files } : {}),
        };
        await this.store.put(computed);
        return await this.#publishResult(computed);
      }
    }
  }

  /** Publishes `processing` now or after `processingFeedbackMs`; returns what cancels it. */
  #announceProcessing(running: ProviderJobRecord): () => void {
    const publish = () =>
      this.#track(
        this.#feedback(running, "processing", { extraInfo: processingInfo(running.skill) }),
      );
    const delay = this.#o.processingFeedbackMs ?? 100;
    if (delay <= 0) {
      publish();
      return () => {};
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) publish();
    }, delay);
    this.#timers.add(t);
    return () => {
      clearTimeout(t);
      this.#timers.delete(t);
    };
  }

  /** The skill's stdin: the request's TOON, with decrypted params inlined when it was encrypted. */
  async #skillInput(record: ProviderJobRecord): Promise<string> {
    if (!record.encrypted) return record.requestToon;
    const request = decodeEventToon(record.requestToon, { verify: false });
    const job = await decryptJobParams(request, this.#signer);
    // Skills never see the key; they get the plain tags. The signature no longer covers them.
    const tags = [
      ...request.tags.filter((t) => t[0] !== "encrypted"),
      ...job.inputs.map((i) => ["i", i.data, i.type]),
      ...job.params.map((p) => ["param", p.name, ...p.values]),
    ];
    return encodeEventToon({ ...request, tags, content: "" });
  }

  get #blobCacheDir(): string {
    return `${this.#o.stateDir}/blob-cache`;
  }

  #resultsDir(id: string): string {
    return `${this.#o.stateDir}/results/${id}`;
  }

  /** The request's blob inputs (its tags after decryption, for an encrypted request). */
  async #blobInputs(record: ProviderJobRecord) {
    const tags = decodeEventToon(await this.#skillInput(record), { verify: false }).tags;
    return await checkBlobInputs(tags, {
      maxBytes: this.#o.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    });
  }

  /**
   * Why the job cannot be taken before anyone pays (an unusable blob input, a docker-build
   * request this engine will not build), or undefined.
   */
  async #checkRequest(
    record: ProviderJobRecord,
    entry: SkillEntry,
    event: NostrEvent,
  ): Promise<string | undefined> {
    try {
      const needsTags = entry.manifest.runner === "docker" ||
        entry.manifest.requiredParams.length > 0;
      if (needsTags) {
        const tags = decodeEventToon(await this.#skillInput(record), { verify: false }).tags;
        const missing = missingParams(tags, entry.manifest.requiredParams);
        if (missing.length > 0) {
          return `refused: missing param ${
            missing.join(", ")
          } (the ${entry.manifest.name} skill needs it)`;
        }
        if (entry.manifest.runner === "docker") checkDockerBuildRequest(tags, this.#docker!.engine);
      }
      // Blob inputs name their hash in an `x` tag, public even in an encrypted request.
      if (event.tags.some((t) => t[0] === "x")) await this.#blobInputs(record);
      return undefined;
    } catch (err) {
      if (err instanceof BlobInputError) return err.message;
      if (err instanceof DockerBuildRequestError) return `${err.status}: ${err.message}`;
      throw err;
    }
  }

  /** Publishes the kept output files as blobs (paid); their `blob` tags for the result. */
  async #publishOutputs(record: ProviderJobRecord): Promise<string[][]> {
    const tags: string[][] = [];
    for (const name of record.resultFiles ?? []) {
      const { descriptor } = await publishBlob({
        path: `${this.#resultsDir(record.id)}/${name}`,
        server: blobServerOf(this.#o.relayUrl),
        pricePerMiB: this.#blobPricePerMiB,
        signer: this.#signer,
        pay: (auth, amount) => this.#towns!.home.sendPaid(auth, amount, record.id),
      });
      tags.push(blobOutputTag({ name, ...descriptor }));
    }
    return tags;
  }

  async #publishResult(record: ProviderJobRecord): Promise<void> {
    const request = decodeEventToon(record.requestToon, { verify: false });
    const content = record.encrypted
      ? nip44.v2.encrypt(
        record.result!,
        await this.#signer.conversationKey(record.customer),
      )
      : record.result!;
    const template = buildJobResult({
      request,
      content,
      amount: record.price === "0" ? undefined : { amount: record.price },
      // The requester has its request: quoting it would cost the provider its bytes again.
      maxQuotedRequestBytes: 0,
      extraTags: await this.#publishOutputs(record),
    });
    if (record.encrypted) template.tags.push(["encrypted"]);
    // No `success` feedback: the result is the success (NIP-90 makes feedback optional), and
    // each write is a paid one the quote would have to cover. A restart before `published` is
    // recorded republishes the result.
    const event = await this.#towns!.publishTo(this.#targetsOf(record), template, {
      retryUntil: Date.now() + WRITE_RETRY_MS,
    });
    await this.store.put({ ...record, status: "published", resultEventId: event.id });
    if (record.resultFiles !== undefined) {
      await Deno.remove(this.#resultsDir(record.id), { recursive: true }).catch(() => {});
    }
    this.counters.published++;
    this.#log(`published result ${event.id} for ${record.id}`);
    this.#markStatus();
    this.#wakeParked(record.customer);
  }

  /** The towns a job's feedback and result go to (roles/town_client/town_clients.ts). */
  #targetsOf(record: ProviderJobRecord): string[] {
    const request = decodeEventToon(record.requestToon, { verify: false });
    return this.#towns!.targetsFor(request, this.#foundOn.get(record.id));
  }

  async #finishWithError(
    record: ProviderJobRecord,
    status: "error" | "cancelled",
    reason: string,
  ): Promise<void> {
    const failed: ProviderJobRecord = { ...record, status, error: reason, notified: false };
    await this.store.put(failed);
    if (status === "cancelled") this.counters.cancelled++;
    else this.counters.errors++;
    this.#log(`${status} ${record.id}: ${reason}`);
    this.#markStatus();
    // A paid job that ended frees its requester's room; a withdrawn invoice does not: parked
    // requests wait for their requester to pay, not for the pool to churn.
    if (record.status !== "admitted" && record.status !== "invoiced") {
      this.#wakeParked(record.customer);
    }
    await this.#notifyError(failed);
  }

  async #notifyError(record: ProviderJobRecord): Promise<void> {
    await this.#feedback(record, "error", { extraInfo: (record.error ?? "error").slice(0, 1000) });
    await this.store.put({ ...record, notified: true });
  }

  async #feedback(
    record: ProviderJobRecord,
    status: FeedbackStatus,
    extra: { extraInfo?: string; amount?: { amount: string; paymentRequest?: string } },
  ): Promise<void> {
    await this.#towns!.publishTo(
      this.#targetsOf(record),
      buildJobFeedback({
        request: { id: record.id, pubkey: record.customer },
        status,
        extraInfo: extra.extraInfo,
        amount: extra.amount,
      }),
      // A town restarting under the write: the same feedback again until the town is back (an
      // invoice the requester never sees is a job that times out unpaid).
      { retryUntil: Date.now() + WRITE_RETRY_MS },
    );
  }

  // ---- crash recovery

  async #recover(): Promise<void> {
    for (const record of this.store.all()) {
      try {
        await this.#recoverOne(record);
      } catch (err) {
        this.#log(`recover ${record.id} failed: ${(err as Error).message}`);
      }
    }
  }

  async #recoverOne(record: ProviderJobRecord): Promise<void> {
    const step = recoveryStepFor(record, {
      idempotent: this.#skillOf(record)?.manifest.idempotent ?? false,
      nowMs: Date.now(),
    });
    if (record.status === "running") {
      // Cut off mid-run: whatever it left behind goes before anything runs again.
      const reaped = await reapSkillProcesses(`${this.#o.stateDir}/work/${record.id}`);
      if (reaped.length > 0) this.#log(`recover ${record.id}: killed leftover pids ${reaped}`);
      await reapSkillCgroups(record.id);
    }
    switch (step.action) {
      case "rerun": {
        this.#log(`recover ${record.id}: re-run (skill ${record.skill} is idempotent)`);
        const paid = { ...record, status: "paid" as const };
        await this.store.put(paid);
        return this.#enqueue(paid.id);
      }
      case "fail":
        return await this.#finishWithError(record, "error", step.reason);
      case "notify":
        return await this.#notifyError(record);
      case "none":
        return;
      case "resume":
        this.#log(`recover ${record.id}: ${record.status}`);
        return await this.#advance(record);
    }
  }

  // ---- status file

  /** The channel `[channels] auto` uses or opens with the town; undefined when it is off. */
  /** The fulfillments of the payments this node was paid, among these conditions (hex). */
  #fulfillmentsOf(conditions: readonly string[]): string[] {
    const wanted = new Set(conditions);
    const out: string[] = [];
    for (const e of this.#payments?.entries() ?? []) {
      if (e.direction !== "in" || e.event !== "fulfilled" || e.fulfillment === undefined) continue;
      if (wanted.has(bytesToHex(sha256(hexToBytes(e.fulfillment))))) out.push(e.fulfillment);
    }
    return out;
  }

  /**
   * Why new jobs are refused while the town owes more than `maxTownDebt` (alerted once per
   * crossing); undefined under the limit or without one.
   */
  async #townDebtRefusal(): Promise<string | undefined> {
    const limit = this.#o.maxTownDebt;
    if (limit === undefined || !this.#payments) return undefined;
    const debt = townDebtOf(this.#payments.entries(), await listChannels(this.#o.stateDir));
    const refusal = townDebtRefusal(debt, limit);
    if (refusal !== undefined && !this.#townDebtAlerted) {
      this.#raise?.("town-debt", refusal, {
        earned: String(debt.earned),
        claimed: String(debt.claimed),
        limit: String(limit),
      });
    }
    this.#townDebtAlerted = refusal !== undefined;
    return refusal;
  }

  /** A channel's change on chain, logged; one that would pay this node less is an alert. */
  #onChannelChange(c: ChannelChange): void {
    this.#log(`channel ${c.record.channelId}: ${c.action} (${c.record.status} on chain)`);
    if (c.fields.Disputed) {
      this.#alerts?.raise(
        "channel-dispute",
        `channel ${c.record.channelId}: ${c.fields.Disputed}`,
        {
          channelId: c.record.channelId,
          ...c.fields,
        },
      );
    }
  }

  /** The keeper of the town's payout claims, on the first chain of `[chains]`; none without. */
  #payoutReceiver(): PayoutReceiver | undefined {
    const o = this.#o;
    const [id, section] = Object.entries(o.chains ?? {})[0] ?? [];
    if (id === undefined) return undefined;
    try {
      const chain = resolveChainConfig(id, {
        section: section as Record<string, unknown>,
        allowMainnet: true,
      });
      const client = new TokenNetworkClient({ chain, account: this.#signer.evm });
      return new PayoutReceiver({
        stateDir: o.stateDir,
        audit: this.#audit,
        client,
        townPubkey: o.townPubkey,
        // A close by the town that pays less than its newest claim is answered (an alert).
        watch: {
          chain: client,
          intervalMs: o.channelWatchIntervalMs,
          onChange: (c) => this.#onChannelChange(c),
          onError: (_id, err) => this.#log(`payouts: cannot read the chain: ${err.message}`),
        },
      });
    } catch (err) {
      this.#log(`payouts from the town are not kept: [chains."${id}"]: ${(err as Error).message}`);
      return undefined;
    }
  }

  async #autoChannel(): Promise<string | undefined> {
    const o = this.#o;
    if (!o.channelPolicy?.auto) return undefined;
    const { record } = await ensureAutoChannel({
      stateDir: o.stateDir,
      signer: this.#signer,
      townPubkey: o.townPubkey,
      relayUrl: o.relayUrl,
      policy: o.channelPolicy,
      channels: o.channels,
      chains: o.chains,
      audit: this.#audit,
      info: (line) => this.#log(line),
    });
    return record.channelId;
  }

  #markStatus(): void {
    this.#statusDirty = true;
    this.#statusChanged = true;
  }

  /**
   * Requests parked until their requester has room here (see #park).
   *
   * @example
   * ```ts
   * declare const provider: { parked: number };
   * console.log(`${provider.parked} requests wait for their requester's earlier jobs`);
   * ```
   */
  get parked(): number {
    return this.#parkedIds.size;
  }

  /**
   * Parks a request refused only because its requester has as many jobs here as it may have at
   * once (unpaid invoices or paid jobs running): it is admitted when that requester pays one or
   * one of its paid jobs ends, so a requester that hands out many jobs at once gets them all
   * done instead of timing out on all but the first few; one that never pays never gets them
   * in. Bounded per requester and in all (past that, and past the request's age, dropped).
   */
  #park(event: NostrEvent, toon: string): boolean {
    const queue = this.#parked.get(event.pubkey) ?? [];
    // Requests too old to admit anyway leave first (a requester that never pays is never woken).
    const oldest = Math.floor(Date.now() / 1000) - (this.#o.maxAgeSec ?? 600);
    while (queue.length > 0 && queue[0].event.created_at < oldest) {
      this.#parkedIds.delete(queue.shift()!.event.id);
    }
    if (queue.length >= MAX_PARKED_PER_REQUESTER || this.#parkedIds.size >= MAX_PARKED) {
      return false;
    }
    queue.push({ event, toon });
    this.#parked.set(event.pubkey, queue);
    this.#parkedIds.add(event.id);
    return true;
  }

  /**
   * Admits `requester`'s parked requests as far as it has room again (see {@linkcode #park}):
   * called when it paid an invoice or one of its paid jobs ended, never for another requester's
   * progress or a withdrawal.
   */
  #wakeParked(requester: string): void {
    if (!this.#parked.has(requester) || this.#stopped || !this.#desk) return;
    queueMicrotask(() => {
      const queue = this.#parked.get(requester);
      if (queue === undefined) return;
      const maxUnpaid = this.#o.maxUnpaidPerRequester ?? DEFAULT_MAX_UNPAID_PER_REQUESTER;
      const maxPaid = this.#o.maxInFlightPerRequester ?? 8;
      const room = Math.min(
        maxUnpaid - this.#desk!.unpaidOf(requester),
        maxPaid - this.#paidInFlight(requester),
      );
      for (const { event, toon } of queue.splice(0, Math.max(0, room))) {
        this.#parkedIds.delete(event.id);
        this.#track(this.#onRequest(event, toon));
      }
      if (queue.length === 0) this.#parked.delete(requester);
    });
  }

  async #flushStatus(): Promise<void> {
    if (!this.#statusDirty || this.store === undefined) return;
    this.#statusDirty = false;
    const heartbeatOnly = !this.#statusChanged;
    this.#statusChanged = false;
    // Only the clock moved: the file is touched (its mtime is the liveness `node status` reads),
    // and rewritten whole at least every 60 s so the `updatedAt` inside stays near. A process
    // hosting hundreds of providers spent most of its idle CPU on the rewrites (docs/SCALE.md).
    const now = Date.now();
    this.#statusSeenAt = now;
    if (heartbeatOnly && now - this.#statusWrittenAt < STATUS_REWRITE_MS) {
      if (await touchProviderStatus(this.#o.stateDir, new Date(now))) return;
    }
    this.#statusWrittenAt = now;
    const s = this.#status;
    s.updatedAt = nowIso();
    s.inFlight = this.inFlight();
    s.running = this.#runs.running;
    s.openInvoices = this.#desk?.openInvoices ?? 0;
    s.counters = {
      admitted: this.counters.admitted,
      paid: this.counters.paid,
      published: this.counters.published,
      errors: this.counters.errors,
      cancelled: this.counters.cancelled,
      earned: String(this.counters.earned),
      spentOnWrites: String(this.#towns?.spent ?? 0n),
      dropped: { ...this.counters.dropped },
    };
    await writeProviderStatus(this.#o.stateDir, s, { heartbeatOnly });
  }
}
