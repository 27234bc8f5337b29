/**
 * Test helper: alice paying bob's town with claims over a fresh channel, all real: a fresh
 * anvil with the contracts (harness/anvil_channel_pair.ts), the channel opened on chain,
 * a claim town (harness/channel_town.ts) with its state dir, and alice connected with
 * claims from hers. Disposing closes the client, stops the town and anvil, removes both dirs.
 *
 * @module
 */
import { assertEquals } from "../../harness/assert.ts";
import { type ChannelPair, startChannelPair } from "../../harness/anvil_channel_pair.ts";
import {
  type ClaimClient,
  type ClaimTown,
  claimTownContact,
  connectClaimClient,
  startClaimTown,
} from "../../harness/channel_town.ts";
import { openPairChannel, type PairChannel } from "../../harness/pair_channel.ts";

/** Options for {@linkcode startPaidChannel}. */
export interface PaidChannelOptions {
  /** Alice's deposit (base units). */
  deposit: bigint;
  /** Prefix of the two temporary state dirs. */
  prefix: string;
  /** Alice's claims run this far ahead of what she pays. Default 0. */
  prepay?: bigint;
}

/** The channel, both sides and their state dirs. */
export interface PaidChannel extends AsyncDisposable {
  pair: ChannelPair;
  channel: PairChannel;
  channelId: `0x${string}`;
  townDir: string;
  aliceDir: string;
  town: ClaimTown;
  payer: ClaimClient;
  /** Alice pays `n` writes, each of which must be FULFILLed. */
  pay(n: number): Promise<void>;
}

/**
 * Starts everything; alice has paid nothing yet.
 *
 * @example
 * ```ts
 * await using s = await startPaidChannel({ deposit: 50_000_000n, prefix: "cosign_" });
 * await s.pay(5);
 * ```
 */
export async function startPaidChannel(options: PaidChannelOptions): Promise<PaidChannel> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const pair = await startChannelPair();
    cleanups.push(() => pair.anvil.stop());
    const channel = await openPairChannel(pair, { deposit: options.deposit });
    const townDir = await Deno.makeTempDir({ prefix: `${options.prefix}town_` });
    cleanups.push(() => Deno.remove(townDir, { recursive: true }));
    const aliceDir = await Deno.makeTempDir({ prefix: `${options.prefix}alice_` });
    cleanups.push(() => Deno.remove(aliceDir, { recursive: true }));
    const town = await startClaimTown({
      stateDir: townDir,
      secretKey: pair.bobKey,
      bob: pair.bob,
      record: channel.townRecord,
    });
    cleanups.push(() => town.stop());
    const payer = await connectClaimClient({
      ...claimTownContact(town.town),
      stateDir: aliceDir,
      secretKey: pair.aliceKey,
      record: channel.aliceRecord,
      prepay: options.prepay,
    });
    cleanups.push(() => payer.close());
    return {
      pair,
      channel,
      channelId: channel.channelId,
      townDir,
      aliceDir,
      town,
      payer,
      pay: async (n) => {
        for (let i = 0; i < n; i++) {
          // A fresh event each time (the same one again would be a free duplicate).
          const { reply } = await payer.write(payer.sign(`paid note ${i} ${crypto.randomUUID()}`));
          assertEquals(reply.type, "fulfill", reply.type === "reject" ? reply.message : "");
        }
      },
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
