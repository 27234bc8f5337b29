/**
 * Who settled each payout channel of the scale harness, read from the chain's own events by
 * channel id (docs/SCALE.md "Who settled a payout channel"): its `ChannelOpened` log (the two
 * participants), its `ChannelClosed` logs (the closer), its `ChannelSettled` log (the settle's
 * transaction, its sender and what it paid each side) and its state now. More than one party
 * settles a payout channel once its timeout is over (the harness with the provider's key, the
 * provider's node with the same key, the town's watch with the town's key; `settleChannel` is open
 * to anyone): one is mined, the others are refused. Nothing a record file says is trusted here:
 * a channel is settled when the chain has forgotten it and holds its one `ChannelSettled` log,
 * and its settle is named by that log's sender (and by the harness's own transaction hash, the
 * provider's node sharing its key).
 *
 * @module
 */
import { parseAbiItem } from "viem";
import type { OnChainChannelState, TokenNetworkClient } from "../chain/token_network_client.ts";

type Hex = `0x${string}`;

/** A channel's `ChannelSettled` log and the sender of its transaction (all lowercase hex). */
export interface SettleLog {
  tx: string;
  /** The transaction's sender. */
  from: string;
  block: string;
  /** What the settle paid participant1 (the opener) and participant2, base units. */
  amount1: string;
  amount2: string;
}

/** What the chain says of one channel (lowercase hex; JSON-able, a fixture can hold it). */
export interface ChannelChainFacts {
  channelId: string;
  /** The participants from its `ChannelOpened` log; absent when there is none. */
  participant1?: string;
  participant2?: string;
  /** The closers of its `ChannelClosed` logs. */
  closers: string[];
  /** Its `ChannelSettled` logs (one for a settled channel: its id is never reused). */
  settles: SettleLog[];
  /** Its state on chain now (`none` once settled); `unread` when the RPC did not answer. */
  state: OnChainChannelState | "unread";
  /** Why its state was not read. */
  unread?: string;
}

/** One payout channel as the harness knows it. */
export interface PayoutChannel {
  channelId: string;
  /** The provider's address (the payee: its key closed the channel). */
  provider: string;
  /** The harness's own settle when it was mined. */
  harnessTx?: string;
  /** Why the harness's own settle was refused (the first line of its error). */
  refused?: string;
}

/** Who settled a payout channel, said by the chain. */
export type SettleAttribution =
  | {
    channelId: string;
    /**
     * `harness`: its own transaction; `provider`: the provider's node (its key, another
     * transaction); `town`: the channel's other participant, the town's watch; `other`: a third
     * address (a settle is open to anyone).
     */
    by: "harness" | "provider" | "town" | "other";
    tx: string;
    from: string;
    /** What the settle paid the provider, base units. */
    paidToProvider: string;
    /** Why the harness's own settle was refused, when it was. */
    refused?: string;
  }
  | {
    channelId: string;
    by: "unexplained";
    /** What the chain shows instead of one settle. */
    why: string;
    refused?: string;
  };

/**
 * Names the settle of each payout channel from the chain's facts (by channel id): explained
 * when the channel is gone from the chain with exactly one `ChannelSettled` log and the
 * provider is one of its participants; otherwise `unexplained`, with what the chain shows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attributeSettles } from "./payout_settles.ts";
 *
 * const town = "0x" + "1".repeat(40), provider = "0x" + "2".repeat(40);
 * const [a] = attributeSettles([{ channelId: "0xc1", provider, refused: "WrongChannelState" }], [{
 *   channelId: "0xc1",
 *   participant1: town,
 *   participant2: provider,
 *   closers: [provider],
 *   settles: [{ tx: "0xf1", from: town, block: "9", amount1: "400", amount2: "600" }],
 *   state: "none",
 * }]);
 * assert.equal(a.by, "town");
 * assert.equal(a.by === "town" && a.paidToProvider, "600");
 * ```
 */
export function attributeSettles(
  channels: readonly PayoutChannel[],
  facts: readonly ChannelChainFacts[],
): SettleAttribution[] {
  const byId = new Map(facts.map((f) => [f.channelId.toLowerCase(), f]));
  return channels.map((c): SettleAttribution => {
    const id = c.channelId.toLowerCase();
    const refused = c.refused === undefined ? {} : { refused: c.refused };
    const f = byId.get(id);
    const unexplained = (why: string): SettleAttribution => ({
      channelId: id,
      by: "unexplained",
      why,
      ...refused,
    });
    if (f === undefined || f.state === "unread") {
      return unexplained(`its state not read from the chain${f ? `: ${f.unread}` : ""}`);
    }
    if (f.state !== "none") return unexplained(`still ${f.state} on chain`);
    if (f.settles.length !== 1) {
      return unexplained(`gone from the chain with ${f.settles.length} ChannelSettled logs`);
    }
    const provider = c.provider.toLowerCase();
    const side = f.participant1 === provider ? 1 : f.participant2 === provider ? 2 : 0;
    if (side === 0) {
      return unexplained(
        f.participant1 === undefined
          ? "no ChannelOpened log"
          : `the provider is not a participant (${f.participant1}, ${f.participant2})`,
      );
    }
    const s = f.settles[0];
    const town = side === 1 ? f.participant2 : f.participant1;
    const by = s.from === provider
      ? (s.tx === c.harnessTx?.toLowerCase() ? "harness" : "provider")
      : s.from === town
      ? "town"
      : "other";
    return {
      channelId: id,
      by,
      tx: s.tx,
      from: s.from,
      paidToProvider: side === 1 ? s.amount1 : s.amount2,
      ...refused,
    };
  });
}

/**
 * Reads the facts of `channelIds` from the chain: the TokenNetwork's `ChannelOpened`,
 * `ChannelClosed` and `ChannelSettled` logs from `fromBlock` (three queries, matched by channel
 * id), each settle's sender, and each channel's state (`unread`, with why, when the RPC does not
 * answer for it: the harness's report then names that channel instead of failing).
 *
 * It reads a chain's logs, so it has no example here:
 * tests/interop/anvil_payout_settle_attribution_test.ts reads the facts of channels settled on anvil
 * with it.
 */
export async function readChannelFacts(
  client: TokenNetworkClient,
  channelIds: readonly string[],
  fromBlock: bigint,
  concurrency = 8,
): Promise<ChannelChainFacts[]> {
  const range = {
    address: client.tokenNetworkAddress,
    fromBlock,
    toBlock: "latest",
  } as const;
  const [opened, closed, settled] = await Promise.all([
    client.publicClient.getLogs({ ...range, event: CHANNEL_OPENED }),
    client.publicClient.getLogs({ ...range, event: CHANNEL_CLOSED }),
    client.publicClient.getLogs({ ...range, event: CHANNEL_SETTLED }),
  ]);
  const facts = new Map<string, ChannelChainFacts>(
    channelIds.map((id) => [id.toLowerCase(), {
      channelId: id.toLowerCase(),
      closers: [],
      settles: [],
      state: "none",
    }]),
  );
  const of = (id: Hex | undefined) => facts.get((id ?? "").toLowerCase());
  for (const l of opened) {
    const f = of(l.args.channelId);
    if (f === undefined) continue;
    f.participant1 = l.args.participant1?.toLowerCase();
    f.participant2 = l.args.participant2?.toLowerCase();
  }
  for (const l of closed) of(l.args.channelId)?.closers.push(String(l.args.closer).toLowerCase());
  const queue = [...settled.filter((l) => of(l.args.channelId) !== undefined)];
  const ids = [...facts.values()];
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, async () => {
    for (let l = queue.shift(); l !== undefined; l = queue.shift()) {
      const tx = await client.publicClient.getTransaction({ hash: l.transactionHash! });
      of(l.args.channelId)!.settles.push({
        tx: l.transactionHash!.toLowerCase(),
        from: tx.from.toLowerCase(),
        block: String(l.blockNumber),
        amount1: String(l.args.amount1),
        amount2: String(l.args.amount2),
      });
    }
    for (let f = ids.shift(); f !== undefined; f = ids.shift()) {
      try {
        f.state = (await client.getChannel(f.channelId as Hex)).state;
      } catch (err) {
        f.state = "unread";
        f.unread = (err as Error).message.split("\n")[0];
      }
    }
  }));
  return [...facts.values()];
}

const CHANNEL_OPENED = parseAbiItem(
  "event ChannelOpened(bytes32 indexed channelId, address indexed participant1, address indexed participant2, uint256 settleTimeout)",
);
const CHANNEL_CLOSED = parseAbiItem(
  "event ChannelClosed(bytes32 indexed channelId, address indexed closer, address signer, uint256 nonce, uint256 transferredAmount)",
);
/** The TokenNetwork contract's settle event (chain/contracts/TokenNetwork.sol). */
export const CHANNEL_SETTLED = parseAbiItem(
  "event ChannelSettled(bytes32 indexed channelId, uint256 amount1, uint256 amount2)",
);
