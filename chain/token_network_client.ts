/**
 * The node's side of the TokenNetwork contract, via viem (polling every 10 ms on a local anvil,
 * every second elsewhere: config/chain_config.ts `pollingIntervalMs`): open and fund
 * a channel (with funds and gas checked first), read channel state, close with a balance proof,
 * update during the settle timeout, settle, settle cooperatively, withdraw from an open channel
 * (both participants' signatures), and list the node's channels
 * from the contract's events (for recovery). One key signs transactions and balance proofs:
 * the node's NIP-06 secp256k1 key, as the viem account of its `NodeSigner` (protocol/node_signer.ts).
 *
 * @module
 */
import { ChainError } from "./chain_error.ts";
import { SAFE_TOKEN_NETWORK_VERSION } from "./token_network_version.ts";
import {
  type Account,
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseAbiItem,
  parseEventLogs,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import type { LocalAccount } from "viem/accounts";
import { TEST_TOKEN_ABI, TOKEN_NETWORK_ABI } from "./contract_artifacts.ts";
import { type ChainConfig, pollingIntervalMs } from "../config/chain_config.ts";
import { type Hex, type TokenNetworkDomain, ZERO_BYTES32 } from "./balance_proof.ts";
import { sharedChannelEventFeed, type TouchedChannels } from "./channel_event_feed.ts";

/** Channel state on chain. */
export type OnChainChannelState = "none" | "opened" | "closed";

/** One participant's on-chain numbers. */
export interface OnChainParticipant {
  /** Total deposited, token base units (cumulative `setTotalDeposit`). */
  deposit: bigint;
  /** From the balance proof it signed that was submitted at close/update (0 before). */
  transferredAmount: bigint;
  /** Nonce of that submitted balance proof (0 before). */
  nonce: bigint;
  /** Cumulative amount taken out with `setTotalWithdraw` while open (0 before). */
  withdrawn: bigint;
}

/** A channel as the contract holds it. A settled channel reads as state "none". */
export interface OnChainChannel {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** `none` for a channel never opened or already settled. */
  state: OnChainChannelState;
  /** The opener's address. */
  participant1: `0x${string}`;
  /** The partner's address. */
  participant2: `0x${string}`;
  /** Seconds between close and the earliest settle. */
  settleTimeout: bigint;
  /** Unix seconds after which `settleChannel` works (0 while open). */
  settleAt: bigint;
  /** Who closed the channel; the zero address while open. */
  closer: `0x${string}`;
  /** Both participants' numbers, keyed by lower-case address. */
  participants: Record<string, OnChainParticipant>;
  /**
   * The contract's `VERSION` (0: it has none, the first contract). Below
   * `SAFE_TOKEN_NETWORK_VERSION` (chain/token_network_version.ts) a payer can close with its own proof.
   */
  contractVersion?: bigint;
}

/** A signed balance proof as submitted to the contract. */
export interface SubmittedProof {
  /** The proof's nonce (1 and up). */
  nonce: bigint;
  /** Cumulative amount, token base units. */
  transferredAmount: bigint;
  /** EIP-712 signature by the proof's signer, 65 bytes (0x + 130 hex). */
  signature: Hex;
  /**
   * What the submitter takes of it: at most `transferredAmount` (the default). A town takes what
   * it delivered, not the cover of packets it refused (docs/PROTOCOL.md "Payment channels and claims").
   */
  taken?: bigint;
}

/**
 * The balance proofs on chain of a channel closed there, by signer (lowercase address): what its
 * settle paid by ({@linkcode TokenNetworkClient.submittedProofs}).
 */
export type SubmittedProofs = Record<string, Omit<SubmittedProof, "signature">>;

/** A channel event of this node, for recovery. */
export interface ChannelEventRecord {
  /** Which contract event, named for the channel change it records. */
  event: "opened" | "deposit" | "withdraw" | "closed" | "updated" | "settled";
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** Block the event was emitted in. */
  blockNumber: bigint;
  /** The transaction that emitted it (for the opening: the channel file's `openTx`). */
  transactionHash?: Hex;
  /** The event's decoded arguments, as viem names them. */
  args: Record<string, unknown>;
}

/** Options for {@linkcode TokenNetworkClient}. */
export interface TokenNetworkClientOptions {
  /** The chain; `tokenAddress` and `tokenNetworkAddress` must be set. */
  chain: ChainConfig;
  /** The node's EVM account (its NIP-06 key, wherever it is: see protocol/node_signer.ts). */
  account: LocalAccount;
  /** Gas budget assumed for opening (approve + open + deposit). Default 300,000. */
  openGasBudget?: bigint;
}

/** Options for {@linkcode TokenNetworkClient.openChannel}. */
export interface OpenChannelOptions {
  /** The other participant's EVM address. */
  partner: `0x${string}`;
  /** Deposit in token base units. */
  deposit: bigint;
  /** Settle timeout in seconds. */
  settleTimeout: bigint;
  /**
   * Called once the open is mined, before the deposit is sent: a caller that must survive a
   * crash between the two records the channel here (roles/town/channels/peer_payout.ts).
   */
  onOpened?: (opened: { channelId: Hex; openTx: Hex }) => Promise<void>;
}

/** Options for {@linkcode TokenNetworkClient.setTotalWithdraw}: the message both sides signed. */
export interface SetTotalWithdrawOptions {
  /** Who takes the tokens out (either participant; anyone may submit). */
  participant: `0x${string}`;
  /** New cumulative withdrawal in base units. */
  totalWithdraw: bigint;
  /** Unix seconds after which the contract refuses the signatures. */
  expiration: bigint;
  /** The withdrawing participant's signature of the Withdraw message (0x + 130 hex). */
  participantSignature: Hex;
  /** The other participant's signature of the same message (0x + 130 hex). */
  partnerSignature: Hex;
}

/** Result of opening a channel. */
export interface OpenedChannel {
  /** Channel id, bytes32 (0x + 64 hex). */
  channelId: Hex;
  /** Hash of the `openChannel` transaction. */
  openTx: Hex;
  /** Hash of the `setTotalDeposit` transaction. */
  depositTx: Hex;
  /** Block of the deposit, the last of the opening's transactions. */
  blockNumber: bigint;
}

/** The wallet holds fewer tokens than the deposit. */
export class InsufficientFundsError extends ChainError {
  override name = "InsufficientFundsError";
  /** `balance`: tokens held, `needed`: the deposit, both base units; `address`: the wallet. */
  constructor(readonly balance: bigint, readonly needed: bigint, readonly address: string) {
    super(`wallet ${address} holds ${balance} token base units, the deposit needs ${needed}`);
  }
}

/** The wallet cannot pay the gas of the transactions. */
export class InsufficientGasError extends ChainError {
  override name = "InsufficientGasError";
  /** `balance`: wei held, `needed`: estimated gas cost in wei; `address`: the wallet. */
  constructor(readonly balance: bigint, readonly needed: bigint, readonly address: string) {
    super(`wallet ${address} holds ${balance} wei, gas needs about ${needed} wei`);
  }
}

/** A transaction reverted or the contract refused a call; `reason` is the contract error name. */
export class ChainTxError extends ChainError {
  override name = "ChainTxError";
  /** `reason`: the contract error name (or `NoEvent`, `BadResult`...); `cause`: viem's error. */
  constructor(readonly reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The chain config lacks the token or TokenNetwork address. */
export class TokenNetworkConfigError extends ChainError {
  override name = "TokenNetworkConfigError";
}

const STATES: readonly OnChainChannelState[] = ["none", "opened", "closed"];
const CHANNEL_OPENED_EVENT = parseAbiItem(
  "event ChannelOpened(bytes32 indexed channelId, address indexed participant1, address indexed participant2, uint256 settleTimeout)",
);
const CHANNEL_CLOSED_EVENT = parseAbiItem(
  "event ChannelClosed(bytes32 indexed channelId, address indexed closer, address signer, uint256 nonce, uint256 transferredAmount)",
);
const CHANNEL_SETTLED_EVENT = parseAbiItem(
  "event ChannelSettled(bytes32 indexed channelId, uint256 amount1, uint256 amount2)",
);
const BALANCE_PROOF_UPDATED_EVENT = parseAbiItem(
  "event BalanceProofUpdated(bytes32 indexed channelId, address indexed signer, uint256 nonce, uint256 transferredAmount)",
);

/**
 * A TokenNetwork client bound to one chain and one key.
 * It needs a chain (`new TokenNetworkClient({ chain, account: signer.evm })`, then
 * `openChannel({ partner, deposit, settleTimeout })`...), so it has no example that runs here:
 * tests/interop/anvil_channel_lifecycle_test.ts
 */
export class TokenNetworkClient {
  /** The chain this client is bound to. */
  readonly chain: ChainConfig;
  /**
   * The node's viem account: signs transactions with the NIP-06 key. Left out of the docs
   * (`@ignore`): its type is viem's, whose own types are not part of this API.
   *
   * @ignore
   */
  readonly account: Account;
  /** The ERC-20 settled in. */
  readonly tokenAddress: `0x${string}`;
  /** The TokenNetwork contract. */
  readonly tokenNetworkAddress: `0x${string}`;
  /**
   * viem read client on the chain's RPC URL (polls at `pollingIntervalMs`). Left out of the docs
   * (`@ignore`): its type is viem's, whose own types are not part of this API.
   *
   * @ignore
   */
  readonly publicClient: PublicClient<Transport>;
  readonly #wallet: WalletClient;
  readonly #openGasBudget: bigint;
  #version: Promise<bigint> | undefined;

  /** Throws {@linkcode TokenNetworkConfigError} without the token or TokenNetwork address. */
  constructor(options: TokenNetworkClientOptions) {
    const { chain } = options;
    if (!chain.tokenAddress || !chain.tokenNetworkAddress) {
      throw new TokenNetworkConfigError(
        `chain ${chain.id} needs token and token_network addresses`,
      );
    }
    this.chain = chain;
    this.tokenAddress = chain.tokenAddress;
    this.tokenNetworkAddress = chain.tokenNetworkAddress;
    this.account = options.account;
    const viemChain = defineChain({
      id: chain.chainId,
      name: chain.name,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chain.rpcUrl] } },
    });
    const transport = http(chain.rpcUrl);
    const pollingInterval = pollingIntervalMs(chain.chainId, chain.rpcUrl);
    this.publicClient = createPublicClient({ chain: viemChain, transport, pollingInterval });
    this.#wallet = createWalletClient({
      account: this.account,
      chain: viemChain,
      transport,
      pollingInterval,
    });
    this.#openGasBudget = options.openGasBudget ?? 300_000n;
  }

  /** This node's EVM address. */
  get address(): `0x${string}` {
    return this.account.address;
  }

  /** The EIP-712 domain of this TokenNetwork. */
  get domain(): TokenNetworkDomain {
    return { chainId: this.chain.chainId, verifyingContract: this.tokenNetworkAddress };
  }

  /** Token balance (base units) of an address, default this node. */
  async tokenBalance(address: `0x${string}` = this.address): Promise<bigint> {
    const v = await this.publicClient.readContract({
      address: this.tokenAddress,
      abi: TEST_TOKEN_ABI,
      functionName: "balanceOf",
      args: [address],
    });
    return asBigint(v, "balanceOf");
  }

  /** Native balance (wei) of an address, default this node. */
  async nativeBalance(address: `0x${string}` = this.address): Promise<bigint> {
    return await this.publicClient.getBalance({ address });
  }

  /**
   * Opens a channel to `partner` and deposits, after checking token balance and gas. Waits for
   * each receipt.
   */
  async openChannel(options: OpenChannelOptions): Promise<OpenedChannel> {
    if (options.deposit <= 0n) throw new RangeError("deposit must be positive");
    const version = await this.contractVersion();
    if (version < SAFE_TOKEN_NETWORK_VERSION) {
      throw new ChainTxError(
        "UnsafeContract",
        `the TokenNetwork at ${this.tokenNetworkAddress} is version ${version}: a payer can close ` +
          "its channels with its own proof; deploy the current contract",
      );
    }
    const [tokens, wei, fees] = await Promise.all([
      this.tokenBalance(),
      this.nativeBalance(),
      this.publicClient.estimateFeesPerGas(),
    ]);
    if (tokens < options.deposit) {
      throw new InsufficientFundsError(tokens, options.deposit, this.address);
    }
    const gasNeeded = this.#openGasBudget * (fees.maxFeePerGas ?? fees.gasPrice ?? 1n);
    if (wei < gasNeeded) throw new InsufficientGasError(wei, gasNeeded, this.address);
    const allowance = asBigint(
      await this.publicClient.readContract({
        address: this.tokenAddress,
        abi: TEST_TOKEN_ABI,
        functionName: "allowance",
        args: [this.address, this.tokenNetworkAddress],
      }),
      "allowance",
    );
    if (allowance < options.deposit) {
      await this.#send(this.tokenAddress, TEST_TOKEN_ABI, "approve", [
        this.tokenNetworkAddress,
        options.deposit,
      ]);
    }
    const open = await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "openChannel", [
      options.partner,
      options.settleTimeout,
    ]);
    const opened = parseEventLogs({
      abi: TOKEN_NETWORK_ABI,
      logs: open.logs,
      eventName: "ChannelOpened",
    });
    const args = opened[0]?.args as { channelId?: Hex } | undefined;
    if (!args?.channelId) throw new ChainTxError("NoEvent", `openChannel emitted no ChannelOpened`);
    await options.onOpened?.({ channelId: args.channelId, openTx: open.hash });
    const dep = await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "setTotalDeposit", [
      args.channelId,
      this.address,
      options.deposit,
    ]);
    return {
      channelId: args.channelId,
      openTx: open.hash,
      depositTx: dep.hash,
      blockNumber: dep.blockNumber,
    };
  }

  /** Raises this node's total deposit (approving the difference first when needed). */
  async setTotalDeposit(channelId: Hex, totalDeposit: bigint): Promise<Hex> {
    await this.#send(this.tokenAddress, TEST_TOKEN_ABI, "approve", [
      this.tokenNetworkAddress,
      totalDeposit,
    ]);
    return (await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "setTotalDeposit", [
      channelId,
      this.address,
      totalDeposit,
    ])).hash;
  }

  /**
   * The ERC-20 the TokenNetwork contract holds (its immutable `token`), as the chain says: a
   * node checks its configured token against it before trusting a channel it did not open.
   */
  async contractToken(): Promise<`0x${string}`> {
    const v = await this.publicClient.readContract({
      address: this.tokenNetworkAddress,
      abi: TOKEN_NETWORK_ABI,
      functionName: "token",
      args: [],
    });
    if (typeof v !== "string") throw new ChainTxError("BadResult", "token returned no address");
    return v as `0x${string}`;
  }

  /** The channel between this node and `partner` (zero hash when none). */
  async channelWith(partner: `0x${string}`): Promise<Hex> {
    const v = await this.publicClient.readContract({
      address: this.tokenNetworkAddress,
      abi: TOKEN_NETWORK_ABI,
      functionName: "channelOf",
      args: [this.address, partner],
    });
    if (typeof v !== "string") throw new ChainTxError("BadResult", "channelOf returned no bytes32");
    return v as Hex;
  }

  /**
   * Whether this contract ever opened the channel: its opening transaction (when known) is on
   * this chain and succeeded, else a `ChannelOpened` log with its id exists. A channel the
   * contract no longer has was settled only if this is true; false means the RPC or contract
   * configured is not the one the channel lives on.
   */
  async channelExisted(channelId: Hex, openTx?: Hex): Promise<boolean> {
    if (openTx) {
      try {
        const receipt = await this.publicClient.getTransactionReceipt({ hash: openTx });
        return receipt.status === "success" &&
          receipt.to?.toLowerCase() === this.tokenNetworkAddress.toLowerCase();
      } catch (err) {
        if ((err as Error).name !== "TransactionReceiptNotFoundError") throw err;
        return false;
      }
    }
    const logs = await this.publicClient.getLogs({
      address: this.tokenNetworkAddress,
      event: CHANNEL_OPENED_EVENT,
      args: { channelId },
      fromBlock: 0n,
      toBlock: "latest",
    });
    return logs.length > 0;
  }

  /**
   * The balance proofs a close on chain left for a channel, by their signer (lowercase): the
   * close's and every update's, the newest nonce kept. These are what the settle paid by: a
   * participant with none transferred nothing. `undefined` when the channel was never closed on
   * chain (it was settled cooperatively). Read from the logs (from the block of `openTx` when
   * given), for a channel already settled: the contract has forgotten it. Throws
   * `ChainTxError` `LogsBehind` while its `ChannelSettled` log is not served yet.
   */
  async submittedProofs(
    channelId: Hex,
    openTx?: Hex,
  ): Promise<SubmittedProofs | undefined> {
    // From the open's block when its transaction is known: a hosted RPC caps the range.
    const fromBlock = openTx
      ? await this.publicClient.getTransactionReceipt({ hash: openTx }).then(
        (r) => r.blockNumber,
        () => 0n,
      )
      : 0n;
    const range = { address: this.tokenNetworkAddress, fromBlock, toBlock: "latest" } as const;
    const [closed, updated, settled] = await Promise.all([
      this.publicClient.getLogs({ ...range, event: CHANNEL_CLOSED_EVENT, args: { channelId } }),
      this.publicClient.getLogs({
        ...range,
        event: BALANCE_PROOF_UPDATED_EVENT,
        args: { channelId },
      }),
      this.publicClient.getLogs({ ...range, event: CHANNEL_SETTLED_EVENT, args: { channelId } }),
    ]);
    // Asked after the contract forgot the channel, its settle must be in the logs: an RPC whose
    // logs lag behind its state (a load-balanced one) is asked again later.
    if (settled.length === 0) {
      throw new ChainTxError("LogsBehind", `no ChannelSettled log of ${channelId} yet`);
    }
    if (closed.length === 0) return undefined;
    const proofs: SubmittedProofs = {};
    for (const { args } of [...closed, ...updated]) {
      const { signer, nonce, transferredAmount } = args;
      if (signer === undefined || nonce === undefined || transferredAmount === undefined) continue;
      // A close without a proof names no signer (nonce 0): nothing was submitted.
      if (nonce === 0n) continue;
      const key = signer.toLowerCase();
      if ((proofs[key]?.nonce ?? -1n) < nonce) proofs[key] = { nonce, transferredAmount };
    }
    return proofs;
  }

  /**
   * The channels of this TokenNetwork with events after the feed cursor `since` (the `head` of
   * the last answer), from the process's shared feed on this RPC URL
   * (chain/channel_event_feed.ts).
   */
  touchedChannels(since: bigint | undefined): Promise<TouchedChannels> {
    return sharedChannelEventFeed(this.chain.rpcUrl, this.tokenNetworkAddress, this.publicClient)
      .touchedSince(since);
  }

  /** The contract's `VERSION`, read once per client (0: a contract without it, the first one). */
  contractVersion(): Promise<bigint> {
    return this.#version ??= this.publicClient.readContract({
      address: this.tokenNetworkAddress,
      abi: TOKEN_NETWORK_ABI,
      functionName: "VERSION",
    }).then(
      (v) => asBigint(v, "VERSION"),
      (err) => {
        // A contract without the function answers no data or reverts; an RPC that is down is
        // asked again later.
        const missing = err instanceof BaseError &&
          err.walk((e) =>
            e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError
          );
        if (missing) return 0n;
        this.#version = undefined;
        throw err;
      },
    );
  }

  /**
   * Reads a channel and both participants' numbers. Three calls, not one block: a settle mined
   * between the channel's read and its participants' deletes both, and the read would say
   * "closed" with nothing in it, which a settle's books would take for the proofs (docs/
   * PROTOCOL.md "Payment channels and claims"). So a channel read closed, or open with both
   * participants empty (a cooperative settle), is read again once its participants are in: a
   * state that moved meanwhile is read whole again (three times at most).
   */
  async getChannel(channelId: Hex): Promise<OnChainChannel> {
    for (let tries = 1;; tries++) {
      const read = await this.#readChannel(channelId);
      const empty = Object.values(read.participants).every((p) =>
        p.deposit === 0n && p.transferredAmount === 0n && p.nonce === 0n && p.withdrawn === 0n
      );
      if (read.state !== "closed" && !(read.state === "opened" && empty)) return read;
      const again = asRecord(await this.#readChannelStruct(channelId), "getChannel");
      const state = STATES[Number(again.state)] ?? "none";
      const settleAt = BigInt(again.settleAt as bigint | number);
      if ((state === read.state && settleAt === read.settleAt) || tries >= 3) return read;
    }
  }

  #readChannelStruct(channelId: Hex): Promise<unknown> {
    return this.publicClient.readContract({
      address: this.tokenNetworkAddress,
      abi: TOKEN_NETWORK_ABI,
      functionName: "getChannel",
      args: [channelId],
    });
  }

  async #readChannel(channelId: Hex): Promise<OnChainChannel> {
    const c = asRecord(await this.#readChannelStruct(channelId), "getChannel");
    const participant1 = c.participant1 as `0x${string}`;
    const participant2 = c.participant2 as `0x${string}`;
    const participants: Record<string, OnChainParticipant> = {};
    for (const p of [participant1, participant2]) {
      const rp = asRecord(
        await this.publicClient.readContract({
          address: this.tokenNetworkAddress,
          abi: TOKEN_NETWORK_ABI,
          functionName: "getParticipant",
          args: [channelId, p],
        }),
        "getParticipant",
      );
      participants[p.toLowerCase()] = {
        deposit: asBigint(rp.deposit, "deposit"),
        transferredAmount: asBigint(rp.transferredAmount, "transferredAmount"),
        nonce: asBigint(rp.nonce, "nonce"),
        withdrawn: asBigint(rp.withdrawn, "withdrawn"),
      };
    }
    return {
      channelId,
      state: STATES[Number(c.state)] ?? "none",
      participant1,
      participant2,
      settleTimeout: BigInt(c.settleTimeout as bigint | number),
      settleAt: BigInt(c.settleAt as bigint | number),
      closer: c.closer as `0x${string}`,
      participants,
      contractVersion: await this.contractVersion(),
    };
  }

  /**
   * Closes the channel with the partner's newest proof (the contract refuses this node's own:
   * `NotPartnerProof`), or none.
   */
  async closeChannel(channelId: Hex, proof?: SubmittedProof): Promise<Hex> {
    return (await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "closeChannel", [
      channelId,
      proof?.nonce ?? 0n,
      proof?.transferredAmount ?? 0n,
      0n,
      ZERO_BYTES32,
      proof?.signature ?? "0x",
      proof ? proof.taken ?? proof.transferredAmount : 0n,
    ])).hash;
  }

  /**
   * During the settle timeout, submits a newer proof of the partner's than the one on chain
   * (what it takes never below what is stored: `TransferredAmountDecreased`).
   */
  async updateNonClosingBalanceProof(channelId: Hex, proof: SubmittedProof): Promise<Hex> {
    return (await this.#send(
      this.tokenNetworkAddress,
      TOKEN_NETWORK_ABI,
      "updateNonClosingBalanceProof",
      [
        channelId,
        proof.nonce,
        proof.transferredAmount,
        0n,
        ZERO_BYTES32,
        proof.signature,
        proof.taken ?? proof.transferredAmount,
      ],
    )).hash;
  }

  /** After the settle timeout, pays out both sides (simulated on the next block: chainTime). */
  async settleChannel(channelId: Hex): Promise<Hex> {
    return (await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "settleChannel", [
      channelId,
    ], { blockTag: "pending" })).hash;
  }

  /** Settles at once with final balances both participants signed. */
  async cooperativeSettle(
    channelId: Hex,
    balance1: bigint,
    balance2: bigint,
    signature1: Hex,
    signature2: Hex,
  ): Promise<Hex> {
    return (await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "cooperativeSettle", [
      channelId,
      balance1,
      balance2,
      signature1,
      signature2,
    ])).hash;
  }

  /**
   * Raises `participant`'s cumulative withdrawal while the channel is open (signatures from
   * `signWithdraw` (balance_proof.ts) by the participant and by its partner). Waits for the receipt;
   * a refusal is a {@linkcode ChainTxError} whose `reason` is the contract error
   * (`WithdrawExpired`, `WithdrawNotIncreased`, `WithdrawBeyondDeposit`, `BadSignature`, ...).
   * It needs a chain, so it has no example that runs here:
   * tests/interop/anvil_channel_withdraw_test.ts
   */
  async setTotalWithdraw(channelId: Hex, options: SetTotalWithdrawOptions): Promise<Hex> {
    return (await this.#send(this.tokenNetworkAddress, TOKEN_NETWORK_ABI, "setTotalWithdraw", [
      channelId,
      options.participant,
      options.totalWithdraw,
      options.expiration,
      options.participantSignature,
      options.partnerSignature,
    ])).hash;
  }

  /** Unix time of the next block (a local anvil's latest can be minutes old), else the latest. */
  async chainTime(): Promise<bigint> {
    const next = await this.publicClient.getBlock({ blockTag: "pending" }).catch(() => undefined);
    return next?.timestamp ?? (await this.publicClient.getBlock()).timestamp;
  }

  /**
   * Every channel event that involves this node, oldest first (recovery reads these).
   * `fromBlock` defaults to 0 (fine on anvil; give the deployment block on a testnet).
   */
  async channelEvents(fromBlock = 0n): Promise<ChannelEventRecord[]> {
    const logs = await this.publicClient.getLogs({
      address: this.tokenNetworkAddress,
      fromBlock,
      toBlock: "latest",
    });
    const parsed = parseEventLogs({ abi: TOKEN_NETWORK_ABI, logs });
    const opened = new Set<string>();
    const me = this.address.toLowerCase();
    const out: ChannelEventRecord[] = [];
    const names: Record<string, ChannelEventRecord["event"]> = {
      ChannelOpened: "opened",
      ChannelNewDeposit: "deposit",
      ChannelWithdraw: "withdraw",
      ChannelClosed: "closed",
      BalanceProofUpdated: "updated",
      ChannelSettled: "settled",
    };
    for (const log of parsed) {
      const args = (log.args ?? {}) as Record<string, unknown>;
      const channelId = args.channelId as Hex;
      if (log.eventName === "ChannelOpened") {
        const p1 = String(args.participant1).toLowerCase();
        const p2 = String(args.participant2).toLowerCase();
        if (p1 === me || p2 === me) opened.add(channelId);
      }
      const event = names[log.eventName];
      if (event && opened.has(channelId)) {
        out.push({
          event,
          channelId,
          blockNumber: log.blockNumber ?? 0n,
          transactionHash: log.transactionHash ?? undefined,
          args,
        });
      }
    }
    return out;
  }

  async #send(address: Hex, abi: typeof TOKEN_NETWORK_ABI, fn: string, args: unknown[], at = {}) {
    let hash: Hex;
    try {
      const { request } = await this.publicClient.simulateContract({
        address,
        abi,
        functionName: fn,
        args,
        account: this.account,
        ...at,
      });
      // The whole ABI, not the simulation's (its function only): a revert at the gas estimate
      // (the state moved since the simulation) is then decoded too, not a bare `Reverted()`.
      hash = await this.#wallet.writeContract({ ...request, abi } as typeof request);
    } catch (err) {
      throw toChainTxError(fn, err);
    }
    const receipt = await this.publicClient.waitForTransactionReceipt({
      hash,
      pollingInterval: pollingIntervalMs(this.chain.chainId, this.chain.rpcUrl),
    });
    if (receipt.status !== "success") {
      throw new ChainTxError("Reverted", `${fn} reverted (tx ${hash})`);
    }
    return { hash, logs: receipt.logs, blockNumber: receipt.blockNumber };
  }
}

function toChainTxError(fn: string, err: unknown): ChainTxError {
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const reason = revert.data?.errorName ?? "Reverted";
      const args = revert.data?.args?.map(String).join(", ") ?? "";
      return new ChainTxError(reason, `${fn} refused by the contract: ${reason}(${args})`, {
        cause: err,
      });
    }
    return new ChainTxError("RpcError", `${fn} failed: ${err.shortMessage}`, { cause: err });
  }
  return new ChainTxError("Error", `${fn} failed: ${(err as Error).message}`, { cause: err });
}

function asBigint(v: unknown, what: string): bigint {
  if (typeof v !== "bigint") throw new ChainTxError("BadResult", `${what} returned no integer`);
  return v;
}

function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null) {
    throw new ChainTxError("BadResult", `${what} returned no struct`);
  }
  return v as Record<string, unknown>;
}
