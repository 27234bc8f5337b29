/**
 * Which payment channel pays for which BTP account of a town, while it runs: the claim gate,
 * co-sign desk and chain watch of every channel the town holds (configured, restored from its
 * channel files, or learned), and the account's current one.
 *
 * Each account's paid packets go to the gate of the channel their claim names, a channel the
 * town does not gate yet learned from the claim first (learned_channel_routing.ts).
 *
 * An older channel of the account stays watched (its close is answered, it is settled) and its
 * gate answers claims naming it (refusing them once it is not open).
 *
 * Co-sign requests (cooperative close, withdraw, last claim: channel_cosign_desk.ts) go to the
 * desk of the channel they name when it pays for the account, else to the account's current
 * channel's desk (which refuses another channel). On a town on several processes (shared books)
 * a process may never have taken a claim on the channel a request names: the other processes
 * took them all. It then answers from the shared books (shared_book_cosign.ts): a last claim as
 * they hold it, a settle or withdraw signed by the channel's payer after learning the channel from
 * their newest claim, verified on chain as a claim on BTP is (docs/OPERATIONS.md "A town on
 * several machines"). A channel with no claim in the books, or a town without shared books,
 * answers `unknown-channel` as before. Such a process also watches the books' channels it holds
 * no gate for ({@linkcode TownChannelRegistry.adoptFromBooks}), so their closes on chain are
 * answered whichever process is up.
 *
 * @module
 */
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import { ClaimError } from "../../../protocol/payment_channel_claim.ts";
import {
  ChannelCosignError,
  type CosignAnswer,
  type CosignRequest,
  refusalOf,
} from "../../../protocol/payment_channel_cosign.ts";
import {
  checkSignedByPayer,
  claimOfBook,
  cosignErrorOf,
  lastClaimOfBook,
} from "./shared_book_cosign.ts";
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import type { OnChainChannel } from "../../../chain/token_network_client.ts";
import { type ChannelChain, withBookClaim } from "../../channels/channel_chain_sync.ts";
import type { ChannelChange, ChannelWatcher } from "../../channels/channel_watcher.ts";
import {
  type BtpClaimGate,
  type ChannelClaimGate,
  openChannelClaimGate,
} from "../../channels/btp_claim_gate.ts";
import {
  answerCosignBytes,
  type ChannelCosignDesk,
  createChannelCosignDesk,
} from "./channel_cosign_desk.ts";
import type { ChannelDiscovery, DiscoveryChainClient } from "./channel_discovery.ts";
import type { ChannelBook } from "../../../state/channels/channel_book.ts";
import { LearnedChannelRouting } from "./learned_channel_routing.ts";

/** The chain calls of a gated channel: `TokenNetworkClient` fits. */
export type GateChainClient = ChannelChain & {
  getChannel(channelId: `0x${string}`): Promise<OnChainChannel>;
  chainTime(): Promise<bigint>;
};

/** Options for {@linkcode TownChannelRegistry}. */
export interface TownChannelRegistryOptions<C extends DiscoveryChainClient & GateChainClient> {
  stateDir: string;
  audit: AuditLog;
  /** The town's key (co-signatures). */
  signer: NodeSigner;
  triggeredBy: () => string;
  /** Polls every gated channel; the registry adds each one. */
  watcher: ChannelWatcher;
  /** Learns channels named by claims; absent: claims on unknown channels are refused. */
  discovery?: ChannelDiscovery<C>;
  /** Credit an account may run beyond its claims (configured peers). Default 0. */
  creditLimit?: (account: string) => bigint | undefined;
  onReject?: (account: string, err: ClaimError) => void;
  /** The claim books of the town's shared store (roles/channels/btp_claim_gate.ts). */
  sharedBooks?: ChannelBook;
  /** Told once a learned channel is saved and gated (`replaced`: the account's previous one). */
  onLearned?: (account: string, record: ChannelRecord, replaced?: ChannelRecord) => void;
}

/** One channel the town holds a gate for. */
export interface GatedChannel {
  account: string;
  gate: ChannelClaimGate;
  desk: ChannelCosignDesk;
  creditLimit: bigint;
  /** Learned from a claim (now or before a restart), rather than configured. */
  learned: boolean;
}

/**
 * The town's channels by account.
 *
 * It reads the chain: no example that runs here: tests/interop/anvil_channel_discovery_test.ts.
 */
export class TownChannelRegistry<C extends DiscoveryChainClient & GateChainClient> {
  readonly #o: TownChannelRegistryOptions<C>;
  readonly #byChannel = new Map<string, GatedChannel>();
  readonly #current = new Map<string, GatedChannel>();
  readonly #routing: LearnedChannelRouting<C>;
  readonly #desks = new Map<string, ChannelCosignDesk>();
  /** Channels of the shared books watched here without a gate of an account's (see adopt). */
  readonly #adopted = new Set<string>();

  constructor(options: TownChannelRegistryOptions<C>) {
    this.#o = options;
    this.#routing = new LearnedChannelRouting({
      ...options,
      channels: {
        byChannel: (id) => this.#byChannel.get(id),
        current: (account) => this.#current.get(account),
        addLearned: (account, record, client) =>
          this.add(account, record, client, { learned: true }),
      },
    });
  }

  /**
   * Gates a channel for an account and watches it; it becomes the account's current channel
   * unless `current` is false.
   */
  add(
    account: string,
    record: ChannelRecord,
    client: GateChainClient,
    options: { current?: boolean; learned?: boolean } = {},
  ): GatedChannel {
    const creditLimit = this.#o.creditLimit?.(account) ?? 0n;
    const gate = openChannelClaimGate({
      stateDir: this.#o.stateDir,
      record,
      audit: this.#o.audit,
      readChannel: (id) => client.getChannel(id),
      creditLimit,
      triggeredBy: this.#o.triggeredBy,
      onReject: this.#o.onReject && ((err) => this.#o.onReject!(account, err)),
      sharedBooks: this.#o.sharedBooks,
    });
    // On shared books another process may hold a newer claim than this one's gate: the desk
    // checks and marks the shared book, locked, so the decision holds town-wide.
    const desk = createChannelCosignDesk({
      gate,
      signer: this.#o.signer,
      readChannel: (id) => client.getChannel(id),
      chainTime: () => client.chainTime(),
      sharedBooks: this.#o.sharedBooks,
    });
    const gated: GatedChannel = {
      account,
      gate,
      desk,
      creditLimit,
      learned: options.learned ?? record.btpAccount !== undefined,
    };
    this.#byChannel.set(record.channelId.toLowerCase(), gated);
    if (options.current !== false) this.#current.set(account, gated);
    const books = this.#o.sharedBooks;
    this.#o.watcher.add({
      record: gate.record,
      update: gate.update,
      chain: client,
      // On shared books another process may hold a newer claim than this one's file: a close
      // by the peer is answered with the newest of the books.
      ...(books &&
        {
          newest: async () =>
            withBookClaim(gate.record(), await books.read(gate.record().channelId)),
        }),
    });
    return gated;
  }

  /** The account's current channel. */
  current(account: string): GatedChannel | undefined {
    return this.#current.get(account);
  }

  /** Every account's current channel. */
  currents(): GatedChannel[] {
    return [...this.#current.values()];
  }

  /** The account a channel pays for, when the town holds a gate for it. */
  accountOf(channelId: string): string | undefined {
    return this.#byChannel.get(channelId.toLowerCase())?.account;
  }

  /** Told by the watcher: the account of a changed channel. */
  accountOfChange(change: ChannelChange): string {
    return this.accountOf(change.record.channelId) ?? "";
  }

  /** The claim gate of an account, for `startTownNode({ claimGate })` (learned_channel_routing.ts). */
  claimGate(account: string): BtpClaimGate {
    return this.#routing.claimGate(account);
  }

  /**
   * The co-sign desk of an account, for `startTownNode({ cosignDesk })`: each request answered by
   * the desk of the channel it names, or from the shared books when this process holds no gate
   * for it (see the module doc).
   */
  cosignDesk(account: string): ChannelCosignDesk {
    let desk = this.#desks.get(account);
    if (!desk) {
      const decide = async (request: CosignRequest): Promise<CosignAnswer> => {
        let routed: GatedChannel | CosignAnswer;
        try {
          routed = await this.#cosignChannel(account, request);
        } catch (err) {
          if (err instanceof ChannelCosignError) return refusalOf(request.channelId, err);
          throw err;
        }
        return "desk" in routed ? await routed.desk.decide(request) : routed;
      };
      desk = { decide, answer: answerCosignBytes(decide) };
      this.#desks.set(account, desk);
    }
    return desk;
  }

  /**
   * Watches every channel the shared books hold a claim on that this process holds no gate for
   * (another process of the town learned it): a close on chain is then answered here too, with
   * the books' newest claim, and the channel settled, whichever process is up. Such a channel
   * takes no packet or co-sign here until its account's claim or signed request comes (it is then
   * learned as any channel is, and that gate's watch answers). Resolves with how many it adopted.
   */
  async adoptFromBooks(): Promise<number> {
    const books = this.#o.sharedBooks;
    const discovery = this.#o.discovery;
    if (books === undefined || discovery === undefined) return 0;
    let adopted = 0;
    for (const book of await books.list()) {
      const id = book.channelId.toLowerCase() as `0x${string}`;
      if (this.#byChannel.has(id) || this.#adopted.has(id)) continue;
      if (book.nonce === 0n || book.signature === undefined) continue;
      const found = await discovery.adopt({ ...book, channelId: id, signature: book.signature });
      this.#adopted.add(id);
      if (found === undefined) continue;
      const gate = openChannelClaimGate({
        stateDir: this.#o.stateDir,
        record: found.record,
        audit: this.#o.audit,
        readChannel: (cid) => found.client.getChannel(cid),
        triggeredBy: this.#o.triggeredBy,
        sharedBooks: books,
      });
      this.#o.watcher.add({
        record: gate.record,
        update: gate.update,
        chain: found.client,
        // Once an account's gate holds the channel here, its own watch answers: this one rests.
        newest: async () =>
          this.#byChannel.has(id)
            ? { ...gate.record(), status: "settled" }
            : withBookClaim(gate.record(), await books.read(id)),
      });
      adopted++;
    }
    return adopted;
  }

  /** Waits for every gate's pending channel file writes. */
  async durable(): Promise<void> {
    for (const g of this.#byChannel.values()) await g.gate.writer.durable().catch(() => {});
  }

  /**
   * The channel whose desk answers a co-sign request of the account: the one it names when it is
   * the account's; else, on shared books, that channel as the books hold it (a process that never
   * took a claim on it): a settle or a withdraw signed by the channel's payer learns it for the
   * account, a last claim is answered from the books without binding the channel to the account
   * (it proves nothing of the payer's); else the account's current one.
   */
  async #cosignChannel(
    account: string,
    request: CosignRequest,
  ): Promise<GatedChannel | CosignAnswer> {
    const id = request.channelId.toLowerCase() as `0x${string}`;
    const bound = this.#byChannel.get(id);
    if (bound?.account === account) return bound;
    const current = this.#current.get(account);
    const books = this.#o.sharedBooks;
    const token = this.#o.discovery?.tokenOn(request.chainId, request.tokenNetworkAddress);
    if (bound === undefined && books !== undefined && token !== undefined) {
      const book = await books.read(id).catch((err) => {
        throw new ChannelCosignError(
          "internal-error",
          `the town's shared channel books are unreachable: ${err}`,
        );
      });
      if (book !== undefined && book.nonce > 0n && book.signature !== undefined) {
        const claim = claimOfBook(request, { ...book, signature: book.signature }, token);
        if (request.type === "last-claim") return lastClaimOfBook(request, book);
        await checkSignedByPayer(request, claim);
        try {
          return await this.#routing.learn(account, claim);
        } catch (err) {
          if (!(err instanceof ClaimError)) throw err;
          throw cosignErrorOf(err);
        }
      }
    }
    if (current) return current;
    throw new ChannelCosignError(
      "unknown-channel",
      `account ${account} settles over no payment channel here`,
    );
  }
}
