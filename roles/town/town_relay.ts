/**
 * A town's start-up step that makes its write side: the subscription hub that pushes committed
 * events to live subscriptions (those of the town's other processes too, on a shared store), the
 * SPSP responder and the paid write pipeline (docs/ARCHITECTURE.md "The roles").
 *
 * @module
 */
import type { TownSettings } from "../../config/town_settings.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { sleep } from "../../protocol/backoff.ts";
import type { TownBlobStore } from "../../state/blobs/town_blob_store.ts";
import { SubscriptionHub } from "./relay/subscription_hub.ts";
import { SpspResponder } from "./spsp/spsp_responder.ts";
import { deriveSpspSeed, SpspSecrets } from "./spsp/spsp_secrets.ts";
import type { TownAddress } from "./town_address.ts";
import type { TownSizing } from "./town_sizing.ts";
import type { TownClosers } from "./town_stop.ts";
import type { TownStores } from "./town_stores.ts";
import { createWritePipeline, type WritePipeline } from "./write/write_pipeline.ts";

/** Options for {@linkcode createTownRelay}. */
export interface TownRelayOptions {
  config: Pick<TownSettings, "pricing" | "maxEventBytes">;
  stores: Pick<TownStores, "store" | "sharedBuckets" | "databasePath" | "postgresStore">;
  sizing: Pick<TownSizing, "limits" | "townLimits">;
  /** The town's identity: signs SPSP answers, seeds the shared secrets. */
  signer: NodeSigner;
  address: TownAddress;
  /** The blob store paid uploads go to. */
  townBlobs: TownBlobStore;
  blobPricePerMiB: bigint;
  /** Group commit of concurrent writes (default true). */
  groupCommit: boolean | undefined;
  /** Signature-verifying workers; default: cores - 1 (1..4), 0 on a shared store. */
  verifierWorkers: number | undefined;
  /** Where the pipeline's closing is added (what is queued is committed). */
  closers: TownClosers;
}

/** The write side of a town. */
export interface TownRelay {
  hub: SubscriptionHub;
  pipeline: WritePipeline;
}

/**
 * Makes the hub, the SPSP responder and the write pipeline; adds the pipeline's closing to
 * `closers`.
 *
 * It is a step of startTownNode (its example starts a town here): no example that runs here:
 * tests/unit/protocol/town_client_test.ts.
 */
export async function createTownRelay(options: TownRelayOptions): Promise<TownRelay> {
  const { config, stores: { store, sharedBuckets, postgresStore }, address, signer } = options;
  const onSharedStore = postgresStore !== undefined;
  const { limits, townLimits } = options.sizing;
  const hub = new SubscriptionHub();
  // Events other processes of this town commit (a shared store) go out live here too.
  store.onCommittedElsewhere(({ event, toon }) => hub.publish(event, toon));
  const secrets = new SpspSecrets({ seed: await deriveSpspSeed(signer) });
  const responder = new SpspResponder({
    signer,
    secrets,
    townAddress: () => address.ilpAddress,
    assetCode: address.assetCode,
    assetScale: address.assetScale,
    perAccountPerMinute: limits.spspPerAccountPerMinute,
    totalPerMinute: limits.spspTotalPerMinute,
    maxQueued: limits.spspMaxQueued,
    queueTimeoutMs: limits.spspQueueTimeoutMs,
    shared: sharedBuckets && {
      buckets: sharedBuckets,
      perAccountPerMinute: townLimits.spspPerAccountPerMinute,
      totalPerMinute: townLimits.spspTotalPerMinute,
    },
  });
  const pipeline = createWritePipeline({
    store,
    hub,
    secrets,
    responder,
    pricing: config.pricing,
    townAddress: () => address.ilpAddress,
    maxEventBytes: config.maxEventBytes,
    groupCommit: options.groupCommit,
    databasePath: onSharedStore ? undefined : options.stores.databasePath,
    // On a shared store the processes are the parallelism: each verifies on its main thread,
    // which saves a worker's ~20 MiB per process (docs/OPERATIONS.md "A town on several machines").
    verifierWorkers: options.verifierWorkers ?? (onSharedStore ? 0 : undefined),
    blobs: options.townBlobs,
    blobPricePerMiB: options.blobPricePerMiB,
    createdAtWindow: limits,
  });
  options.closers.add(async () => {
    pipeline.close();
    await pipeline.committer.close();
    // Let an already scheduled flush timer run (it finds the queue empty) before closing.
    await sleep(0);
  });
  return { hub, pipeline };
}
