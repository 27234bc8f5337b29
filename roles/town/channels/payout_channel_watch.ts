/**
 * The town watches the payout channels it pays its peers over (docs/OPERATIONS.md "Paying
 * providers"), as a payee's node watches its own (roles/channels/channel_watcher.ts): a close by
 * the peer on chain marks the channel's file closed, so no claim is signed on it after (the
 * payout's `pay` signs only on an open channel), and once the settle timeout is over the town
 * settles it itself, so the rest of its deposit comes back even when the peer closed and never
 * settled. What the settle paid the peer (the town's newest proof on chain) is booked on the
 * ledger (`settled`). A settle someone else sent first is booked the same
 * (roles/channels/channel_settle.ts).
 *
 * @module
 */
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import type { ChannelRecord } from "../../../state/channels/channel_file.ts";
import { openSentClaimWriter } from "../../../state/channels/channel_writer.ts";
import type { PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type { ChannelChain } from "../../channels/channel_chain_sync.ts";
import {
  type ChannelChange,
  type ChannelWatcher,
  startChannelWatcher,
  type WatchedChannel,
} from "../../channels/channel_watcher.ts";

/** Options for {@linkcode PayoutChannelWatch}. */
export interface PayoutChannelWatchOptions {
  stateDir: string;
  audit?: AuditLog;
  ledger: PeerLedger;
  /** The town's chain client (its key sends the settle). */
  chain: ChannelChain;
  /** Poll period (`[channels] watch_interval`). Default the watcher's (15 s). */
  intervalMs?: number;
  log?: (line: string) => void;
}

/**
 * Watches payout channels, each through the writer of its file.
 *
 * It watches a chain: no example that runs here: tests/interop/anvil_town_payout_watch_test.ts.
 */
export class PayoutChannelWatch {
  readonly #o: PayoutChannelWatchOptions;
  readonly #watcher: ChannelWatcher;
  /** The account paid over each channel (lowercase id). */
  readonly #accounts = new Map<string, string>();
  readonly #writers: ReturnType<typeof openSentClaimWriter>[] = [];
  /** The ledger lines the changes write, in order. */
  #booking: Promise<unknown> = Promise.resolve();

  constructor(options: PayoutChannelWatchOptions) {
    this.#o = options;
    this.#watcher = startChannelWatcher({
      channels: [],
      intervalMs: options.intervalMs,
      autoSettle: true,
      onChange: (change) => {
        this.#booking = this.#booking.then(() => this.#changed(change)).catch((err) =>
          options.log?.(`payouts: channel ${change.record.channelId}: ${(err as Error).message}`)
        );
      },
      onError: (id, err) =>
        options.log?.(`payouts: channel ${id} not synced: ${err.message.split("\n")[0]}`),
    });
  }

  /** Watches a payout channel through its file's writer (the payout's own, while it pays). */
  add(account: string, channel: Pick<WatchedChannel, "record" | "update">): void {
    this.#accounts.set(channel.record().channelId.toLowerCase(), account);
    this.#watcher.add({ record: channel.record, update: channel.update, chain: this.#o.chain });
  }

  /** Watches a payout channel no payout uses any more (closed), until it is settled. */
  addClosed(account: string, record: ChannelRecord): void {
    if (record.status === "settled") return;
    const writer = openSentClaimWriter({
      stateDir: this.#o.stateDir,
      record,
      audit: this.#o.audit,
    });
    this.#writers.push(writer);
    this.add(account, writer);
  }

  /** Polls every channel now (tests, and the check at start). */
  async check(): Promise<ChannelChange[]> {
    const changes = await this.#watcher.check();
    await this.#booking;
    return changes;
  }

  /** Stops polling; waits for a poll in progress, the ledger lines and the files. */
  async stop(): Promise<void> {
    await this.#watcher.stop();
    await this.#booking;
    for (const w of this.#writers) await w.durable().catch(() => {});
  }

  async #changed(change: ChannelChange): Promise<void> {
    const { record, before } = change;
    const account = this.#accounts.get(record.channelId.toLowerCase()) ?? "?";
    const log = (line: string) =>
      this.#o.log?.(`payout ${account}: channel ${record.channelId} ${line}`);
    if (record.status === "closed" && before.status === "open") {
      log("closed on chain by the peer: no claim is signed on it now; settled after its timeout");
    }
    if (record.status !== "settled") return;
    await this.#o.ledger.settled(account, record.channelId, record.sent);
    const by = change.fields.SettleTx ?? change.fields.SettledBy ?? "the peer";
    const back = change.fields.Unclaimed
      ? `; ${change.fields.Unclaimed} of its claims came back`
      : "";
    log(`settled on chain (${by}): the peer was paid ${record.sent}${back}`);
  }
}
