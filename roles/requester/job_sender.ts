/**
 * The requester's sender: everything it writes to its towns. A job's request is signed, its
 * sidecar (`job_sidecar.ts`) then its record (`pending-send`) written, then it is a paid write
 * to every town of the profile, sent again (the same event) while it fails for a passing reason
 * until the job's deadline, and the job `sent`; a restart sends `pending-send` jobs again. Also
 * the blobs of a job's inputs (paid at each town), private messages (NIP-17), the NIP-65 relay
 * list of a profile on several towns, and a job's cancel (a kind 5 deletion, sent once).
 *
 * @module
 */
import { postToPlainRelays, requestRelays } from "./plain_relay_posts.ts";
import { bytesToHex } from "@noble/hashes/utils.js";
import { wrapDirectMessage } from "../../protocol/gift_wrap.ts";
import { ILP_ERROR, type IlpReply } from "../../protocol/ilp_packet.ts";
import { buildJobRequest, encryptJobParams } from "../../protocol/nip90_job.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { decodeEventToon, encodeEventToon } from "../../protocol/toon_codec.ts";
import { buildRelayList } from "../../protocol/nip65_relay_list.ts";
import { blobInputTags, type JobBlobInput } from "../../protocol/job_blobs.ts";
import { sleep } from "../../protocol/backoff.ts";
import type { TransferProgress } from "../../transport/blossom_client.ts";
import type { JobRepository, JobSummary } from "../../state/jobs/job_repository.ts";
import { type RequesterJobRecord, TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import type { PaymentLog } from "../../state/payments/payment_log.ts";
import { townWriteEntry } from "../../state/payments/town_write_entry.ts";
import { publishBlob } from "../blob_publisher.ts";
import { isTransientWriteError } from "../town_client/town_rejection.ts";
import { nextRetryWait, REQUEST_WRITE_RETRY } from "../town_client/town_retry.ts";
import type { JobFollower } from "./job_follower.ts";
import { formatJobSidecar, type JobSidecar } from "./job_sidecar.ts";
import type { JobSlots } from "./job_slots.ts";
import type { JobSpec } from "./job_spec.ts";
import { JobEndedError, RequesterJobError } from "./requester_job_error.ts";
import { JobNotPostedError, TOWN_DOWN_GRACE_MS, waitForTown } from "./town_down.ts";
import type { TownLink } from "./town_link.ts";
import type { TownLinks } from "./town_links.ts";
import type { JobFeedOptions } from "./job_feed.ts";
import { WorkerDesk } from "./worker_desk.ts";

/** Options for {@linkcode JobSender}. */
export interface JobSenderOptions {
  /** The node's key: requests, deletions, blob authorizations and messages are signed with it. */
  signer: NodeSigner;
  /** The profile's state dir (the sidecars, the relay list's marker). */
  stateDir: string;
  /** fsync the sidecars (default true). */
  durable?: boolean;
  /** The asset a job's bid is in (on its record). */
  asset?: string;
  /** The home town's relay URL (a request's `relays` tag while no town is linked). */
  relayUrl: string;
  /** The home town's BTP URL (named when it cannot be reached). */
  btpUrl: string;
  /** The links to the towns (connected with the node: read when something is written). */
  links: () => TownLinks | undefined;
  /** Whether a town of the profile can be written to now. */
  townReachable: () => boolean;
  /** The job records (opened with the node). */
  repo: () => Pick<JobRepository, "read" | "create">;
  /** The payment log (a blob's payments). */
  payments: () => Pick<PaymentLog, "append">;
  /** The jobs followed: a job sent is followed, its status moved on or ended there. */
  jobs: Pick<
    JobFollower,
    | "isFollowed"
    | "sidecarOf"
    | "keepSidecar"
    | "chain"
    | "wrote"
    | "track"
    | "enqueue"
    | "endAfterQueued"
    | "beginEnd"
    | "advance"
    | "finish"
  >;
  /** The slots of the jobs followed at once, when bounded. */
  jobSlots?: Pick<JobSlots, "check" | "admit" | "take" | "release">;
  /** A request's paid write is sent again after a passing failure. */
  onRetry: () => void;
  /** Warnings (a request sent again, a blob not stored on a town...). */
  warn?: (line: string) => void;
  /** Whether the node is closing. */
  closed: () => boolean;
  /** Aborted by the node's close: cuts a wait short. */
  closing: AbortSignal;
  /** The profile's job feed's options once open: a Gas Town worker's feed copies them. */
  feed?: () => JobFeedOptions | undefined;
}

/** Options of {@linkcode JobSender.submit}. */
export interface SubmitOptions {
  /** The job before it in its chain. */
  prev?: string;
  /** Told the job's id once it is claimed (before anything is written). */
  onCreated?: (id: string) => void;
  /** The blob payments made for its inputs (`publishBlob`'s `invoices`). */
  uploadInvoices?: string[];
}

/**
 * Writes a requester's jobs and messages to its towns; see the module doc.
 *
 * It posts over a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
 */
export class JobSender {
  #o: JobSenderOptions;
  /** Ids being created by a `submit` (see there). */
  #claimed = new Set<string>();
  /** The cancels being sent, per job: a second one waits for the first and sends nothing. */
  #cancels = new Map<string, Promise<RequesterJobRecord>>();

  /** The Gas Town workers' keys, kind 0s and feeds (a job's `spec.worker`). */
  #workers: WorkerDesk;

  constructor(options: JobSenderOptions) {
    this.#o = options;
    this.#workers = new WorkerDesk({
      signer: options.signer,
      stateDir: options.stateDir,
      town: options.relayUrl,
      write: (event) => options.links()!.writeAll(event),
      prices: () => options.links()?.all.map((l) => l.pricePerByte) ?? [],
      feed: () => options.feed?.(),
    });
  }

  /** Posts a job: persisted before anything is sent, then paid for at the town. */
  async submit(spec: JobSpec, options: SubmitOptions = {}): Promise<RequesterJobRecord> {
    // A host at its bound refuses before anything is signed, written or paid; a chain's next
    // link continues a job accepted before and takes its slot whatever the bound (as a resumed one).
    if (!options.prev) this.#o.jobSlots?.check();
    // A worker's job: signed by its key, once its kind 0 is out and its feed open.
    const signer = spec.worker ? await this.#workers.prepare(spec.worker) : this.#o.signer;
    let event = await this.#sign(spec, 0, signer);
    // Identical requests signed in the same second have the same id: move created_at on. An id
    // is claimed before the first await after its check, so concurrent submits never share one.
    for (let bump = 1;; bump++) {
      if (!this.#o.jobs.isFollowed(event.id) && !this.#claimed.has(event.id)) {
        this.#claimed.add(event.id);
        if (!(await this.#o.repo().read(event.id))) break;
        this.#claimed.delete(event.id);
      }
      if (bump > 60) throw new RequesterJobError("too many identical jobs in one minute");
      event = await this.#sign(spec, bump, signer);
    }
    try {
      if (options.prev) this.#o.jobSlots?.take(event.id);
      else this.#o.jobSlots?.admit(event.id);
      options.onCreated?.(event.id);
      return await this.#create(event, spec, options);
    } finally {
      this.#claimed.delete(event.id);
      // Not followed (refused, or failed before it was): its slot is free.
      if (!this.#o.jobs.isFollowed(event.id)) this.#o.jobSlots?.release(event.id);
    }
  }

  /** A job on record followed again after a start; one not sent yet is sent (the same event). */
  resume(record: JobSummary): void {
    const sidecar = this.#o.jobs.sidecarOf(record.id)!;
    this.#o.jobs.track(record, sidecar);
    const worker = sidecar.spec.worker;
    if (worker) {
      this.#workers.signerOf(worker).then((s) => this.#workers.follow(s)).catch((err) =>
        this.#o.warn?.(`worker ${worker.address}: its feed did not open: ${err.message}`)
      );
    }
    if (record.status === "pending-send") {
      const event = decodeEventToon(sidecar.requestToon, { verify: false });
      this.#send(record.id, event).catch(() => {});
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
    this.#o.jobs.keepSidecar(event.id, sidecar);
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
      ...(spec.bead === undefined ? {} : { bead: spec.bead }),
      chain: options.prev || spec.then.length > 0
        ? {
          prev: options.prev,
          next: spec.then.length > 0 ? `kind ${spec.then[0].kind}` : undefined,
        }
        : undefined,
    };
    // The sidecar in the record's own commit: the job never exists without it.
    await this.#o.repo().create(record, { action: "submit", sidecar: formatJobSidecar(sidecar) });
    this.#o.jobs.wrote(event.id);
    if (options.prev) this.#o.jobs.chain(options.prev, event.id);
    this.#o.jobs.track(record, sidecar);
    return await this.#send(event.id, event);
  }

  async #sign(spec: JobSpec, bumpSeconds: number, signer: NodeSigner): Promise<NostrEvent> {
    const encrypted = spec.encrypt
      ? await encryptJobParams(
        { inputs: spec.inputs, params: spec.params },
        signer,
        spec.providers[0],
      )
      : undefined;
    const template = buildJobRequest({
      kind: spec.kind,
      inputs: encrypted ? undefined : spec.inputs,
      params: encrypted ? undefined : spec.params,
      output: spec.output,
      bid: spec.bid,
      relays: requestRelays(this.#o.links(), this.#o.relayUrl, spec.encrypt),
      providers: spec.providers,
      encryptedContent: encrypted,
      createdAt: Math.floor(Date.now() / 1000) + bumpSeconds,
      // Blob inputs stay public even in an encrypted job: the provider must fetch them before
      // it can decrypt anything, and Blossom serves them to anyone with the hash anyway.
      extraTags: [
        ...(spec.blobs ?? []).flatMap(blobInputTags),
        // Its timeout, NIP-40: a provider does not take it when too little of it is left, and
        // the towns drop it after (protocol/deposit_deadline.ts).
        // Rounded up: never before the job's deadline (a second's rounding down would expire a
        // sub-second job before the town stored it).
        ["expiration", String(Math.ceil((Date.now() + spec.timeoutMs) / 1000))],
      ],
    });
    return await signer.signEvent(template);
  }

  /**
   * The request's paid write, sent again (the same event: the same id) while it fails for a
   * passing reason ({@linkcode isTransientWriteError}) and the job is followed, until its
   * deadline; then `sent`. A final failure marks the job `error`; a close leaves it
   * `pending-send` for the next start.
   */
  async #send(id: string, event: NostrEvent): Promise<RequesterJobRecord> {
    const jobs = this.#o.jobs;
    const deadlineMs = jobs.sidecarOf(id)?.deadlineMs ?? 0;
    for (let attempt = 0;; attempt++) {
      // Not sent over a link that is down, nor retried to the deadline: town_down.ts.
      if (!(await waitForTown(this.#o.townReachable, TOWN_DOWN_GRACE_MS, this.#o.closing))) {
        const err = new JobNotPostedError(id, `BTP ${this.#o.btpUrl}`);
        if (this.#o.closed()) throw err;
        await jobs.enqueue(id, () => jobs.finish(id, "error", { error: err.message }));
        throw err;
      }
      try {
        await this.#o.links()!.writeAll(event);
        postToPlainRelays(this.#o.links()!, event, this.#o.warn);
        break;
      } catch (err) {
        if (this.#o.closed()) throw err;
        const wait = isTransientWriteError(err) && jobs.isFollowed(id)
          ? nextRetryWait(REQUEST_WRITE_RETRY, attempt, { until: deadlineMs })
          : undefined;
        if (wait === undefined) {
          await jobs.enqueue(id, () => jobs.finish(id, "error", { error: (err as Error).message }));
          throw err;
        }
        this.#o.onRetry();
        this.#o.warn?.(
          `job ${id.slice(0, 12)}: request not stored (${(err as Error).message}); ` +
            `sent again in ${wait} ms`,
        );
        await sleep(wait, this.#o.closing);
        if (this.#o.closed()) throw err;
      }
    }
    return await jobs.enqueue(id, () => jobs.advance(id, "sent"));
  }

  /**
   * Publishes a file as a blob on every town of the profile at once (paid at each, recorded in
   * the payment log as `blob:<sha256>` with that town as the peer); resolves once at least one
   * town stored it (docs/PROTOCOL.md "Blobs in jobs").
   */
  async publishBlob(
    path: string,
    onProgress?: TransferProgress,
  ): Promise<JobBlobInput & { size: number; paid: bigint; towns: string[]; invoices: string[] }> {
    const links = this.#o.links()?.all ?? [this.#o.links()?.home!];
    const relays = this.#o.links()?.relays ?? [this.#o.relayUrl];
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
    const payments = this.#o.payments();
    const pay = async (auth: NostrEvent, amount: bigint): Promise<IlpReply> => {
      const sha256 = auth.tags.find((t) => t[0] === "x")?.[1] ?? "unknown";
      // One invoice per upload and town: the same blob paid again (at another town, or once a
      // town dropped it) is another payment, counted by the job that made it.
      const upload = `blob-${sha256}-${auth.id.slice(0, 16)}`;
      // The town payment's line (state/payments/town_write_entry.ts), its invoice this upload's.
      const { ts: _, event: __, ...line } = townWriteEntry({
        direction: "out",
        kind: "blob",
        event: auth,
        sha256,
        amount,
        asset: link.assetCode || "unknown",
        scale: link.assetScale,
        peer: link.townAddress,
      });
      const invoiceId = link === this.#o.links()?.home ? upload : `${upload}-${link.townAddress}`;
      const entry = { ...line, invoiceId };
      await payments.append({ ...entry, ts: new Date().toISOString(), event: "intent" });
      const reply = await link.sendPaid(auth, amount).catch((err): IlpReply => ({
        type: "reject",
        code: ILP_ERROR.internalError,
        triggeredBy: "",
        message: (err as Error).message,
        data: new Uint8Array(),
      }));
      if (reply.type === "fulfill") invoice = entry.invoiceId;
      await payments.append(
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
      signer: this.#o.signer,
      pay,
      onProgress,
    });
    return { ...published, invoice };
  }

  /** Sends a private message (NIP-17) as a paid write on every town; returns the wrap's id. */
  async sendDirectMessage(
    o: { recipient: string; text: string; replyTo?: string },
  ): Promise<string> {
    const wrap = await wrapDirectMessage({ signer: this.#o.signer, ...o });
    await this.#o.links()!.writeAll(wrap);
    return wrap.id;
  }

  /**
   * On several towns: the NIP-65 relay list (kind 10002) naming them, written on each once per
   * list (`relay_list.json` in the state dir remembers the last one published; each write is
   * paid). A town refusing it only warns: jobs do not depend on it.
   */
  async publishRelayList(): Promise<void> {
    const relays = this.#o.links()!.relays;
    if (relays.length < 2) return;
    const marker = `${this.#o.stateDir}/relay_list.json`;
    const last = await Deno.readTextFile(marker).catch(() => "");
    if (last === JSON.stringify(relays)) return;
    try {
      const event = await this.#o.signer.signEvent(buildRelayList({
        relays: relays.map((url) => ({ url })),
        createdAt: Math.floor(Date.now() / 1000),
      }));
      await this.#o.links()!.writeAll(event);
      await Deno.writeTextFile(marker, JSON.stringify(relays));
    } catch (err) {
      this.#o.warn?.(`relay list (kind 10002) not published: ${(err as Error).message}`);
    }
  }

  /**
   * Cancels a job: a kind 5 deletion of the request, then the job ended `cancelled`. Sent once:
   * a cancel of a job that has ended, or while another cancel of it is on its way, sends
   * nothing and fails {@linkcode JobEndedError} (docs/AGENTS.md "Cancelling a job").
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
    const record = await this.#o.repo().read(id);
    if (!record) throw new RequesterJobError(`no job ${id}`);
    if (TERMINAL_JOB_STATUSES.includes(record.status)) throw new JobEndedError(id, record.status);
    // A payment waiting in the job's queue is not sent from now (roles/requester/job_payer.ts).
    this.#o.jobs.beginEnd(id);
    // A deletion counts only from the request's author: a worker's job is cancelled by its key.
    const signer = await this.#workers.signerOf(this.#o.jobs.sidecarOf(id)?.spec.worker);
    const deletion = await signer.signEvent({
      kind: 5,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["e", id], ["k", String(record.kind)]],
      content: "cancelled by the requester",
    });
    await this.#o.links()!.writeAll(deletion);
    options.onDeletion?.(deletion.id);
    return await this.#o.jobs.endAfterQueued(id, "cancelled", "cancelled");
  }

  /** The Gas Town workers' desk (`turnpike gt`'s requests). */
  get workers(): WorkerDesk {
    return this.#workers;
  }

  /** Closes the workers' feeds (the node's close). */
  closeWorkers(): Promise<void> {
    return this.#workers.close();
  }
}
