/**
 * The town pays what it owes a BTP peer (docs/OPERATIONS.md "Paying providers"): it is the payer
 * of a payment channel with the peer and keeps its claims in the payer's channel book (its file
 * backend, state/channels/file_sent_channel_book.ts: resumed from the channel file, each claim decided
 * under the book's lock and in the file before it leaves); the peer keeps the claims with the
 * town's verification code (roles/channels/payout_receiver.ts) and closes or withdraws as a payee does.
 *
 * - When what the town owes beyond its newest claim reaches the policy's `threshold` (checked
 *   after each FULFILL on the books), or every `intervalMs` while it owes anything, the town
 *   signs one claim raising the cumulative amount to what it owes (capped at its deposit),
 *   writes it to the channel file, records it on the ledger (`claimed`) and sends it to the
 *   peer over BTP (a MESSAGE with `payment-channel-claim` only, btp_peer_connection.ts).
 * - No channel yet: the first payout opens one to the peer's address with the policy's
 *   deposit ({@linkcode openPayoutChannel}); the gas is the town's (it pays).
 * - The peer offline, or its answer lost: the claim is kept; the newest one is sent again at the
 *   next payout or when the peer connects ({@linkcode PeerPayout.resend}). Claims are
 *   cumulative, so the newest one carries every earlier one.
 *
 * Which contract feature it uses: TokenNetwork balance proofs are signed by either participant
 * (chain/contracts/TokenNetwork.sol): the town's proofs on a channel it opened to the provider.
 * A provider that pays the town over its own channel shares that pair's one channel; the town
 * would then deposit its side and sign on it (two-way); not wired yet (docs/OPERATIONS.md).
 *
 * @module
 */
import { PeerPayoutError } from "./peer_payout_errors.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";
import { encodeClaim, type PaymentChannelClaim } from "../../../protocol/payment_channel_claim.ts";
import { signClaim } from "../../../chain/claim_signer.ts";
import type { AuditLog } from "../../../state/audit/audit_log.ts";
import {
  channelFilePath,
  type ChannelRecord,
  readChannel,
} from "../../../state/channels/channel_file.ts";
import { openSentClaimWriter } from "../../../state/channels/channel_writer.ts";
import type { SentClaimWriter } from "../../../state/channels/channel_writer.ts";
import { FileSentChannelBook } from "../../../state/channels/file_sent_channel_book.ts";
import type { PeerBalance, PeerLedger } from "../../../state/payments/peer_ledger.ts";
import type { PeerCredit } from "../../../state/payments/peer_credit.ts";
import {
  clearPayoutOpenIntent,
  listPayoutOpenIntents,
  readPayoutOpenIntent,
} from "../../../state/channels/payout_open_intent.ts";
import {
  adoptPayoutChannel,
  openTownPayoutChannel,
  recordPayoutChannel,
  type TownPayoutsOptions,
} from "./payout_channel_open.ts";
import { PayoutChannelWatch } from "./payout_channel_watch.ts";
import type { TownPayoutPolicy } from "../../../config/town_settings.ts";

/** Options for {@linkcode PeerPayout}. */
export interface PeerPayoutOptions {
  stateDir: string;
  audit?: AuditLog;
  ledger: PeerLedger;
  /** The BTP account paid. */
  account: string;
  /** The town's key: signs the claims; the channel's own side must be its address. */
  signer: NodeSigner;
  /** The town's file of the channel it pays the peer over. */
  record: ChannelRecord;
  policy: Pick<TownPayoutPolicy, "threshold" | "intervalMs">;
  /** The town's credit counts: see {@linkcode TownPayoutsOptions.credit}. */
  credit?: PeerCredit;
  /** Sends a claim to the peer (`BtpPeerConnection.sendClaim`); rejects when it was not kept. */
  send: (claim: Uint8Array) => Promise<void>;
  /** Told about payouts and failures to send (logs). */
  log?: (line: string) => void;
}

export { PeerPayoutError };
export {
  adoptPayoutChannel,
  type AdoptPayoutChannelOptions,
  openPayoutChannel,
  type OpenPayoutChannelOptions,
  openTownPayoutChannel,
  type TownPayoutsOptions,
} from "./payout_channel_open.ts";

/**
 * Pays one peer over one channel.
 *
 * It needs a connected peer: no example that runs here:
 * tests/unit/roles/town/peer_payout_failure_test.ts.
 */
export class PeerPayout {
  readonly account: string;
  readonly #o: PeerPayoutOptions;
  readonly #file: SentClaimWriter;
  /** The claims the town signed on the channel: the file's `sent*` fields. */
  readonly #book: FileSentChannelBook;
  /** The town's deposit in the channel, as the file said at the start. */
  readonly #deposit: bigint;
  #newest: PaymentChannelClaim | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: PeerPayoutOptions) {
    const { record } = options;
    if (record.selfAddress.toLowerCase() !== options.signer.evmAddress.toLowerCase()) {
      throw new PeerPayoutError(
        `channel ${record.channelId} belongs to ${record.selfAddress}, not to the town's key`,
      );
    }
    if (record.status !== "open") {
      throw new PeerPayoutError(`channel ${record.channelId} is ${record.status}`);
    }
    this.account = options.account;
    this.#o = options;
    this.#file = openSentClaimWriter({ stateDir: options.stateDir, record, audit: options.audit });
    this.#book = new FileSentChannelBook([this.#file]);
    this.#deposit = record.deposit;
    this.#timer = setInterval(() => this.#payLogged("interval"), options.policy.intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** The channel file as last written. */
  record(): ChannelRecord {
    return this.#file.record();
  }

  /** The channel file's writer: the town's watch writes the chain's changes through it. */
  get writer(): SentClaimWriter {
    return this.#file;
  }

  /** Pays when what is owed beyond the newest claim reached the threshold (after a FULFILL). */
  check(): void {
    const b = this.#o.ledger.balance(this.account);
    if (b.owed - this.#transferred() >= this.#o.policy.threshold) this.#payLogged("threshold");
  }

  /**
   * {@linkcode PeerPayout.pay} from a timer or a FULFILL: nobody awaits it, so a failure (the
   * claim book's write, the signer) is said in the log; the next payment or interval tries again
   * (what was owed stays on the ledger).
   */
  #payLogged(why: string): void {
    this.pay(why).catch((err: Error) =>
      this.#o.log?.(`payout ${this.account}: no claim (${why}): ${err.message.split("\n")[0]}`)
    );
  }

  /**
   * Signs, keeps and sends a claim for everything owed (capped at the deposit); resolves with it,
   * or undefined when nothing more is owed. A failed send keeps the claim for the next try.
   */
  pay(why = "asked"): Promise<PaymentChannelClaim | undefined> {
    const run = this.#queue.then(() => this.#pay(why));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Sends the newest claim again (the peer reconnected). */
  resend(): Promise<void> {
    const run = this.#queue.then(() => this.#send());
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops the interval and waits for the file. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#queue;
    await this.#file.durable().catch(() => {});
  }

  /** The newest claim's cumulative amount, as soon as it is decided. */
  #transferred(): bigint {
    return this.#book.current(this.#o.record.channelId)!.transferred;
  }

  async #pay(why: string): Promise<PaymentChannelClaim | undefined> {
    const record = this.#file.record();
    if (record.status !== "open") return undefined;
    const owed = this.#o.ledger.balance(this.account).owed;
    const cap = this.#deposit - record.withdrawn;
    const least = why === "threshold" ? this.#o.policy.threshold : 1n;
    let claim: PaymentChannelClaim | undefined;
    await this.#book.update(record.channelId, async (book) => {
      // With credit, what the peer spent is not paid out, and what is paid out is spent; after a
      // FULFILL only once what is due net of its spending reaches the threshold.
      const gross = owed < cap ? owed : cap;
      const amounts = { owed, cap, claimed: book.transferred, least };
      const target = this.#o.credit ? await this.#o.credit.payOut(this.account, amounts) : gross;
      if (target - book.transferred <= 0n) {
        if (owed > cap) this.#o.log?.(`payout ${this.account}: owes ${owed}, deposit ${cap} spent`);
        return undefined;
      }
      claim = await this.#sign(book.nonce + 1n, target);
      return { ...book, nonce: claim.nonce, transferred: claim.transferredAmount };
    });
    if (!claim) return undefined;
    await this.#o.ledger.claimed(
      this.account,
      claim.channelId,
      claim.nonce,
      claim.transferredAmount,
    );
    this.#newest = claim;
    this.#o.log?.(
      `payout ${this.account}: claim ${claim.transferredAmount} (nonce ${claim.nonce}, ${why})`,
    );
    await this.#send();
    return claim;
  }

  async #send(): Promise<void> {
    const claim = this.#newest ?? await this.#fromFile();
    if (!claim) return;
    try {
      await this.#o.send(encodeClaim(claim));
    } catch (err) {
      this.#o.log?.(`payout ${this.account}: claim kept, not delivered: ${(err as Error).message}`);
    }
  }

  /** The newest claim as the book keeps it (after a restart): signed again, same numbers. */
  async #fromFile(): Promise<PaymentChannelClaim | undefined> {
    const book = this.#book.current(this.#o.record.channelId)!;
    if (book.nonce === 0n) return undefined;
    return this.#newest = await this.#sign(book.nonce, book.transferred);
  }

  #sign(nonce: bigint, transferredAmount: bigint): Promise<PaymentChannelClaim> {
    const r = this.#o.record;
    return signClaim({
      account: this.#o.signer.evm,
      chainId: r.chainId,
      tokenNetworkAddress: r.tokenNetworkAddress,
      tokenAddress: r.tokenAddress,
      channelId: r.channelId,
      nonce,
      transferredAmount,
    });
  }
}

/**
 * Every peer's payouts: hand it each balance after a FULFILL (`TownNodeOptions.onOwed`); the
 * first payout due to a peer opens its channel (or resumes the one on the ledger).
 *
 * It needs a chain and connected peers: no example that runs here:
 * tests/interop/anvil_town_payout_test.ts.
 */
export class TownPayouts {
  readonly #o: TownPayoutsOptions;
  readonly #payouts = new Map<string, Promise<PeerPayout | undefined>>();
  /**
   * The town's chain transactions, one open at a time: every open is three transactions from
   * the town's one account (approve, open, deposit); side by side they would take the same
   * nonce and share one approval.
   */
  #opening: Promise<unknown> = Promise.resolve();
  readonly #watch: PayoutChannelWatch | undefined;

  constructor(options: TownPayoutsOptions) {
    this.#o = options;
    this.#watch = options.watchIntervalMs === undefined ? undefined : new PayoutChannelWatch({
      ...options,
      chain: options.client,
      intervalMs: options.watchIntervalMs,
    });
  }

  /**
   * At start, with a watch: every peer's payout channel on the ledger is watched again (an open
   * one resumed for paying, a closed one until it is settled). Never rejects.
   */
  async watchKept(): Promise<void> {
    if (!this.#watch) return;
    for (const b of this.#o.ledger.balances()) {
      if (b.payoutChannel) await this.#payout(b.account).catch(() => {});
    }
  }

  /** After a FULFILL on the books: pays the peer when its payout is due. */
  owed(balance: PeerBalance): void {
    if (balance.owed - balance.claimed < this.#o.policy.threshold) return;
    void this.#payout(balance.account).then((p) => p?.check(), (err: Error) => {
      this.#o.log?.(`payout ${balance.account}: ${err.message}`);
    });
  }

  /** Pays what is owed now (threshold or not); resolves with the claim sent, if any. */
  async payNow(account: string): Promise<PaymentChannelClaim | undefined> {
    return await (await this.#payout(account))?.pay("asked");
  }

  /** The peer connected: sends it the newest claim again. */
  connected(account: string): void {
    const payout = this.#payouts.get(account);
    void payout?.then((p) => p?.resend()).catch(() => {});
  }

  /**
   * At start: finishes every payout channel open a crash interrupted (an intent left in
   * `payout_opens/`): the channel found on chain funded and recorded, or opened, and what is
   * owed paid on it. Resolves with the accounts resumed; never rejects: a failure is logged and
   * left for the next payout to that peer.
   *
   * It needs a chain: no example that runs here: tests/interop/anvil_payout_open_crash_test.ts.
   */
  async resumeOpens(): Promise<string[]> {
    const accounts: string[] = [];
    let intents: Awaited<ReturnType<typeof listPayoutOpenIntents>>;
    try {
      intents = await listPayoutOpenIntents(this.#o.stateDir);
    } catch (err) {
      // Never rejects: callers start it in the background at start-up.
      this.#o.log?.(`payouts: interrupted opens not read: ${(err as Error).message}`);
      return accounts;
    }
    for (const intent of intents) {
      if (this.#o.peerAddress(intent.account)?.toLowerCase() !== intent.peerAddress.toLowerCase()) {
        continue;
      }
      try {
        await (await this.#payout(intent.account))?.pay("resumed");
        accounts.push(intent.account);
      } catch (err) {
        this.#o.log?.(`payout ${intent.account}: open not resumed: ${(err as Error).message}`);
      }
    }
    return accounts;
  }

  /** The payout of a peer, once it has one. */
  async payout(account: string): Promise<PeerPayout | undefined> {
    return await this.#payouts.get(account);
  }

  /** Stops the watch and every payout's interval and waits for their files. */
  async close(): Promise<void> {
    await this.#watch?.stop();
    for (const p of this.#payouts.values()) await (await p.catch(() => undefined))?.close();
  }

  /**
   * The payout channel already open on chain with the peer but not on the ledger: in our files
   * (a crash between the file and its ledger line), recorded now and resumed; not in our files
   * but in an open's intent (a crash between the open and its file), funded if its deposit never
   * went out, recorded and resumed.
   */
  async #onChain(
    account: string,
    peerAddress: `0x${string}`,
  ): Promise<ChannelRecord | undefined> {
    const o = this.#o;
    const id = await o.client.channelWith(peerAddress);
    if (/^0x0+$/.test(id)) return undefined;
    let record: ChannelRecord;
    try {
      record = await readChannel(channelFilePath(o.stateDir, id));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      const intent = await readPayoutOpenIntent(o.stateDir, peerAddress);
      if (intent && (intent.channelId === undefined || intent.channelId === id)) {
        const deposit = await adoptPayoutChannel({
          client: o.client,
          account,
          channelId: id,
          deposit: intent.deposit,
        });
        o.log?.(`payout ${account}: channel ${id} opened before a restart, finished now`);
        return await recordPayoutChannel({ ...o, account, peerAddress }, {
          channelId: id,
          openTx: intent.openTx,
          deposit,
          settleTimeout: intent.settleTimeout,
        });
      }
      throw new PeerPayoutError(
        `a channel ${id} with ${account} (${peerAddress}) is open on chain and has no file here: ` +
          "rebuild it with `turnpike channel recover`",
      );
    }
    if (
      record.status !== "open" ||
      record.selfAddress.toLowerCase() !== o.client.address.toLowerCase()
    ) {
      throw new PeerPayoutError(`channel ${id} with ${account} cannot carry payouts`);
    }
    await o.ledger.opened(account, record.channelId, record.deposit);
    await clearPayoutOpenIntent(o.stateDir, peerAddress);
    return record;
  }

  #payout(account: string): Promise<PeerPayout | undefined> {
    let payout = this.#payouts.get(account);
    if (!payout) {
      payout = this.#open(account);
      this.#payouts.set(account, payout);
      payout.then(
        (p) => p && this.#watch?.add(account, p.writer),
        () => this.#payouts.delete(account),
      );
    }
    return payout;
  }

  async #open(account: string): Promise<PeerPayout | undefined> {
    const o = this.#o;
    const known = o.ledger.balance(account).payoutChannel;
    let record: ChannelRecord | undefined;
    if (known) {
      record = await readChannel(channelFilePath(o.stateDir, known));
      if (record.status !== "open") {
        // Not replaced: a new channel's claims would start from nothing and pay again what this
        // one paid (docs/OPERATIONS.md "Paying providers"). Settled by the watch meanwhile.
        this.#watch?.addClosed(account, record);
        o.log?.(`payout ${account}: channel ${known} is ${record.status}: no other is opened`);
        return undefined;
      }
      // Killed after the ledger line, before the intent's removal: the open is finished.
      await clearPayoutOpenIntent(o.stateDir, record.peerAddress);
    }
    if (!record) {
      const peerAddress = o.peerAddress(account);
      if (!peerAddress) return undefined;
      const opened = this.#opening.then(async () =>
        await this.#onChain(account, peerAddress) ??
          await openTownPayoutChannel(o, account, peerAddress)
      );
      this.#opening = opened.catch(() => {});
      record = await opened;
      o.log?.(`payout ${account}: channel ${record.channelId} (deposit ${record.deposit})`);
    }
    return new PeerPayout({
      stateDir: o.stateDir,
      audit: o.audit,
      ledger: o.ledger,
      account,
      signer: o.signer,
      record,
      policy: o.policy,
      credit: o.credit,
      send: (claim) => o.send(account, claim),
      log: o.log,
    });
  }
}
