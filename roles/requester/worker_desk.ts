/**
 * The requester's Gas Town workers (docs/PROTOCOL.md "Gas Town workers"): a job submitted for a
 * worker (`JobSpec.worker`) is signed by that worker's key, derived from the profile's in its
 * signer's worker (identity/worker_key.ts), while the profile pays its writes.
 *
 * Before a worker key's first request the desk publishes the worker's kind 0 (its address, its
 * town, its Mayor's signed binding: protocol/gt_worker_identity.ts), once per key: the keys
 * introduced are kept in `gt/introduced.json` in the profile's state dir (`gt whois <address>`
 * reads them). A provider addresses its feedback and results to the request's author, so each
 * worker key has a job feed of its own (`#p` = the worker), opened with the key's signer (which
 * opens its encrypted results and answers a town's NIP-42 challenge as the worker), for as long
 * as the node runs.
 *
 * @module
 */
import {
  workerBinding,
  workerProfile,
  workerRevocation,
} from "../../protocol/gt_worker_identity.ts";
import { currentWorkerKey, recordWorkerRotation } from "./worker_rotations.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import type { NodeSigner, WorkerKeyRef } from "../../protocol/node_signer.ts";
import { answerTrustAction, type TrustPublishAction } from "../receipts/trust_publication.ts";
import { writeFileAtomic } from "../../state/atomic_file.ts";
import type { EventFeed } from "../event_feed.ts";
import { type JobFeedOptions, openJobFeed } from "./job_feed.ts";
import { publishBeadEvents } from "../beads/bead_publish.ts";

/** What `turnpike gt` asks of the profile's node (see {@linkcode WorkerDesk.answer}). */
export type GtNodeAction =
  /**
   * Publish the Mayor's roster: these pubkeys, in this order; `after`: the `created_at` of the
   * list they were read from (the new one is later, even within its second).
   */
  | { do: "roster"; pubkeys: string[]; after?: number }
  /** Replace `address`'s key with the next rotation's. */
  | { do: "rotate"; address: string }
  /** Publish NIP-85 assertions or rank services (roles/receipts/trust_publication.ts). */
  | TrustPublishAction
  /** Pay for and store bead events the profile signed (roles/beads/bead_publish.ts). */
  | { do: "publish"; events: NostrEvent[] };

/** A worker key introduced: what `gt/introduced.json` keeps per pubkey. */
export interface IntroducedWorker {
  address: string;
  rotation: number;
  /** The town its kind 0 names. */
  town: string;
  /** The kind 0's id. */
  profile: string;
}

/** Options for {@linkcode WorkerDesk}. */
export interface WorkerDeskOptions {
  /** The profile's key: the Mayor's, which signs the bindings and derives the workers' keys. */
  signer: NodeSigner;
  /** The profile's state dir (`gt/introduced.json`). */
  stateDir: string;
  /** The town a worker's kind 0 names: the home town's relay URL. */
  town: string;
  /** A paid write on every town of the profile. */
  write: (event: NostrEvent) => Promise<unknown>;
  /** The profile's own job feed's options, once the node is open (a worker's feed copies them). */
  feed: () => JobFeedOptions | undefined;
  /** The price per byte of each town {@linkcode write} pays (a published bead's cost). */
  prices?: () => bigint[];
}

/**
 * The path of the keys a profile introduced.
 *
 * @example
 * ```ts
 * import { introducedWorkersPath } from "./worker_desk.ts";
 *
 * import assert from "node:assert/strict";
 * assert.equal(introducedWorkersPath("/home/me/.turnpike/alice"), "/home/me/.turnpike/alice/gt/introduced.json");
 * ```
 */
export function introducedWorkersPath(stateDir: string): string {
  return `${stateDir}/gt/introduced.json`;
}

/**
 * The keys a profile introduced, by pubkey (none when the file is missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readIntroducedWorkers } from "./worker_desk.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const known = await readIntroducedWorkers(dir);
 * assert.equal(Object.keys(known).length, 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readIntroducedWorkers(
  stateDir: string,
): Promise<Record<string, IntroducedWorker>> {
  try {
    return JSON.parse(await Deno.readTextFile(introducedWorkersPath(stateDir)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw err;
  }
}

/**
 * Signers, kind 0s and feeds of a requester's workers; see the module doc.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerDesk } from "./worker_desk.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey } from "nostr-tools/pure";
 *
 * const stateDir = await Deno.makeTempDir();
 * const desk = new WorkerDesk({
 *   signer: localNodeSigner(generateSecretKey()),
 *   stateDir,
 *   town: "ws://127.0.0.1:7100",
 *   write: async () => {},
 *   feed: () => undefined,
 * });
 * const polecat = await desk.signerOf({ address: "myrig/polecats/p1", rotation: 0 });
 * assert.match(polecat.pubkey, /^[0-9a-f]{64}$/); // the worker's own key
 * await desk.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export class WorkerDesk {
  #o: WorkerDeskOptions;
  #signers = new Map<string, Promise<NodeSigner>>();
  #feeds = new Map<string, Promise<EventFeed | undefined>>();
  /** Introductions in order: one write of the file at a time. */
  #introducing: Promise<unknown> = Promise.resolve();

  constructor(options: WorkerDeskOptions) {
    this.#o = options;
  }

  /** The signer of `worker` (the profile's own when there is none). */
  signerOf(worker?: WorkerKeyRef): Promise<NodeSigner> {
    if (worker === undefined) return Promise.resolve(this.#o.signer);
    const id = `${worker.address}\n${worker.rotation}`;
    let signer = this.#signers.get(id);
    if (signer === undefined) {
      signer = this.#o.signer.worker(worker);
      this.#signers.set(id, signer);
      signer.catch(() => this.#signers.delete(id));
    }
    return signer;
  }

  /**
   * The signer of `worker`, its kind 0 published once and its feed open: what a job it posts
   * needs first.
   */
  async prepare(worker: WorkerKeyRef): Promise<NodeSigner> {
    const signer = await this.signerOf(worker);
    const introduced = this.#introducing.then(() => this.#introduce(signer, worker));
    this.#introducing = introduced.catch(() => {});
    await introduced;
    await this.follow(signer);
    return signer;
  }

  /** Opens the job feed of `signer`'s key (once). */
  async follow(signer: NodeSigner): Promise<void> {
    let feed = this.#feeds.get(signer.pubkey);
    if (feed === undefined) {
      const own = this.#o.feed();
      feed = own === undefined
        ? Promise.resolve(undefined)
        // The profile's refunds: a refund is asked from any feed, taken on the home link.
        : openJobFeed({ ...own, pubkey: signer.pubkey, signer });
      this.#feeds.set(signer.pubkey, feed);
      feed.catch(() => this.#feeds.delete(signer.pubkey));
    }
    await feed;
  }

  async #introduce(signer: NodeSigner, worker: WorkerKeyRef): Promise<void> {
    const known = await readIntroducedWorkers(this.#o.stateDir);
    if (known[signer.pubkey]?.town === this.#o.town) return;
    const town = this.#o.town;
    const binding = await this.#o.signer.signEvent(
      workerBinding({ ...worker, worker: signer.pubkey, town }),
    );
    const profile = await signer.signEvent(workerProfile(binding));
    await this.#o.write(profile);
    known[signer.pubkey] = { ...worker, town, profile: profile.id };
    await Deno.mkdir(`${this.#o.stateDir}/gt`, { recursive: true });
    await writeFileAtomic(
      introducedWorkersPath(this.#o.stateDir),
      JSON.stringify(known, null, 2) + "\n",
    );
  }

  /**
   * A Mayor's action on its workers, asked of the profile's node (`turnpike gt`): publish the
   * roster (a NIP-02 follow list, kind 3, of `pubkeys`), or rotate a worker's key (the retired
   * key revoked by the Mayor, the new one introduced, the rotation recorded), publish the
   * profile's trust assertions, or publish a sync's bead events.
   */
  async answer(action: GtNodeAction): Promise<Record<string, unknown>> {
    if (action.do === "publish") {
      const published = await publishBeadEvents({
        events: action.events,
        pubkey: this.#o.signer.pubkey,
        write: this.#o.write,
        prices: this.#o.prices?.() ?? [],
      });
      return { published };
    }
    if (action.do === "roster") {
      const roster = await this.#o.signer.signEvent({
        kind: 3,
        // Later than the list it replaces: at the same second the towns keep the lower id.
        created_at: Math.max(
          Math.floor(Date.now() / 1000),
          (Number.isSafeInteger(action.after) ? action.after! : -1) + 1,
        ),
        tags: action.pubkeys.map((p) => ["p", p]),
        content: "",
      });
      await this.#o.write(roster);
      return { roster: action.pubkeys, event: roster.id };
    }
    if (action.do === "assert" || action.do === "rank-services") {
      return await answerTrustAction(action, { signer: this.#o.signer, write: this.#o.write });
    }
    const { address } = action;
    const old = await currentWorkerKey(this.#o.stateDir, address);
    const next = { address, rotation: old.rotation + 1 };
    const [retired, replacement] = [await this.signerOf(old), await this.signerOf(next)];
    const revocation = await this.#o.signer.signEvent(workerRevocation({
      retired: retired.pubkey,
      address,
      rotation: old.rotation,
      replacedBy: replacement.pubkey,
    }));
    await this.#o.write(revocation);
    await recordWorkerRotation(this.#o.stateDir, address, next.rotation);
    await this.prepare(next);
    return {
      address,
      rotation: next.rotation,
      retired: retired.pubkey,
      current: replacement.pubkey,
      revocation: revocation.id,
    };
  }

  /** Closes the workers' feeds. */
  async close(): Promise<void> {
    const feeds = [...this.#feeds.values()];
    this.#feeds.clear();
    await Promise.all(feeds.map((f) => f.then((feed) => feed?.close()).catch(() => {})));
  }
}
