/**
 * The payouts of a town of several processes on one PostgreSQL store (docs/OPERATIONS.md "Paying
 * providers"): what every process's books owe a peer, and the payer's side of the peer's one
 * payout channel, live in the database (state/postgres/postgres_payout_books.ts), so whichever process
 * is asked signs the next claim from the shared state, under the channel row's lock.
 *
 * - After a FULFILL on its books (and at start, and every interval) a process records what its
 *   books owe the peer in the database; when the town owes beyond its newest claim the
 *   policy's `threshold` (or at the interval, anything), it decides the next claim under the
 *   lock: nonce + 1, cumulative = what is owed in sum, within the deposit. The claim is in the
 *   database (committed) before it leaves; claims are cumulative, so one sent again is harmless.
 * - The claim reaches the peer through the process holding its BTP connection: the signer sends
 *   it when the peer is connected to it; the commit's `NOTIFY` tells every other process, and the
 *   one the peer is connected to reads the newest claim and sends it. A peer that connects is
 *   sent the newest claim; every interval each process sends the newest to its peers that have
 *   not had it from it (a notice lost while the database connection was down).
 * - No channel yet: the first process to pay opens it, one process at a time (an advisory lock
 *   held across the chain transactions); a channel found open on chain with no row (a process
 *   killed between the open and the row's commit) is adopted, no claim having been signed on it.
 * - Each process's `peer_ledger.jsonl` records the claims' share of its own books (`claimed`),
 *   so its `max_owed` limit and `town balances` see them.
 * - With `watchIntervalMs` every process watches the payout channels on chain
 *   (roles/town/channels/shared_payout_watch.ts): a channel the peer closed carries no claim
 *   after, is settled by one process after its timeout, and is never replaced.
 *
 * @module
 */
import { encodeClaim, type PaymentChannelClaim } from "../../../protocol/payment_channel_claim.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import type { PeerBalance } from "../../../state/payments/peer_ledger.ts";
import type {
  PayoutChannelRow,
  PostgresPayoutBooks,
} from "../../../state/postgres/postgres_payout_books.ts";
import {
  clearPayoutOpenIntent,
  readPayoutOpenIntent,
} from "../../../state/channels/payout_open_intent.ts";
import { adoptPayoutChannel } from "./payout_channel_open.ts";
import { KeyedTurns } from "../../../state/keyed_turns.ts";
import { SharedPayoutWatch } from "./shared_payout_watch.ts";
import { openTownPayoutChannel, type TownPayoutsOptions } from "./peer_payout.ts";

/** Options for {@linkcode SharedTownPayouts}: a one-process town's, and the shared store's. */
export interface SharedTownPayoutsOptions extends TownPayoutsOptions {
  /** The town's payout books in the shared store. */
  books: PostgresPayoutBooks;
  /** This process's books' key in the shared store (roles/town/shared_books_id.ts). */
  booksId: string;
  /** The peer is connected to this process. */
  connectedHere: (account: string) => boolean;
}

/**
 * A town process's payouts on a shared store; the same hooks as `TownPayouts`.
 *
 * It needs PostgreSQL, a chain and connected peers: no example that runs here:
 * tests/e2e/town_shared_payouts_test.ts.
 */
export class SharedTownPayouts {
  readonly #o: SharedTownPayoutsOptions;
  /** Per peer, this process's payout steps one after another. */
  readonly #steps = new KeyedTurns();
  /** Per peer, the nonce this process last delivered. */
  readonly #delivered = new Map<string, bigint>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #watchTimer: ReturnType<typeof setInterval> | undefined;
  readonly #watch: SharedPayoutWatch | undefined;
  /** Peers whose channel is closed or settled, said once. */
  readonly #notReplaced = new Set<string>();
  #closed = false;

  private constructor(options: SharedTownPayoutsOptions) {
    this.#o = options;
    this.#watch = options.watchIntervalMs === undefined ? undefined : new SharedPayoutWatch({
      ...options,
      chain: options.client,
    });
  }

  /** Polls the payout channels on chain now (tests); nothing without `watchIntervalMs`. */
  async checkChannels(): Promise<void> {
    await this.#watch?.check();
  }

  /**
   * Starts: listens for the other processes' claims; records what this process's books owe
   * every paid peer (a process restarted after a kill brings the database up to its books) and
   * pays what is owed beyond the newest claim, as at every interval.
   */
  static async start(options: SharedTownPayoutsOptions): Promise<SharedTownPayouts> {
    const p = new SharedTownPayouts(options);
    await options.books.listen((account) => p.#claimedElsewhere(account));
    // In the background: a first payout may open channels (chain transactions).
    void p.#sweep();
    p.#timer = setInterval(() => void p.#sweep(), options.policy.intervalMs);
    Deno.unrefTimer(p.#timer);
    if (p.#watch) {
      // At start too: a close (or a settle) while the town was down.
      const watch = p.#watch;
      void watch.check();
      p.#watchTimer = setInterval(() => void watch.check(), options.watchIntervalMs);
      Deno.unrefTimer(p.#watchTimer);
    }
    return p;
  }

  /** After a FULFILL on this process's books: records them and pays when a payout is due. */
  owed(balance: PeerBalance): void {
    if (this.#o.peerAddress(balance.account) === undefined) return;
    void this.#step(balance.account, async () => {
      const s = await this.#o.books.publish(balance.account, this.#o.booksId, balance.owed);
      if (s.owed - s.transferred >= this.#o.policy.threshold) {
        await this.#pay(balance.account, this.#o.policy.threshold);
      }
    }).catch((err: Error) => this.#o.log?.(`payout ${balance.account}: ${err.message}`));
  }

  /** Pays what the town owes the peer now (threshold or not); resolves with the claim, if any. */
  payNow(account: string): Promise<PaymentChannelClaim | undefined> {
    return this.#step(account, async () => {
      await this.#publish(account);
      return await this.#pay(account);
    });
  }

  /** The peer connected here: sends it the newest claim. */
  connected(account: string): void {
    this.#delivered.delete(account);
    void this.#step(account, () => this.#deliver(account)).catch(() => {});
  }

  /** Stops the interval, waits for the steps under way and closes the books. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#watchTimer);
    await this.#watch?.stop().catch(() => {});
    await this.#steps.idle();
    await this.#o.books.close();
  }

  #step<T>(account: string, run: () => Promise<T>): Promise<T> {
    return this.#steps.run(account, run);
  }

  async #publish(account: string): Promise<void> {
    await this.#o.books.publish(account, this.#o.booksId, this.#o.ledger.balance(account).owed);
  }

  /** Every peer on this process's books: published, paid when anything is owed, delivered. */
  async #sweep(): Promise<void> {
    if (this.#closed) return;
    const peers = this.#o.ledger.balances().filter((b) =>
      this.#o.peerAddress(b.account) !== undefined && b.owed > 0n
    );
    for (const b of peers) {
      if (this.#closed) return;
      await this.#step(b.account, async () => {
        const s = await this.#o.books.publish(b.account, this.#o.booksId, b.owed);
        if (s.owed > s.transferred) return void await this.#pay(b.account);
        const row = await this.#o.books.channel(b.account);
        if (row && row.nonce > 0n) await this.#record(row);
        await this.#deliver(b.account);
      }).catch((err: Error) => this.#o.log?.(`payout ${b.account}: ${err.message}`));
    }
  }

  /** Another process (or this one) committed a claim for the peer. */
  #claimedElsewhere(account: string): void {
    if (this.#closed || !this.#o.connectedHere(account)) return;
    void this.#step(account, () => this.#deliver(account)).catch(() => {});
  }

  async #channel(account: string): Promise<PayoutChannelRow | undefined> {
    const o = this.#o;
    const known = await o.books.channel(account);
    if (known) return known;
    const peerAddress = o.peerAddress(account);
    if (!peerAddress) return undefined;
    const row = await o.books.openOnce(account, async () => {
      const onChain = await o.client.channelWith(peerAddress);
      if (!/^0x0+$/.test(onChain)) {
        // Opened by a process killed before the row's commit: no claim was signed on it; its
        // deposit is sent now if the open's never went out.
        const deposit = await adoptPayoutChannel({
          client: o.client,
          account,
          channelId: onChain,
          deposit: o.deposit,
        });
        o.log?.(`payout ${account}: channel ${onChain} opened before a restart, adopted`);
        // Its open's transaction, when this process wrote it down before it was killed.
        // An unreadable intent file only costs the row its `open_tx` (optional).
        const intent = await readPayoutOpenIntent(o.stateDir, peerAddress).catch(() => undefined);
        const openTx = intent?.channelId?.toLowerCase() === onChain.toLowerCase()
          ? intent.openTx
          : undefined;
        await clearPayoutOpenIntent(o.stateDir, peerAddress);
        return this.#rowOf(onChain, peerAddress, deposit, openTx);
      }
      const record = await openTownPayoutChannel(o, account, peerAddress);
      return this.#rowOf(record.channelId, peerAddress, record.deposit, record.openTx);
    });
    o.log?.(`payout ${account}: channel ${row.channelId} (deposit ${row.deposit})`);
    return row;
  }

  #rowOf(
    channelId: `0x${string}`,
    peerAddress: `0x${string}`,
    deposit: bigint,
    openTx: `0x${string}` | undefined,
  ) {
    const c = this.#o.client;
    return {
      channelId,
      openTx,
      peerAddress,
      chainId: c.chain.chainId,
      tokenNetworkAddress: c.tokenNetworkAddress,
      tokenAddress: c.tokenAddress,
      deposit,
    };
  }

  /** Pays what is owed; with credit, only when what is due net of spending reaches `least`. */
  async #pay(account: string, least = 1n): Promise<PaymentChannelClaim | undefined> {
    const o = this.#o;
    const channel = await this.#channel(account);
    if (!channel) return undefined;
    if (channel.status !== "open") {
      // This process's books take their share of its claims (the watch books the settle's).
      if (channel.nonce > 0n) await this.#record(channel);
      // Not replaced: a new channel's claims would start from nothing and pay again what this
      // one paid (docs/OPERATIONS.md "Paying providers").
      if (!this.#notReplaced.has(account)) {
        this.#notReplaced.add(account);
        o.log?.(
          `payout ${account}: channel ${channel.channelId} is ${channel.status}: no other is opened`,
        );
      }
      return undefined;
    }
    let claim: PaymentChannelClaim | undefined;
    const row = await o.books.claim(account, async (c, owed) => {
      // With credit, what the peer spent is not paid out, and what is paid out is spent; a
      // claim the credit counted whose row did not commit is claimed at the next payout.
      const target = o.credit
        ? await o.credit.payOut(account, { owed, cap: c.deposit, claimed: c.transferred, least })
        : owed < c.deposit
        ? owed
        : c.deposit;
      if (target <= c.transferred) {
        if (owed > c.deposit) {
          o.log?.(`payout ${account}: owes ${owed}, deposit ${c.deposit} spent`);
        }
        return undefined;
      }
      claim = await this.#sign(c, c.nonce + 1n, target);
      return { nonce: claim.nonce, transferred: target };
    });
    if (!row) return undefined;
    if (!claim) {
      // Nothing new to claim: another process's claim covered these books already.
      if (row.nonce > 0n) await this.#record(row);
      return undefined;
    }
    o.log?.(`payout ${account}: claim ${claim.transferredAmount} (nonce ${claim.nonce})`);
    await this.#record(row);
    if (o.connectedHere(account)) await this.#sendClaim(account, claim);
    return claim;
  }

  /** Sends the newest claim to the peer when it is connected here and has not had it from us. */
  async #deliver(account: string): Promise<void> {
    if (!this.#o.connectedHere(account)) return;
    const row = await this.#o.books.channel(account);
    if (!row || row.nonce === 0n || this.#delivered.get(account) === row.nonce) return;
    if (row.status !== "open") return;
    await this.#record(row);
    await this.#sendClaim(account, await this.#sign(row, row.nonce, row.transferred));
  }

  async #sendClaim(account: string, claim: PaymentChannelClaim): Promise<void> {
    try {
      await this.#o.send(account, encodeClaim(claim));
      const before = this.#delivered.get(account) ?? 0n;
      if (claim.nonce > before) this.#delivered.set(account, claim.nonce);
    } catch (err) {
      this.#o.log?.(`payout ${account}: claim kept, not delivered: ${(err as Error).message}`);
    }
  }

  /** This process's books take the claims' share of them (`claimed`). */
  async #record(row: PayoutChannelRow): Promise<void> {
    const { ledger, booksId, books } = this.#o;
    const covered = await books.covered(row.account, booksId);
    const b = ledger.balance(row.account);
    if (b.payoutChannel !== row.channelId) {
      await ledger.opened(row.account, row.channelId, row.deposit);
    }
    if (covered > 0n && covered > ledger.balance(row.account).claimed) {
      await ledger.claimed(row.account, row.channelId, row.nonce, covered);
    }
  }

  async #sign(c: PayoutChannelRow, nonce: bigint, transferredAmount: bigint) {
    return await signClaim({
      account: this.#o.signer.evm,
      chainId: c.chainId,
      tokenNetworkAddress: c.tokenNetworkAddress,
      tokenAddress: c.tokenAddress,
      channelId: c.channelId,
      nonce,
      transferredAmount,
    });
  }
}

export { sharedBooksId } from "../shared_books_id.ts";
