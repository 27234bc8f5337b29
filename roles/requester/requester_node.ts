/**
 * The requester: posts paid NIP-90 jobs through its town, follows their feedback and results,
 * pays providers' ILP invoices within the bid and the spend policy, runs each job's callback
 * skill exactly once, runs chains, times jobs out and resumes everything after a crash.
 *
 * Order of writes for one job (so a SIGKILL at any instant is recoverable):
 *
 * 1. sign the request; sidecar (`job_sidecar.ts`) then `jobs/<id>.toml` as `pending-send`;
 * 2. paid write to the town; record `sent` (a restart resends `pending-send` jobs: same event;
 *    a write that failed for a passing reason is sent again, the same event, until the job's
 *    deadline: a town that stored it the first time answers `duplicate`);
 * 3. feedback/results arrive on one subscription `{"#p": [me], since}` (one subscription for
 *    all jobs: towns cap subscriptions per connection; events are routed by their `e` tag);
 * 4. invoices are paid with the payment log's never-pay-twice protocol (`state/payment_log.ts`);
 * 5. on the result: the next chain job is created and sent first (found again by its
 *    `chain.prev` after a crash, so it is never posted twice), then the callback runs
 *    (`callback_runner.ts`, exactly once), then the job is marked terminal.
 *
 * One record write per received event: what an event tells (provider, newest `created_at`) is
 * written with that event's status change, and a `payment-required` with an invoice goes straight
 * to `paying` (still on disk before the payment log's intent and the PREPARE).
 *
 * Everything received is replayed idempotently after a restart (the subscription starts at the
 * oldest in-flight job's last seen time): statuses only move forward, invoices are checked in
 * the payment log, callbacks in their marker files.
 *
 * @module
 */
import { undoOnFailure } from "../undo_on_failure.ts";
import type { RequesterTownSettings } from "../../config/requester_settings.ts";
import { ILP_ERROR } from "../../protocol/ilp_packet.ts";
import { wrapDirectMessage } from "../../protocol/gift_wrap.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import {
  buildJobRequest,
  encryptJobParams,
  isJobResultKind,
  JOB_FEEDBACK_KIND,
  parseJobFeedback,
  parseJobResult,
} from "../../protocol/nip90_job.ts";
import { decodeEventToon, encodeEventToon } from "../../protocol/toon_codec.ts";
import type { SpendPolicy } from "../../protocol/spend_policy.ts";
import type { EventFeed, EventFeedOptions } from "../event_feed.ts";
import { openMultiTownFeed } from "../multi_town_feed.ts";
import { type AuditLog, openAuditLog } from "../../state/audit_log.ts";
import {
  type JobRepository,
  type JobSummary,
  type JobWriteOptions,
  openJobRepository,
} from "../../state/job_repository.ts";
import {
  IN_FLIGHT_JOB_STATUSES,
  type JobStatus,
  type RequesterJobRecord,
  TERMINAL_JOB_STATUSES,
} from "../../state/job_record.ts";
import { openPaymentLog, type PaymentLog } from "../../state/payment_log.ts";
import { townWriteEntry } from "../../state/town_write_entry.ts";
import { CallbackInDoubtError, CallbackRunner } from "./callback_runner.ts";
import { JobPayer } from "./job_payer.ts";
import { type JobSidecar, readJobSidecar, writeJobSidecar } from "./job_sidecar.ts";
import type { JobSlots } from "./job_slots.ts";
import { isBusyFeedback } from "../../protocol/busy_feedback.ts";
import type { JobSpec } from "./job_spec.ts";
import { type NodeKeyOptions, nodeSignerOf } from "../../identity/local_node_signer.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import type { TownLink } from "./town_link.ts";
import { isTransientWriteError } from "../town_client/town_rejection.ts";
import { sleep } from "../../protocol/backoff.ts";
import { nextRetryWait, REQUEST_WRITE_RETRY } from "../town_client/town_retry.ts";
import { buildRelayList } from "../../protocol/nip65_relay_list.ts";
import { connectTownLinks, type TownLinks } from "./town_links.ts";
import { JobNotPostedError, TOWN_DOWN_GRACE_MS, waitForTown } from "./town_down.ts";
import { fetchResultBlob } from "./result_content.ts";
import { publishBlob } from "../blob_publisher.ts";
import { blobInputTags, type JobBlobInput } from "../../protocol/job_blobs.ts";
import type { IlpReply } from "../../protocol/ilp_packet.ts";
import type { TransferProgress } from "../../transport/blossom_client.ts";
import { type AlertKind, createNodeAlerts, type NodeAlerts } from "../node_alerts.ts";

/** Options for {@linkcode startRequester}. */
export interface RequesterOptions extends RequesterTownSettings, NodeKeyOptions {
  priceCeiling?: bigint;
  spendPolicy?: SpendPolicy;
  /** Where callback skills live. Default `<state dir>/skills`. */
  skillsDir?: string;
  /** Progress lines (job id, status, detail). */
  onProgress?: (progress: JobProgress) => void;
  /** Warnings (price ceiling...). */
  warn?: (line: string) => void;
  /** Resume in-flight jobs on start (default true; read-only commands pass false). */
  resume?: boolean;
  /** fsync state (default true; false only in benchmarks). */
  durable?: boolean;
  /** Audit group commit window (ms). Default 200. */
  auditWindowMs?: number;
  /** How the feed's stages run: "workers" (default) or "inline" (benchmarks comparing). */
  feedMode?: EventFeedOptions["mode"];
  /** Called once `close()` is done (the CLI closes its signer there). */
  onClosed?: () => void;
  /**
   * The jobs this node (or every requester sharing it: a host) follows at once; past it `submit`
   * refuses at once with `RequesterBusyError` (roles/requester/job_slots.ts). Default: no bound.
   */
  jobSlots?: JobSlots;
}

/** A progress line. */
export interface JobProgress {
  jobId: string;
  status: JobStatus | "feedback" | "result";
  detail?: string;
}

/** The requester refused something about a job (unknown job, terminal job...). */
export class RequesterJobError extends Error {
  override name = "RequesterJobError";
}

/**
 * A job that has ended (or whose cancel another command is sending) cannot be cancelled again:
 * nothing is sent and nothing paid (docs/AGENTS.md "Cancelling a job").
 */
export class JobEndedError extends RequesterJobError {
  override name = "JobEndedError";
  /** The job's status on record (its end: `cancelled`, `done`...). */
  readonly status: string;
  /** Says the job and how it ended. */
  constructor(id: string, status: string) {
    super(`job ${id} is already ${status}: no deletion sent, nothing paid`);
    this.status = status;
  }
}

const RESUME_OVERLAP_S = 5;
/** How often the files of waited jobs are checked for an end written by another process. */
const JOB_FILE_POLL_MS = 1000;

/**
 * Starts a requester: opens the state, connects to the town, resumes in-flight jobs.
 *
 * @example
 * ```ts
 * import { startRequester } from "./requester_node.ts";
 * import type { JobSpec } from "./job_spec.ts";
 * import type { NodeSigner } from "../../protocol/node_signer.ts";
 *
 * declare const signer: NodeSigner;
 * declare const townPubkey: string;
 * const req = await startRequester({
 *   stateDir: await Deno.makeTempDir(),
 *   signer,
 *   relayUrl: "ws://127.0.0.1:7777",
 *   btpUrl: "btp+ws://127.0.0.1:7768",
 *   btpToken: "alice-token",
 *   townPubkey,
 * });
 * const spec: JobSpec = {
 *   kind: 5601,
 *   inputs: [{ data: "hi", type: "text" }],
 *   params: [],
 *   providers: [],
 *   skill: "none",
 *   timeoutMs: 30_000,
 *   encrypt: false,
 *   then: [],
 * };
 * const job = await req.submit(spec);
 * const done = await req.waitFor(job.id);
 * console.log(done.status);
 * await req.close();
 * ```
 */
export async function startRequester(options: RequesterOptions): Promise<Requester> {
  const req = new Requester(options);
  await undoOnFailure(() => req.open(), () => req.close());
  return req;
}

/** A running requester; see the module doc. */
export class Requester {
  readonly pubkey: string;
  readonly stateDir: string;
  repo!: JobRepository;
  payments!: PaymentLog;
  /** Requests' paid writes sent again after a passing failure (see the module doc), so far. */
  sendRetries = 0;
  #o: RequesterOptions;
  #audit?: AuditLog;
  #link?: TownLink;
  /** Every town of the profile (#link is the home town's); docs/ARCHITECTURE.md, "Several towns". */
  #links?: TownLinks;
  #alerts?: NodeAlerts;
  #callbacks: CallbackRunner;
  #payer: JobPayer;
  #sidecars = new Map<string, JobSidecar>();
  /** Ids being created by a `submit` (see there). */
  #claimed = new Set<string>();
  /** The cancels being sent, per job: a second one waits for the first and sends nothing. */
  #cancels = new Map<string, Promise<RequesterJobRecord>>();
  #active = new Set<string>();
  /** When this node last wrote each followed job's record (the file poll skips those). */
  #wroteAtMs = new Map<string, number>();
  #nextOf = new Map<string, string>();
  #queues = new Map<string, Promise<unknown>>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #waiters = new Map<string, PromiseWithResolvers<RequesterJobRecord>[]>();
  #seen = new Map<string, { provider: string; lastSeenCreatedAt: number }>();
  #feed?: Promise<EventFeed>;
  /** Resolved once the jobs on record are followed (or the node closes): events wait for it. */
  #following = Promise.withResolvers<void>();
  readonly #signer: NodeSigner;
  #closed = false;
  /** Aborted by close: cuts a request's retry wait short. */
  #closing = new AbortController();
  #watchTimer?: ReturnType<typeof setInterval>;

  constructor(options: RequesterOptions) {
    this.#o = options;
    this.stateDir = options.stateDir.replace(/\/+$/, "");
    this.#signer = nodeSignerOf(options);
    this.pubkey = this.#signer.pubkey;
    this.#callbacks = new CallbackRunner({
      stateDir: this.stateDir,
      skillsDir: options.skillsDir ?? `${this.stateDir}/skills`,
    });
    this.#payer = new JobPayer({
      payments: () => this.payments,
      sendPayment: (prepare) => this.#links!.sendPayment(prepare),
      read: (id) => this.repo.read(id),
      jobs: {
        advance: (id, status, o) => this.#advance(id, status, o),
        update: (id, change, o) => this.#update(id, change, o),
        finish: (id, status, detail) => this.#finish(id, status, detail),
        progress: (id, status, detail) => this.#progress(id, status, detail),
      },
      spendPolicy: options.spendPolicy,
      asset: options.asset,
      closed: () => this.#closed,
      closing: this.#closing.signal,
    });
  }

  /** Opens state, connects, resumes; called by {@linkcode startRequester}. */
  async open(): Promise<void> {
    await Deno.mkdir(this.stateDir, { recursive: true });
    // callbacks/ (the exactly-once marker files) is in STATE_DIR_IGNORE (state/audit_log.ts).
    this.#audit = await openAuditLog({ dir: this.stateDir, windowMs: this.#o.auditWindowMs });
    const durable = this.#o.durable ?? true;
    this.repo = await openJobRepository({ stateDir: this.stateDir, audit: this.#audit, durable });
    this.payments = await openPaymentLog({ stateDir: this.stateDir, audit: this.#audit });
    this.#alerts = createNodeAlerts({
      webhook: this.#o.alertWebhook,
      node: this.pubkey,
      log: this.#o.warn,
    });
    const alerts = this.#alerts;
    // The feed's workers start while the town link connects (their start-up is most of the
    // feed's cost, docs/ARCHITECTURE.md "Pipelines and their permissions"); events wait until
    // the jobs are followed.
    const feed = this.#subscribe(
      this.#o.resume === false ? [] : this.repo.listInFlight(),
      this.#following.promise,
    );
    feed.catch(() => {}); // awaited below, or closed with the node
    // Where a channel's files live and how it is watched, named or opened automatically.
    const channelHome = {
      stateDir: this.stateDir,
      audit: this.#audit,
      prepay: this.#o.channelPrepay,
      chains: this.#o.chains,
      watchIntervalMs: this.#o.channelWatchIntervalMs,
    };
    this.#links = await connectTownLinks({
      warn: this.#o.warn,
      more: this.#o.moreTowns,
      home: {
        btpUrl: this.#o.btpUrl,
        btpToken: this.#o.btpToken,
        relayUrl: this.#o.relayUrl,
        townPubkey: this.#o.townPubkey,
        townAddress: this.#o.townAddress,
        pricePerByte: this.#o.pricePerByte,
        priceCeiling: this.#o.priceCeiling,
        acceptPrice: this.#o.acceptPrice,
        signer: this.#signer,
        warn: this.#o.warn,
        alert: (kind, message, details) => alerts.raise(kind, message, details),
        recordWrite: ({ event, amount, townAddress }) =>
          this.payments.append(townWriteEntry({
            direction: "out",
            kind: "write",
            event,
            amount,
            asset: this.#link?.assetCode || "unknown",
            scale: this.#link?.assetScale,
            peer: townAddress,
          })),
        channel: this.#o.channel === undefined
          ? undefined
          : { id: this.#o.channel, ...channelHome },
        autoChannel: this.#o.channelPolicy?.auto
          ? {
            policy: this.#o.channelPolicy,
            channels: this.#o.channels,
            info: this.#o.warn,
            ...channelHome,
          }
          : undefined,
      },
    });
    this.#link = this.#links.home;
    await this.#publishRelayList();
    const inFlight = this.#o.resume === false ? [] : await this.#loadInFlight();
    await feed;
    for (const record of inFlight) this.#resume(record);
    this.#following.resolve();
  }

  /**
   * On several towns: the NIP-65 relay list (kind 10002) naming them, written on each once per
   * list (`relay_list.json` in the state dir remembers the last one published; each write is
   * paid). A town refusing it only warns: jobs do not depend on it.
   */
  async #publishRelayList(): Promise<void> {
    const relays = this.#links!.relays;
    if (relays.length < 2) return;
    const marker = `${this.stateDir}/relay_list.json`;
    const last = await Deno.readTextFile(marker).catch(() => "");
    if (last === JSON.stringify(relays)) return;
    try {
      const event = await this.#signer.signEvent(buildRelayList({
        relays: relays.map((url) => ({ url })),
        createdAt: Math.floor(Date.now() / 1000),
      }));
      await this.#links!.writeAll(event);
      await Deno.writeTextFile(marker, JSON.stringify(relays));
    } catch (err) {
      this.#o.warn?.(`relay list (kind 10002) not published: ${(err as Error).message}`);
    }
  }

  /** The town link (price, address). */
  get town(): TownLink {
    return this.#link!;
  }

  /**
   * The job before `id` in its chain (`--then`), if any.
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * declare const id: string; // a job of a chain (`then`)
   * const prev = requester.previousInChain(id); // the job whose result it takes as input
   * ```
   */
  previousInChain(id: string): string | undefined {
    return this.#sidecars.get(id)?.prev;
  }

  /**
   * Raises an alert through the node's alert channels (stderr, `node status`, the webhook).
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * requester.raiseAlert("price-above-ceiling", "the town's price is above 5", { price: "10" });
   * ```
   */
  raiseAlert(kind: AlertKind, message: string, details?: Record<string, string>): void {
    this.#alerts?.raise(kind, message, details);
  }

  /**
   * Whether a town of the profile can be written to now: a link's connection is open (a town
   * stopped or restarting has none).
   */
  get townReachable(): boolean {
    return this.#links?.all.some((l) => l.btp.state === "open") ?? false;
  }

  /** Ids of the jobs being followed. */
  get activeJobs(): number {
    return this.#active.size;
  }

  /**
   * Posts a job: persisted before anything is sent, then paid for at the town.
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * const record = await requester.submit({
   *   kind: 5601,
   *   inputs: [{ data: "hi", type: "text" }],
   *   params: [],
   *   providers: [],
   *   skill: "none",
   *   timeoutMs: 30_000,
   *   encrypt: false,
   *   then: [],
   * });
   * ```
   * @throws {TownRejectedError} when the town refuses the paid write (the job is `error`).
   */
  async submit(
    spec: JobSpec,
    options: {
      prev?: string;
      onCreated?: (id: string) => void;
      /** The blob payments made for its inputs (`publishBlob`'s `invoices`). */
      uploadInvoices?: string[];
    } = {},
  ): Promise<RequesterJobRecord> {
    // A host at its bound refuses before anything is signed, written or paid.
    this.#o.jobSlots?.check();
    let event = await this.#sign(spec, 0);
    // Identical requests signed in the same second have the same id: move created_at on. An id
    // is claimed before the first await after its check, so concurrent submits never share one.
    for (let bump = 1;; bump++) {
      if (!this.#active.has(event.id) && !this.#claimed.has(event.id)) {
        this.#claimed.add(event.id);
        if (!(await this.repo.read(event.id))) break;
        this.#claimed.delete(event.id);
      }
      if (bump > 60) throw new RequesterJobError("too many identical jobs in one minute");
      event = await this.#sign(spec, bump);
    }
    try {
      this.#o.jobSlots?.admit(event.id);
      options.onCreated?.(event.id);
      return await this.#create(event, spec, options);
    } finally {
      this.#claimed.delete(event.id);
      // Not followed (refused, or failed before it was): its slot is free.
      if (!this.#active.has(event.id)) this.#o.jobSlots?.release(event.id);
    }
  }

  /** `submit` once its id is claimed: sidecar, record, the paid write. */
  async #create(
    event: NostrEvent,
    spec: JobSpec,
    options: { prev?: string; uploadInvoices?: string[] },
  ): Promise<RequesterJobRecord> {
    const now = Date.now();
    const sidecar: JobSidecar = {
      requestToon: encodeEventToon(event),
      spec,
      deadlineMs: now + spec.timeoutMs,
      prev: options.prev,
    };
    await writeJobSidecar(this.stateDir, event.id, sidecar, { durable: this.#o.durable });
    this.#sidecars.set(event.id, sidecar);
    const record: RequesterJobRecord = {
      id: event.id,
      kind: spec.kind,
      skill: spec.skill,
      status: "pending-send",
      createdAtMs: now,
      updatedAtMs: now,
      bid: spec.bid,
      asset: this.#o.asset,
      provider: spec.providers.length === 1 ? spec.providers[0] : undefined,
      payments: [],
      ...(options.uploadInvoices?.length ? { uploadInvoices: options.uploadInvoices } : {}),
      chain: options.prev || spec.then.length > 0
        ? {
          prev: options.prev,
          next: spec.then.length > 0 ? `kind ${spec.then[0].kind}` : undefined,
        }
        : undefined,
    };
    await this.repo.create(record, { action: "submit", paths: [`requester/${event.id}.json`] });
    this.#wroteAtMs.set(event.id, Date.now());
    if (options.prev) this.#nextOf.set(options.prev, event.id);
    this.#track(record, sidecar);
    return await this.#send(event.id, event);
  }

  /**
   * Publishes a file as a blob on every town of the profile at once (paid at each, recorded in
   * the payment log as `blob:<sha256>` with that town as the peer), for a job input: put the
   * returned input in `JobSpec.blobs`. Its URL is on the home town when that one took it; a
   * provider that cannot fetch it there finds it on the other towns of the request's `relays`
   * tag (docs/PROTOCOL.md "Blobs in jobs"). Resolves once at least one town stored it.
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   * import type { JobSpec } from "./job_spec.ts";
   *
   * declare const requester: Requester;
   * declare const spec: JobSpec;
   * const input = await requester.publishBlob("context.tar.gz");
   * await requester.submit({ ...spec, blobs: [input] });
   * ```
   * @throws {BlobPublishError} when the town refuses it (every town, with several).
   */
  async publishBlob(
    path: string,
    onProgress?: TransferProgress,
  ): Promise<JobBlobInput & { size: number; paid: bigint; towns: string[]; invoices: string[] }> {
    const links = this.#links?.all ?? [this.#link!];
    const relays = this.#links?.relays ?? [this.#o.relayUrl];
    const outcomes = await Promise.allSettled(
      links.map((link, i) => this.#publishBlobAt(link, path, i === 0 ? onProgress : undefined)),
    );
    const stored = outcomes.flatMap((o, i) => o.status === "fulfilled" ? [{ ...o.value, i }] : []);
    if (stored.length === 0) throw (outcomes[0] as PromiseRejectedResult).reason;
    outcomes.forEach((o, i) => {
      if (o.status === "rejected") {
        this.#o.warn?.(`blob not stored on ${relays[i]}: ${(o.reason as Error).message}`);
      }
    });
    const { descriptor } = stored[0];
    return {
      url: descriptor.url,
      sha256: descriptor.sha256,
      size: descriptor.size,
      paid: stored.reduce((sum, s) => sum + s.paid, 0n),
      towns: stored.map((s) => relays[s.i]),
      // The payments on the log this upload made: the job's costs count them (`uploadInvoices`).
      invoices: stored.flatMap((s) => s.invoice === undefined ? [] : [s.invoice]),
    };
  }

  /**
   * Publishes a blob on one town, its payment on the log with that town as the peer; `invoice`
   * names that payment when it was made (a blob stored already costs nothing).
   */
  async #publishBlobAt(link: TownLink, path: string, onProgress?: TransferProgress) {
    let invoice: string | undefined;
    const pay = async (auth: NostrEvent, amount: bigint): Promise<IlpReply> => {
      const sha256 = auth.tags.find((t) => t[0] === "x")?.[1] ?? "unknown";
      // One invoice per upload and town: the same blob paid again (at another town, or once a
      // town dropped it) is another payment, counted by the job that made it.
      const upload = `blob-${sha256}-${auth.id.slice(0, 16)}`;
      const entry = {
        direction: "out" as const,
        jobId: `blob:${sha256}`,
        invoiceId: link === this.#link ? upload : `${upload}-${link.townAddress}`,
        amount: String(amount),
        asset: link.assetCode || "unknown",
        scale: link.assetScale,
        peer: link.townAddress,
        category: "town-blob" as const,
      };
      await this.payments.append({ ...entry, ts: new Date().toISOString(), event: "intent" });
      const reply = await link.sendPaid(auth, amount).catch((err): IlpReply => ({
        type: "reject",
        code: ILP_ERROR.internalError,
        triggeredBy: "",
        message: (err as Error).message,
        data: new Uint8Array(),
      }));
      if (reply.type === "fulfill") invoice = entry.invoiceId;
      await this.payments.append(
        reply.type === "fulfill"
          ? {
            ...entry,
            ts: new Date().toISOString(),
            event: "fulfilled",
            fulfillment: bytesToHex(reply.fulfillment),
          }
          : { ...entry, ts: new Date().toISOString(), event: "rejected", reason: reply.message },
      );
      return reply;
    };
    const published = await publishBlob({
      path,
      server: link.blobServer,
      pricePerMiB: link.blobPricePerMiB,
      signer: this.#signer,
      pay,
      onProgress,
    });
    return { ...published, invoice };
  }

  /**
   * Sends a private message (NIP-17, sealed and gift-wrapped to `recipient`) as a paid write;
   * returns the wrap's id. Only the recipient can read it or tell who sent it.
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * declare const providerPubkey: string;
   * const id = await requester.sendDirectMessage({ recipient: providerPubkey, text: "hi" });
   * ```
   * @throws {TownRejectedError} when the town refuses the paid write.
   */
  async sendDirectMessage(
    o: { recipient: string; text: string; replyTo?: string },
  ): Promise<string> {
    const wrap = await wrapDirectMessage({ signer: this.#signer, ...o });
    await this.#links!.writeAll(wrap);
    return wrap.id;
  }

  /**
   * Resolves when the job reaches a terminal status.
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * declare const id: string;
   * const final = await requester.waitFor(id);
   * console.log(final.status); // a terminal status
   * ```
   */
  async waitFor(id: string): Promise<RequesterJobRecord> {
    // A job this node follows has not ended here (its end and the waiters' release are one
    // step, #settle), and an end by another process is the poll's to see: no read.
    const followed = this.#active.has(id);
    if (!followed) {
      const record = await this.repo.read(id);
      if (!record) throw new RequesterJobError(`no job ${id}`);
      if (TERMINAL_JOB_STATUSES.includes(record.status)) return record;
    }
    const waiter = Promise.withResolvers<RequesterJobRecord>();
    this.#waiters.set(id, [...(this.#waiters.get(id) ?? []), waiter]);
    this.#watchJobFiles();
    if (!followed) {
      // Ended between the read above and the watch: seen by this second read.
      const again = await this.repo.read(id);
      if (again && TERMINAL_JOB_STATUSES.includes(again.status)) this.#settle(id, again);
    }
    return await waiter.promise;
  }

  /**
   * Follows a chain from its first job to its last; resolves with the last job's record
   * (a failure anywhere stops the chain: that job's status is the chain's).
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * declare const firstId: string;
   * const links = await requester.waitForChain(firstId);
   * const last = links.at(-1);
   * ```
   */
  async waitForChain(id: string): Promise<RequesterJobRecord[]> {
    const links: RequesterJobRecord[] = [];
    let current: string | undefined = id;
    while (current) {
      const done = await this.waitFor(current);
      links.push(done);
      if (done.status !== "done") break;
      current = this.#nextOf.get(current);
    }
    return links;
  }

  /**
   * Cancels a job: a kind 5 deletion of the request (the provider is told; a paid write, its fee
   * on the job's costs), no more payments, the callback told `cancelled`. Sent once: a cancel of
   * a job that has ended, or while another cancel of it is on its way, sends nothing and fails
   * {@linkcode JobEndedError} (docs/AGENTS.md "Cancelling a job").
   *
   * @example
   * ```ts
   * import type { Requester } from "./requester_node.ts";
   *
   * declare const requester: Requester;
   * declare const id: string;
   * await requester.cancel(id, { onDeletion: (eventId) => console.log("kind 5", eventId) });
   * ```
   * @throws {RequesterJobError} for an unknown job; {@linkcode JobEndedError} for an ended one.
   */
  cancel(
    id: string,
    options: { onDeletion?: (eventId: string) => void } = {},
  ): Promise<RequesterJobRecord> {
    const running = this.#cancels.get(id);
    if (running !== undefined) {
      // The first cancel's outcome decides: ended, this one sends nothing; failed, it tries.
      return running.then(
        (ended) => Promise.reject(new JobEndedError(id, ended.status)),
        () => this.cancel(id, options),
      );
    }
    const cancelling = this.#cancelOnce(id, options);
    this.#cancels.set(id, cancelling);
    cancelling.finally(() => this.#cancels.delete(id)).catch(() => {});
    return cancelling;
  }

  async #cancelOnce(
    id: string,
    options: { onDeletion?: (eventId: string) => void },
  ): Promise<RequesterJobRecord> {
    const record = await this.repo.read(id);
    if (!record) throw new RequesterJobError(`no job ${id}`);
    if (TERMINAL_JOB_STATUSES.includes(record.status)) throw new JobEndedError(id, record.status);
    const deletion = await this.#signer.signEvent({
      kind: 5,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["e", id], ["k", String(record.kind)]],
      content: "cancelled by the requester",
    });
    await this.#links!.writeAll(deletion);
    options.onDeletion?.(deletion.id);
    return await this.#enqueue(id, () => this.#finish(id, "cancelled", { error: "cancelled" }));
  }

  /** Stops following, flushes the audit log, closes the town link and the index. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    clearInterval(this.#watchTimer);
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    // The feed may still be opening (a start that failed): closed once it is open. An event
    // waiting for the jobs to be followed is let go (and dropped: the node is closed).
    this.#following.resolve();
    await this.#feed?.then((feed) => feed.close()).catch(() => {});
    await Promise.allSettled([...this.#queues.values()]);
    await this.#links?.close().catch(() => {});
    await this.#alerts?.close().catch(() => {});
    await this.payments?.flush().catch(() => {});
    await this.#audit?.close().catch(() => {});
    this.repo?.close();
    this.#o.onClosed?.();
  }

  async #sign(spec: JobSpec, bumpSeconds: number): Promise<NostrEvent> {
    const encrypted = spec.encrypt
      ? await encryptJobParams(
        { inputs: spec.inputs, params: spec.params },
        this.#signer,
        spec.providers[0],
      )
      : undefined;
    const template = buildJobRequest({
      kind: spec.kind,
      inputs: encrypted ? undefined : spec.inputs,
      params: encrypted ? undefined : spec.params,
      output: spec.output,
      bid: spec.bid,
      relays: this.#links?.relays ?? [this.#o.relayUrl],
      providers: spec.providers,
      encryptedContent: encrypted,
      createdAt: Math.floor(Date.now() / 1000) + bumpSeconds,
      // Blob inputs stay public even in an encrypted job: the provider must fetch them before
      // it can decrypt anything, and Blossom serves them to anyone with the hash anyway.
      extraTags: (spec.blobs ?? []).flatMap(blobInputTags),
    });
    return await this.#signer.signEvent(template);
  }

  /**
   * The request's paid write, sent again (the same event: the same id) while it fails for a
   * passing reason ({@linkcode isTransientWriteError}) and the job is followed, until its
   * deadline; then `sent`. A final failure marks the job `error`; a close leaves it
   * `pending-send` for the next start.
   */
  async #send(id: string, event: NostrEvent): Promise<RequesterJobRecord> {
    const deadlineMs = this.#sidecars.get(id)?.deadlineMs ?? 0;
    for (let attempt = 0;; attempt++) {
      // Not sent over a link that is down, nor retried to the deadline: town_down.ts.
      if (
        !(await waitForTown(() => this.townReachable, TOWN_DOWN_GRACE_MS, this.#closing.signal))
      ) {
        const err = new JobNotPostedError(id, `BTP ${this.#o.btpUrl}`);
        if (this.#closed) throw err;
        await this.#enqueue(id, () => this.#finish(id, "error", { error: err.message }));
        throw err;
      }
      try {
        await this.#links!.writeAll(event);
        break;
      } catch (err) {
        if (this.#closed) throw err;
        const wait = isTransientWriteError(err) && this.#active.has(id)
          ? nextRetryWait(REQUEST_WRITE_RETRY, attempt, { until: deadlineMs })
          : undefined;
        if (wait === undefined) {
          await this.#enqueue(
            id,
            () => this.#finish(id, "error", { error: (err as Error).message }),
          );
          throw err;
        }
        this.sendRetries++;
        this.#o.warn?.(
          `job ${id.slice(0, 12)}: request not stored (${(err as Error).message}); ` +
            `sent again in ${wait} ms`,
        );
        await sleep(wait, this.#closing.signal);
        if (this.#closed) throw err;
      }
    }
    return await this.#enqueue(id, () => this.#advance(id, "sent"));
  }

  /** In-flight jobs from the index plus their sidecars (the records are read lazily). */
  async #loadInFlight(): Promise<JobSummary[]> {
    const summaries = this.repo.listInFlight();
    const found: JobSummary[] = [];
    // Parallel batches: at 10k jobs one-by-one reads dominate the restart time.
    for (let i = 0; i < summaries.length; i += 512) {
      const batch = summaries.slice(i, i + 512);
      const sidecars = await Promise.all(
        batch.map((s) => readJobSidecar(this.stateDir, s.id).catch(() => undefined)),
      );
      batch.forEach((summary, k) => {
        const sidecar = sidecars[k];
        if (!sidecar) return; // unreadable: left for `job status` to show, not followed
        this.#sidecars.set(summary.id, sidecar);
        if (sidecar.prev) this.#nextOf.set(sidecar.prev, summary.id);
        found.push(summary);
      });
    }
    return found;
  }

  #resume(record: JobSummary): void {
    const sidecar = this.#sidecars.get(record.id)!;
    this.#track(record, sidecar);
    if (record.status === "pending-send") {
      const event = decodeEventToon(sidecar.requestToon, { verify: false });
      this.#send(record.id, event).catch(() => {});
    }
  }

  #track(record: { id: string }, sidecar: JobSidecar): void {
    this.#active.add(record.id);
    this.#o.jobSlots?.take(record.id);
    const delay = Math.max(0, sidecar.deadlineMs - Date.now());
    this.#timers.set(
      record.id,
      setTimeout(() => {
        this.#timers.delete(record.id);
        this.#enqueue(
          record.id,
          () => this.#finish(record.id, "timed-out", { error: "no result before the timeout" }),
        )
          .catch(() => {});
      }, delay),
    );
  }

  /** The feed of feedback and results addressed to us (docs/ARCHITECTURE.md, "Pipelines and their permissions"). */
  #subscribe(inFlight: JobSummary[], following: Promise<void>): Promise<EventFeed> {
    let since = Math.floor(Date.now() / 1000);
    for (const r of inFlight) {
      since = Math.min(since, r.lastSeenCreatedAt ?? Math.floor(r.createdAtMs / 1000));
    }
    this.#feed = openMultiTownFeed({
      relays: [this.#o.relayUrl, ...(this.#o.moreTowns ?? []).map((t) => t.relayUrl)],
      filters: [{ "#p": [this.pubkey], since: since - RESUME_OVERLAP_S }],
      initialBackoffMs: 200,
      maxBackoffMs: 5_000,
      mode: this.#o.feedMode,
      onEvent: async (summary) => {
        await following;
        // Once closing, nothing new is acted on: the next start resumes from the records.
        if (!this.#closed) this.#onToon(summary.toon);
      },
      onLog: (e, relay) => {
        if (e.type !== "disconnected") return;
        this.#alerts?.raise("relay-disconnected", `relay ${relay} disconnected`, {
          code: String(e.code),
          reason: e.reason,
        });
      },
      onFailure: (f) => this.#o.warn?.(`feed: ${f.stage}: ${f.message}`),
    });
    return this.#feed;
  }

  #onToon(toon: string): void {
    let event: NostrEvent;
    try {
      event = decodeEventToon(toon);
    } catch {
      return; // not a valid signed event: nothing to act on
    }
    const isResult = isJobResultKind(event.kind);
    if (!isResult && event.kind !== JOB_FEEDBACK_KIND) return;
    const jobId = event.tags.find((t) => t[0] === "e" && /^[0-9a-f]{64}$/.test(t[1] ?? ""))?.[1];
    if (!jobId || !this.#active.has(jobId)) return;
    this.#enqueue(jobId, () => this.#onJobEvent(jobId, event, toon)).catch((err) =>
      this.#o.warn?.(`job ${jobId.slice(0, 12)}: ${(err as Error).message}`)
    );
  }

  async #onJobEvent(
    id: string,
    event: NostrEvent,
    toon: string,
  ): Promise<RequesterJobRecord | void> {
    if (!this.#active.has(id)) return;
    let record = await this.repo.read(id);
    const sidecar = this.#sidecars.get(id);
    if (record && TERMINAL_JOB_STATUSES.includes(record.status)) return this.#settle(id, record);
    if (!record || !sidecar) return;
    const targets = sidecar.spec.providers;
    if (targets.length > 0 && !targets.includes(event.pubkey)) return;
    if (record.provider && record.provider !== event.pubkey) return;
    if (!record.provider || (record.lastSeenCreatedAt ?? 0) < event.created_at) {
      // Written with this event's own status write (one record write per event, not two), or
      // on its own below when the event changes nothing else. Events of one job are handled one
      // at a time (#enqueue), so no other handler sees the record in between.
      const seen = {
        provider: event.pubkey,
        lastSeenCreatedAt: Math.max(record.lastSeenCreatedAt ?? 0, event.created_at),
      };
      this.#seen.set(id, seen);
      record = { ...record, ...seen };
    }
    try {
      return await this.#handleJobEvent(id, event, toon, record);
    } finally {
      if (this.#seen.has(id)) {
        if (this.#active.has(id)) await this.#update(id, (r) => r);
        else this.#seen.delete(id);
      }
    }
  }

  async #handleJobEvent(
    id: string,
    event: NostrEvent,
    toon: string,
    record: RequesterJobRecord,
  ): Promise<RequesterJobRecord | void> {
    if (event.kind === JOB_FEEDBACK_KIND) {
      const feedback = parseJobFeedback(event);
      this.#progress(
        id,
        "feedback",
        `${feedback.status}${feedback.extraInfo ? `: ${feedback.extraInfo}` : ""}`,
      );
      if (feedback.status === "processing" || feedback.status === "partial") {
        return await this.#advance(id, "processing", { current: record });
      }
      if (feedback.status === "error") {
        // `busy` before anything was paid: a temporary refusal (protocol/busy_feedback.ts), said
        // so in the reason, which keeps its `busy:` prefix for the caller that sends it again.
        const busy = isBusyFeedback(feedback) &&
          record.payments.every((p) => p.status === "rejected");
        return await this.#finish(id, "error", {
          error: busy
            ? `${feedback.extraInfo}: nothing was paid; send the job again later or elsewhere`
            : `provider error: ${feedback.extraInfo ?? ""}`,
        }, record);
      }
      if (feedback.status === "payment-required") {
        const invoice = feedback.amount?.paymentRequest;
        // With an invoice the record goes straight to `paying` (one write before the PREPARE);
        // `#pay` writes `payment-required` itself when it does not pay now.
        if (invoice) {
          await this.#payer.pay(id, invoice, event.pubkey, { fromFeedback: true, current: record });
        } else await this.#advance(id, "payment-required", { current: record });
      }
      return;
    }
    if (event.kind !== record.kind + 1000) return;
    const result = parseJobResult(event);
    const blob = await fetchResultBlob(this.stateDir, id, event);
    this.#progress(
      id,
      "result",
      blob === "none"
        ? `${result.content.length} chars from ${event.pubkey.slice(0, 12)}`
        : `result blob ${blob} from ${event.pubkey.slice(0, 12)}`,
    );
    const invoice = result.amount?.paymentRequest;
    if (invoice) {
      const paid = await this.#payer.pay(id, invoice, event.pubkey, { current: record });
      if (!paid) return;
    }
    // Without a payment here nothing wrote the record since #onJobEvent read it.
    return await this.#finish(
      id,
      "done",
      { toon, resultId: event.id },
      invoice ? undefined : record,
    );
  }

  /**
   * Moves a job forward (never backwards, never out of a terminal status). `current`: the
   * record as the caller just read it in this job's queue (saves a read; docs/SCALE.md).
   */
  async #advance(
    id: string,
    status: JobStatus,
    options: { quiet?: boolean; current?: RequesterJobRecord } = {},
  ): Promise<RequesterJobRecord> {
    const current = options.current ?? (await this.repo.read(id))!;
    const from = IN_FLIGHT_JOB_STATUSES.indexOf(current.status);
    const to = IN_FLIGHT_JOB_STATUSES.indexOf(status);
    if (from < 0 || to <= from) return current;
    if (!options.quiet) this.#progress(id, status);
    return await this.#update(id, (r) => ({ ...r, status }), { action: status });
  }

  /** `repo.update` that also writes what #onJobEvent saw of the job (provider, newest event). */
  #update(
    id: string,
    change: (current: RequesterJobRecord) => RequesterJobRecord,
    options?: JobWriteOptions,
  ): Promise<RequesterJobRecord> {
    const seen = this.#seen.get(id);
    this.#seen.delete(id);
    if (this.#active.has(id)) this.#wroteAtMs.set(id, Date.now());
    return this.repo.update(id, (r) =>
      change(
        seen === undefined ? r : {
          ...r,
          provider: seen.provider,
          lastSeenCreatedAt: Math.max(r.lastSeenCreatedAt ?? 0, seen.lastSeenCreatedAt),
        },
      ), options);
  }

  async #finish(
    id: string,
    status: JobStatus,
    detail: { toon?: string; resultId?: string; error?: string },
    known?: RequesterJobRecord,
  ): Promise<RequesterJobRecord> {
    const current = known ?? (await this.repo.read(id))!;
    // Ended here before, or by another process (a `job cancel` in another shell): stop
    // following it and tell whoever waits.
    if (TERMINAL_JOB_STATUSES.includes(current.status)) return this.#settle(id, current);
    const sidecar = this.#sidecars.get(id);
    if (status === "done" && sidecar && sidecar.spec.then.length > 0 && !this.#nextOf.has(id)) {
      const [next, ...rest] = sidecar.spec.then;
      const input = { data: detail.resultId!, type: "job" as const };
      // A failed send of the next link marks it `error`; the chain stops there.
      await this.submit({ ...next, inputs: [input, ...next.inputs], then: rest }, { prev: id })
        .catch(() => {});
    }
    let error = detail.error;
    try {
      await this.#callbacks.run({ jobId: id, skill: current.skill, status, toon: detail.toon });
    } catch (err) {
      error = `${error ? `${error}; ` : ""}callback: ${(err as Error).message}`;
      if (err instanceof CallbackInDoubtError) status = "error";
    }
    const final = await this.#update(id, (r) => ({ ...r, status, error }), { action: status });
    this.#progress(id, status, error);
    return this.#settle(id, final);
  }

  /** Stops following a job that ended and resolves its waiters. */
  #settle(id: string, final: RequesterJobRecord): RequesterJobRecord {
    const wasActive = this.#active.delete(id);
    this.#o.jobSlots?.release(id);
    this.#wroteAtMs.delete(id);
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    const waiters = this.#waiters.get(id) ?? [];
    if (wasActive && waiters.length > 0 && final.status === "cancelled") {
      this.#progress(id, final.status, final.error ?? "cancelled elsewhere");
    }
    for (const w of waiters) w.resolve(final);
    this.#waiters.delete(id);
    return final;
  }

  /**
   * Checks the files of the jobs someone waits for, so a job ended by another process (`job
   * cancel` in another shell) ends the wait within a poll instead of at the timeout. A poll
   * (one `stat` per waited job, a read only when the file changed: a new inode, each write
   * being a rename, or a new mtime) rather than a file watch: a watch wakes on every write of
   * every job, and its cost per write grew with the watchers in the process (docs/SCALE.md).
   */
  #watchJobFiles(): void {
    if (this.#watchTimer !== undefined || this.#closed) return;
    const versions = new Map<string, string>();
    let busy = false;
    this.#watchTimer = setInterval(async () => {
      if (busy) return;
      if (this.#waiters.size === 0) {
        clearInterval(this.#watchTimer);
        this.#watchTimer = undefined;
        return;
      }
      busy = true;
      for (const id of [...this.#waiters.keys()]) {
        const stat = await Deno.stat(`${this.repo.jobsDir}/${id}.toml`).catch(() => undefined);
        const version = `${stat?.ino}:${stat?.mtime?.getTime()}:${stat?.size}`;
        if (versions.get(id) === version) continue;
        // Changed, and this node wrote it within the last poll: most likely its own write, read
        // on a later poll once the job is quiet (or not at all, when it ends here first). A
        // write by another process then is seen at most a poll or two later.
        if (Date.now() - (this.#wroteAtMs.get(id) ?? 0) < JOB_FILE_POLL_MS) continue;
        versions.set(id, version);
        this.#enqueue(id, async () => {
          const record = await this.repo.read(id).catch(() => undefined);
          if (record && TERMINAL_JOB_STATUSES.includes(record.status)) {
            this.#settle(id, record);
          }
        }).catch(() => {});
      }
      for (const id of versions.keys()) if (!this.#waiters.has(id)) versions.delete(id);
      busy = false;
    }, JOB_FILE_POLL_MS);
  }

  #enqueue<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.#queues.set(id, next);
    next.finally(() => {
      if (this.#queues.get(id) === next) this.#queues.delete(id);
    }).catch(() => {});
    return next;
  }

  #progress(jobId: string, status: JobProgress["status"], detail?: string): void {
    this.#o.onProgress?.({ jobId, status, detail });
  }
}
