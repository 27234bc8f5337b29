/**
 * Where a provider publishes a result's output blobs (docs/PROTOCOL.md "Blobs in jobs";
 * docs/OPERATIONS.md "Several towns"): on one of the towns the result goes to, so that its
 * requester can fetch it. A requester fetches a result blob by its hash from its own towns
 * only (roles/requester/town_blob_fetch.ts), and the towns a result goes to are the request's
 * (roles/town_client/town_clients.ts `targetsFor`): a blob on the provider's home town alone is
 * out of reach of a requester on another town, even when the payments cross the towns.
 *
 * The home town first when it is one of them (its price known, no payment crossing towns),
 * then each other in turn until one stores the blob: one town, paid once, is enough.
 *
 * @module
 */
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import type { IlpReply } from "../../../protocol/ilp_packet.ts";
import { blobServerOf, fetchRelayInfo, townBlobPrice } from "../../../transport/relay_info.ts";
import { publishBlob, type PublishedBlob } from "../../blob_publisher.ts";
import type { NodeSigner } from "../../../protocol/node_signer.ts";

/** Options for {@linkcode publishOnResultTown}. */
export interface PublishOnResultTownOptions {
  /** The file to publish. */
  path: string;
  /** The towns the job's result goes to (relay URLs). */
  targets: readonly string[];
  /** The provider's home town (relay URL). */
  home: string;
  /** The home town's blob price per MiB (another town's: its NIP-11 `fees.blob`, else this). */
  homePricePerMiB: bigint;
  signer: NodeSigner;
  /** Pays `relay`'s town for the upload (its town client's `sendPaid`). */
  pay: (relay: string, authorization: NostrEvent, amount: bigint) => Promise<IlpReply>;
}

/**
 * Publishes `path` on the first of the result's towns that stores it (the home town first).
 *
 * It uploads to towns: no example that runs here: tests/e2e/blob_job_test.ts.
 * @throws {Error} the last town's error when none stored it.
 */
export async function publishOnResultTown(o: PublishOnResultTownOptions): Promise<PublishedBlob> {
  const order = o.targets.includes(o.home)
    ? [o.home, ...o.targets.filter((t) => t !== o.home)]
    : o.targets.length > 0
    ? [...o.targets]
    : [o.home];
  let last: unknown;
  for (const relay of order) {
    try {
      const price = relay === o.home
        ? o.homePricePerMiB
        : await fetchRelayInfo(relay).then(townBlobPrice, () => undefined) ?? o.homePricePerMiB;
      return await publishBlob({
        path: o.path,
        server: blobServerOf(relay),
        pricePerMiB: price,
        signer: o.signer,
        pay: (auth, amount) => o.pay(relay, auth, amount),
      });
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
