/**
 * A test receiver: a BtpClient connected to a connector account that fulfils PREPAREs with the
 * shared-secret scheme of docs/PROTOCOL.md, and can be told to misbehave by destination suffix so
 * tests reach the connector's own reject paths through the real thing.
 *
 * Suffixes of the destination (after the receiver's address): `.wrong` answers a fulfillment
 * that does not match; `.slow` answers only after the packet expired; `.busy<N>` rejects T02
 * for the first N packets with the same data, then fulfils; `.refuse` rejects F99.
 *
 * @module
 */
import { ILP_ERROR } from "../protocol/ilp_packet.ts";
import { BtpClient } from "../transport/btp_client.ts";
import { fulfillmentFor, importFulfillmentKey } from "../protocol/ilp_fulfillment.ts";
import type { IlpPrepare, IlpReply } from "../protocol/ilp_packet.ts";

/** Options for {@linkcode startIlpReceiver}. */
export interface IlpReceiverOptions {
  url: string;
  authToken: string;
  sharedSecret: Uint8Array;
  reconnectInitialDelayMs?: number;
}

/** A running receiver. */
export interface IlpReceiver {
  client: BtpClient;
  /** Every PREPARE received, in arrival order. */
  received: IlpPrepare[];
  /** Resolves once every handler call that started has answered (for clean test exits). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects a receiver.
 *
 * It connects to a BTP server (the reference connector or a town), so it has no example here:
 * tests/interop/connector_ilp_prepare_sink_test.ts and tests/e2e/town_process_forward_test.ts
 * receive with it.
 */
export async function startIlpReceiver(options: IlpReceiverOptions): Promise<IlpReceiver> {
  const key = await importFulfillmentKey(options.sharedSecret);
  const received: IlpPrepare[] = [];
  const busyCounts = new Map<string, number>();
  const inflight = new Set<Promise<unknown>>();
  const empty = new Uint8Array(0);
  const reject = (code: string, message: string): IlpReply => ({
    type: "reject",
    code,
    triggeredBy: client.ilpAddress ?? "",
    message,
    data: empty,
  });
  const answer = async (prepare: IlpPrepare): Promise<IlpReply> => {
    received.push(prepare);
    const { fulfillment } = await fulfillmentFor(key, prepare.data);
    const suffix = prepare.destination.split(".").pop() ?? "";
    if (suffix === "wrong") {
      return { type: "fulfill", fulfillment: fulfillment.map((b) => b ^ 1), data: empty };
    }
    if (suffix === "refuse") {
      return reject(ILP_ERROR.finalApplicationError, "refused by test receiver");
    }
    if (suffix.startsWith("busy")) {
      const dataKey = new TextDecoder().decode(prepare.data);
      const seen = busyCounts.get(dataKey) ?? 0;
      busyCounts.set(dataKey, seen + 1);
      if (seen < Number(suffix.slice(4))) return reject(ILP_ERROR.peerBusy, `busy (${seen + 1})`);
    }
    if (suffix === "slow") {
      await new Promise((r) => setTimeout(r, prepare.expiresAt.getTime() - Date.now() + 300));
    }
    return { type: "fulfill", fulfillment, data: empty };
  };
  const client = new BtpClient({
    url: options.url,
    authToken: options.authToken,
    reconnectInitialDelayMs: options.reconnectInitialDelayMs,
    onPrepare: (prepare) => {
      const p = answer(prepare);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      return p;
    },
  });
  await client.connect();
  await client.fetchIldcp();
  return {
    client,
    received,
    settled: async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    close: () => client.close(),
  };
}
