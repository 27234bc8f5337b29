/**
 * The provider node (Mayor-Beta): BTP to its town (IL-DCP address, incoming payments),
 * announcements (10032 peer info, 31990 NIP-89 handler, a NIP-38 heartbeat), the job
 * subscription, admission, invoices, sandboxed runs, feedback and results, crash recovery.
 *
 * Per job: the states of `state/jobs/provider_job_record.ts`, each persisted before its effects;
 * a restart carries each job on from its state (`job_recovery.ts`).
 *
 * @module
 */
import { connectFirst } from "../town_client/first_connect.ts";
import { RoleError } from "../role_error.ts";
import { undoOnFailure } from "../undo_on_failure.ts";
import { nodeSignerOf } from "../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { BtpClient } from "../../transport/btp_client.ts";
import { DEFAULT_BLOB_PRICE_PER_MIB } from "../../protocol/blob_pricing.ts";
import { fetchRelayInfo, townBlobPrice } from "../../transport/relay_info.ts";
import { type AuditLog, openAuditLog } from "../../state/audit/audit_log.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payments/payment_log.ts";
import {
  openProviderJobStore,
  type ProviderJobStore,
} from "../../state/jobs/provider_job_store.ts";
import type { EventFeed } from "../event_feed.ts";
import type { TownClients } from "../town_client/town_clients.ts";
import { type ChannelSender, ChannelSenderError } from "../channels/channel_sender.ts";
import type { ChannelChange } from "../channels/channel_watcher.ts";
import type { PayoutReceiver } from "../channels/payout_receiver.ts";
import { type AlertKind, createNodeAlerts, type NodeAlerts } from "../node_alerts.ts";
import { RunQueue } from "./jobs/run_queue.ts";
import { fulfillmentsAmong } from "./payments/payment_proofs.ts";
import { ProviderAnnouncer } from "./announcer.ts";
import type { SkillSandbox } from "./sandbox/skill_sandbox.ts";
import type { DockerEngineInfo } from "./docker/docker_engine.ts";
import { pruneBlobCache } from "./jobs/blob_inputs.ts";
import { blobCacheDirOf } from "./jobs/job_run.ts";
import { type EventDelivery, openEventDelivery } from "./jobs/event_delivery.ts";
import { TownDebtGuard } from "./payments/town_debt.ts";
import { lateJobStore } from "./late_job_store.ts";
import { recoverJobs } from "./jobs/job_recovery.ts";
import { PROVIDER_STATUS_TOUCH_MS, ProviderStatusKeeper } from "./provider_status.ts";
import { newProviderCounters, type ProviderCounters } from "./provider_counters.ts";
import type { ProviderNodeOptions } from "./provider_options.ts";
import { BackgroundWork } from "./background_work.ts";
import { ProviderSkills } from "./skills/provider_skills.ts";
import { openProviderTowns } from "./provider_towns.ts";
import {
  openProviderChannel,
  payoutClaimHandler,
  payoutReceiverOf,
  reportChannelChange,
} from "./payments/provider_channels.ts";
import { JobPublisher } from "./jobs/job_publisher.ts";
import { JobRunner } from "./jobs/job_runner.ts";
import { JobLifecycle } from "./jobs/job_lifecycle.ts";
import { RequestAdmission } from "./jobs/provider_admission.ts";
import { ProviderIntake } from "./jobs/provider_intake.ts";

export type { ProviderNodeOptions, ProviderTown } from "./provider_options.ts";
export type { ProviderCounters } from "./provider_counters.ts";

/** A running provider. */
export interface ProviderNode {
  pubkey: string;
  ilpAddress: string;
  counters: ProviderCounters;
  store: ProviderJobStore;
  /** How skills run: the sandbox's mode, why, its limits, and the sandboxes kept prepared. */
  sandbox: Pick<SkillSandbox, "mode" | "modeReason" | "setup" | "limits" | "preparedNow">;
  /** The Docker engine docker-build skills run on, or why there is none. */
  docker: DockerEngineInfo | { unavailable: string };
  /** What the heartbeat and announcements cost per day (base units), at their last price. */
  readonly periodicCostPerDay: bigint;
  /** How the feed's stages run now ("workers": each in its worker); undefined between feeds. */
  readonly feedMode: EventFeed["mode"] | undefined;
  /** The feed's stages and what each may do, in a line; undefined between feeds. */
  readonly feedDescription: string | undefined;
  /** Requests parked until their requester has room here (paid an invoice, a job ended). */
  readonly parked: number;
  inFlight(): number;
  /** Stores a signed event on the provider's towns (a paid write): what it publishes on asking. */
  writeToTowns(event: NostrEvent): Promise<string[]>;
  /** Resolves when no job is running or queued to run. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** The node could not start (BTP, SPSP, state dir, sandbox). */
export class ProviderStartError extends RoleError {
  override name = "ProviderStartError";
}

/**
 * Starts a provider.
 *
 * The module's example (roles/provider/mod.ts) starts one beside a town in-process; a paid job
 * through one: no example that runs here: tests/e2e/provider_node_test.ts.
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

/**
 * The node: its parts made and wired here (each in its module, named for what it does), started
 * in order, stopped in reverse.
 */
class Provider implements ProviderNode {
  pubkey: string;
  ilpAddress = "";
  counters: ProviderCounters = newProviderCounters();
  store!: ProviderJobStore;
  readonly #o: ProviderNodeOptions;
  readonly #signer: NodeSigner;
  readonly #log: (line: string) => void;
  readonly #work: BackgroundWork;
  readonly #status: ProviderStatusKeeper;
  readonly #skills: ProviderSkills;
  readonly #runs: RunQueue;
  readonly #publisher: JobPublisher;
  readonly #lifecycle: JobLifecycle;
  readonly #admission: RequestAdmission;
  readonly #intake: ProviderIntake;
  #audit?: AuditLog;
  #payments?: PaymentLog;
  #btp?: BtpClient;
  #channel?: ChannelSender;
  #alerts?: NodeAlerts;
  #payouts?: PayoutReceiver;
  /** Every town's client (`home` is the home town's). */
  #towns?: TownClients;
  /** The more towns' own uplinks, by relay URL. */
  #uplinks = new Map<string, BtpClient>();
  #announcer?: ProviderAnnouncer;
  #delivery?: EventDelivery;
  #deliveryAbort = new AbortController();
  #blobPricePerMiB = DEFAULT_BLOB_PRICE_PER_MIB;

  constructor(options: ProviderNodeOptions) {
    const o = this.#o = options;
    const log = this.#log = o.log ?? (() => {});
    this.#signer = nodeSignerOf(o);
    this.pubkey = this.#signer.pubkey;
    const markStatus = () => this.#status.mark();
    const work = this.#work = new BackgroundWork({
      onError: (err) => {
        this.#status.status.lastError = err.message;
        log(`error: ${err.message}`);
      },
    });
    this.#status = new ProviderStatusKeeper({
      ...o,
      pubkey: this.pubkey,
      ready: () => this.store !== undefined,
      snapshot: () => ({
        inFlight: this.inFlight(),
        running: this.#runs.running,
        openInvoices: this.#lifecycle.desk?.openInvoices ?? 0,
        counters: this.counters,
        spentOnWrites: this.#towns?.spent ?? 0n,
      }),
    });
    this.#skills = new ProviderSkills({
      ...o,
      log,
      stopped: () => work.stopped,
      onChange: () => work.track(this.#onCatalogChange()),
      onProblems: (skillProblems) => this.#status.set({ skillProblems }),
    });
    this.#runs = new RunQueue({
      maxConcurrent: o.maxConcurrentRuns ?? 2,
      run: (id, signal) => runner.runPaid(id, signal),
      settled: (id, error) => {
        if (error !== undefined) log(`job ${id} failed: ${(error as Error).message}`);
        markStatus();
      },
      behind: (id) => this.#intake.fromPlainRelay(id),
    });
    const store = lateJobStore(() => this.store);
    const towns = () => this.#towns!;
    const foundOn = (id: string) => this.#intake.foundOn(id);
    const wakeParked = (requester: string) => this.#admission.wakeParked(requester);
    const blobPricePerMiB = () => this.#blobPricePerMiB;
    const common = { counters: this.counters, work, log, markStatus };
    const publisher = this.#publisher = new JobPublisher({
      ...o,
      ...common,
      store,
      towns,
      foundOn,
      signer: this.#signer,
      blobPricePerMiB,
      wakeParked,
      desk: () => this.#lifecycle?.desk,
    });
    const runner = new JobRunner({
      ...o,
      ...common,
      store,
      skills: this.#skills,
      publisher,
      signer: this.#signer,
    });
    const lifecycle = this.#lifecycle = new JobLifecycle({
      ...o,
      ...common,
      pubkey: this.pubkey,
      ilpAddress: () => this.ilpAddress,
      store,
      payments: () => this.#payments!,
      towns: () => this.#towns,
      foundOn,
      blobPricePerMiB,
      runs: this.#runs,
      publisher,
      wakeParked,
      refunds: { signer: this.#signer, send: (prepare) => this.#btp!.sendPrepare(prepare) },
    });
    const debt = new TownDebtGuard({
      stateDir: o.stateDir,
      limit: o.maxTownDebt,
      income: () => this.store.income,
      payments: () => this.#payments,
      alert: this.#raise,
    });
    const admission = this.#admission = new RequestAdmission({
      ...o,
      ...common,
      pubkey: this.pubkey,
      signer: this.#signer,
      store,
      skills: this.#skills,
      quote: (event, entry) => lifecycle.quote(event, entry),
      desk: () => lifecycle.desk,
      towns: () => this.#towns,
      foundOn,
      townDebtRefusal: () => debt.refusal(),
      publisher,
      announceBill: (billed) => lifecycle.announceBill(billed),
      runs: this.#runs,
    });
    this.#intake = new ProviderIntake({
      ...o,
      ...common,
      pubkey: this.pubkey,
      signer: this.#signer,
      skills: this.#skills,
      onRequest: (event, toon) => admission.onRequest(event, toon),
      onDeletion: (event) => admission.onDeletion(event),
      delivery: () => this.#delivery!,
      plainGate: { isOpen: (id) => store.getUnfinished(id) !== undefined },
      onFeed: (feed) => this.#status.set({ feed }),
      alert: this.#raise,
    });
  }

  /** An alert, kept in the status too. */
  #raise = (kind: AlertKind, message: string, details: Record<string, string>): void => {
    if (this.#alerts === undefined) return;
    this.#alerts.raise(kind, message, details);
    this.#status.set({ alerts: this.#alerts.snapshot() });
  };

  async start(): Promise<void> {
    const o = this.#o;
    const log = this.#log;
    await Deno.mkdir(o.stateDir, { recursive: true, mode: 0o700 });
    this.#audit = await openAuditLog({ dir: o.stateDir, windowMs: o.auditWindowMs ?? 1000 });
    this.#alerts = createNodeAlerts({ webhook: o.alertWebhook, log: (l) => log(l) });
    const onChange = (c: ChannelChange) => reportChannelChange(c, log, this.#alerts);
    const channels = { ...o, signer: this.#signer, audit: this.#audit, log, onChange };
    const sender = this.#channel = await openProviderChannel(channels, this.#raise);
    this.#payments = await openPaymentLog({ stateDir: o.stateDir, audit: this.#audit });
    this.store = await openProviderJobStore({ stateDir: o.stateDir, audit: this.#audit });
    for (const c of this.store.corrupt) log(`corrupt job record ${c.path}: ${c.reason}`);
    await this.#skills.open();
    const payouts = this.#payouts = payoutReceiverOf(channels);
    // The income rows' payments, however old (the payment log keeps 30 days).
    const rows = (condition: string) => this.store.income.standingEntries(condition);
    // Tried again while the town restarts (first_connect.ts).
    const make = () =>
      new BtpClient({
        url: o.btpUrl,
        authToken: o.btpToken,
        claims: sender?.claims,
        onPrepare: (prepare) => this.#lifecycle.onPrepare(prepare),
        // The town lost our answers in a crash: the fulfillments we hold prove those payments.
        onInDoubt: (c) =>
          Promise.resolve(fulfillmentsAmong(this.#payments?.entries() ?? [], c, rows)),
        // The town's payouts (roles/channels/payout_receiver.ts), kept before the town hears so.
        onClaim: payoutClaimHandler(payouts, log),
        onStateChange: (state) => this.#lifecycle.townConnection(state),
      });
    this.#btp = await connectFirst({ make, withinMs: o.firstConnectMs, log });
    await payouts?.watchKept();
    const { assetCode, assetScale, clientAddress } = await this.#btp.fetchIldcp();
    this.ilpAddress = clientAddress;
    await this.#lifecycle.openDesk(assetCode, assetScale, { uplink: this.#btp, store: this.store });
    await this.#skills.probeDocker();
    this.#blobPricePerMiB = o.blobPricePerMiB ??
      await fetchRelayInfo(o.relayUrl).then(townBlobPrice, () => undefined) ??
      DEFAULT_BLOB_PRICE_PER_MIB;
    await pruneBlobCache(blobCacheDirOf(o.stateDir), 24 * 3600_000);
    const towns = this.#towns = await openProviderTowns({
      ...o,
      signer: this.#signer,
      ilpAddress: this.ilpAddress,
      assetCode,
      assetScale,
      home: this.#btp,
      uplinks: this.#uplinks,
      payments: this.#payments,
      log,
      work: this.#work,
    });
    Object.assign(this.#status.status, { ilpAddress: this.ilpAddress, assetCode, assetScale });
    this.#delivery = await openEventDelivery({
      stateDir: o.stateDir,
      signer: this.#signer,
      run: (job) => this.#skills.sandbox.run(job),
      town: towns.home,
      logLine: (line) => log(line),
      signal: this.#deliveryAbort.signal,
    });
    const announcer: ProviderAnnouncer = this.#announcer = new ProviderAnnouncer({
      ...o,
      // Announcements and heartbeats go to every town of the profile and its plain relays (free).
      publish: (template) => towns.publishTo([...towns.relays, ...towns.plainRelays], template),
      spent: () => towns.spent,
      relays: towns.relays,
      ilpAddress: this.ilpAddress,
      btpEndpoint: o.btpEndpoint ?? o.btpUrl,
      assetCode,
      assetScale,
      skills: () => this.#skills.quoted(this.pubkey, (e, s) => this.#lifecycle.quote(e, s)),
      inFlight: () => this.inFlight(),
      onChange: () => this.#status.announced(announcer),
      onError: (err) => this.#work.error(err),
    });
    await announcer.start();
    this.#status.startTicking(
      Math.max(1000, o.statusTouchMs ?? PROVIDER_STATUS_TOUCH_MS),
      (flush) => this.#work.track(flush),
    );
    await recoverJobs({
      stateDir: o.stateDir,
      store: this.store,
      skillOf: (record) => this.#skills.of(record),
      enqueue: (id) => this.#runs.enqueue(id),
      publisher: this.#publisher,
      advance: (record) => this.#lifecycle.advance(record),
      log,
    });
    await this.#intake.subscribe();
    this.#work.track(this.#skills.warm());
    this.#status.set({ state: "serving" });
    await this.#status.flush();
    log(
      `provider up: ${this.ilpAddress} pubkey ${this.pubkey} skills ${this.#skills.summary()}`,
    );
    this.#skills.reportProblems();
  }

  async #onCatalogChange(): Promise<void> {
    if (this.#work.stopped || this.#lifecycle.desk === undefined) return;
    this.#work.track(this.#skills.warm());
    this.#log(`skills changed: ${this.#skills.names()}`);
    this.#skills.reportProblems();
    await this.#intake.resubscribe();
    await this.#announcer?.announce();
  }

  /** The skills' sandbox: its mode and limits, and the sandboxes it keeps prepared ahead. */
  get sandbox(): Pick<SkillSandbox, "mode" | "modeReason" | "setup" | "limits" | "preparedNow"> {
    return this.#skills.sandbox;
  }

  get docker(): DockerEngineInfo | { unavailable: string } {
    return this.#skills.docker;
  }

  get feedMode(): EventFeed["mode"] | undefined {
    return this.#intake.feedMode;
  }

  get feedDescription(): string | undefined {
    return this.#intake.feedDescription;
  }

  /** Cost per day of the heartbeat and announcements (base units), for the banner. */
  get periodicCostPerDay(): bigint {
    return this.#announcer?.costPerDay ?? 0n;
  }

  get parked(): number {
    return this.#admission.parked;
  }

  inFlight(): number {
    return this.store.unfinished().length;
  }

  writeToTowns(event: NostrEvent): Promise<string[]> {
    return this.#towns!.writeTo(this.#towns!.relays, event);
  }

  idle(): Promise<void> {
    return this.#runs.idle();
  }

  async stop(): Promise<void> {
    if (this.#work.stopped) return;
    this.#work.stop();
    // Running skills are killed; their records stay `running` and recovery decides at restart.
    const stopping = this.#runs.stop(new Error("provider stopping"));
    this.#status.stopTicking();
    this.#announcer?.stop();
    this.#work.clearTimers();
    this.#lifecycle.close();
    await this.#intake.close();
    this.#skills.closeCatalog();
    this.#deliveryAbort.abort(new Error("provider stopping"));
    await stopping;
    await this.#work.settled();
    await this.#skills.closeSandbox();
    await this.#btp?.close().catch(() => {});
    await Promise.allSettled([...this.#uplinks.values()].map((u) => u.close()));
    await this.#channel?.close().catch(() => {});
    await this.#payouts?.close().catch(() => {});
    await this.#alerts?.close().catch(() => {});
    if (this.#status.status.pid === Deno.pid && this.store !== undefined) {
      this.#status.set({ state: "stopped" });
      await this.#status.flush().catch(() => {});
    }
    await this.#payments?.flush().catch(() => {});
    await this.#audit?.close().catch(() => {}).then(() => this.store?.close()); // flags cleared
  }
}
