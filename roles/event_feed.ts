/**
 * The events a running node follows, as the receiving pipeline of docs/ARCHITECTURE.md:
 * `relay-source -> kind-extractor`, each stage in its own Deno worker with its permission
 * profile (the relay source may reach its relay's host and port and nothing else; the kind
 * extractor nothing at all). What comes out is summaries of events (kind, id, pubkey, e/p tags
 * and the untouched TOON); the node verifies and acts on them. The relay source's disconnects,
 * CLOSED and NOTICE messages cross the boundary as log chunks.
 *
 * With `authenticate`, the relay's NIP-42 challenge is answered with the node's key, so the town
 * serves the private kinds addressed to the node: the relay source asks this thread for the
 * signed answer (`pipeline/worker_authenticator.ts`) and never holds the key; this thread signs
 * only for the feed's own relay URL.
 *
 * Batches leave a stage as soon as the event loop turns (`maxBatchDelayMs` 0): on a live
 * subscription every event is its own batch, and a timer would add its clamp to each.
 *
 * @module
 */
import { createPipeline, type StageErrorRecord } from "../pipeline/pipeline.ts";
import type { Chunk, FailedChunk, StageLogEntry, SummaryChunk } from "../stages/chunks.ts";
import { kindExtractorStage } from "../stages/kind_extractor.ts";
import { type RelaySourceOptions, relaySourceStage } from "../stages/relay_source.ts";
import { trustedCaCerts } from "../transport/tls_trust.ts";
import { describePermissions } from "../stages/stage.ts";
import type { StageModuleRef } from "../stages/stage_registry.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { NostrFilter } from "../protocol/nostr_filter.ts";
import { RoleError } from "./role_error.ts";

/** The feed was asked to sign a NIP-42 answer for a relay other than its own. */
export class EventFeedAuthError extends RoleError {
  /** `"EventFeedAuthError"`: explicit so it survives bundling. */
  override name = "EventFeedAuthError";
}

/** Options for {@linkcode openEventFeed}. */
export interface EventFeedOptions {
  /** The relay (the node's town), `ws://` or `wss://`. */
  relay: string;
  filters: NostrFilter[];
  /** Reconnect backoff of the relay source (see `stages/relay_source.ts`). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Seconds before the newest event seen that a reconnect asks from (the relay source's; default
   * 5): at least how late an event can reach the relay after its `created_at`.
   */
  overlapSeconds?: number;
  /** Largest relay message accepted (the relay source's; default 1 MiB). */
  maxMessageBytes?: number;
  /** "workers" (default): each stage in its worker; "inline": the same pipeline in this thread (benchmarks). */
  mode?: "workers" | "inline";
  /** Stage modules to load instead of the registered ones (plugins, and tests of the boundary). */
  stageModules?: { relaySource?: StageModuleRef; kindExtractor?: StageModuleRef };
  /**
   * NIP-42: answers the relay's challenge, to read private kinds (gift wraps, job results). Run
   * in this thread (the node's signer) whatever the mode: no stage's worker holds the key.
   */
  authenticate?: (challenge: string, relayUrl: string) => Promise<NostrEvent>;
  /** Each event, in arrival order; the next waits until it resolves. */
  onEvent: (event: SummaryChunk) => void | Promise<void>;
  /** The relay source's disconnects, CLOSED and NOTICE messages. */
  onLog?: (entry: StageLogEntry) => void;
  /** An event a stage could not read, or a stage that crashed or was denied a permission. */
  onFailure?: (failure: FailedChunk | StageErrorRecord) => void;
}

/** A running feed. */
export interface EventFeed {
  /** How the stages run. */
  readonly mode: "workers" | "inline";
  /** The stages and what each may do, in a line for operators. */
  readonly description: string;
  /** Stage errors so far (crashes, permission denials, restart limits). */
  errors(): StageErrorRecord[];
  /** Resolves when the feed ended (closed, or its relay refused the subscription for good). */
  readonly done: Promise<void>;
  /** Stops reading and terminates the stages' workers. */
  close(): Promise<void>;
}

/**
 * Opens the feed and starts delivering events to `onEvent`.
 *
 * It follows a relay, so it has no example here: tests/interop/event_feed_test.ts reads the
 * independent reference relay through it, and tests/interop/feed_private_kinds_test.ts a town's
 * private kinds.
 */
export async function openEventFeed(options: EventFeedOptions): Promise<EventFeed> {
  const mode = options.mode ?? "workers";
  const source: RelaySourceOptions = {
    relay: options.relay,
    filters: options.filters,
    initialBackoffMs: options.initialBackoffMs,
    maxBackoffMs: options.maxBackoffMs,
    ...(options.overlapSeconds === undefined ? {} : { overlapSeconds: options.overlapSeconds }),
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    logChunks: true,
    // A stage worker does not share this process's trusted CAs: they go in its options.
    ...(trustedCaCerts().length > 0 ? { caCerts: [...trustedCaCerts()] } : {}),
  };
  const pipeline = await createPipeline({
    mode,
    maxBatchDelayMs: 0,
    stages: [
      {
        name: "relay-source",
        options: source,
        module: options.stageModules?.relaySource,
        authenticate: ownRelayOnly(options.relay, options.authenticate),
      },
      { name: "kind-extractor", options: {}, module: options.stageModules?.kindExtractor },
    ],
  });
  const reader = pipeline.output.getReader();
  let reported = 0;
  const reportStageErrors = () => {
    const errors = pipeline.errors();
    for (; reported < errors.length; reported++) options.onFailure?.(errors[reported]);
  };
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      reportStageErrors();
      if (done || value === undefined) return;
      for (const chunk of value) {
        // A handler's error is the node's to report; the feed goes on with the next event.
        await deliver(chunk, options).catch((err: Error) =>
          options.onFailure?.({
            type: "failed",
            stage: "event-feed",
            error: err.name,
            message: `handling an event failed: ${err.message}`,
          })
        );
      }
    }
  })();
  return {
    mode,
    description: describeFeed(mode, source, options.authenticate !== undefined),
    errors: () => pipeline.errors(),
    done,
    async close() {
      await reader.cancel().catch(() => {});
      await pipeline.close();
      await done;
    },
  };
}

/** The feed signs answers for its own relay only, whatever a stage in a worker asks for. */
function ownRelayOnly(
  relay: string,
  authenticate: EventFeedOptions["authenticate"],
): EventFeedOptions["authenticate"] {
  if (authenticate === undefined) return undefined;
  return (challenge, relayUrl) =>
    relayUrl === relay
      ? authenticate(challenge, relayUrl)
      : Promise.reject(new EventFeedAuthError(`not this feed's relay: ${relayUrl}`));
}

async function deliver(chunk: Chunk, options: EventFeedOptions): Promise<void> {
  switch (chunk.type) {
    case "summary":
      return await options.onEvent(chunk);
    case "log":
      return options.onLog?.(chunk.entry);
    case "failed":
      return options.onFailure?.(chunk);
  }
}

function describeFeed(
  mode: "workers" | "inline",
  source: RelaySourceOptions,
  auth: boolean,
): string {
  const answers = auth ? ", NIP-42 answers signed in the node's thread" : "";
  if (mode === "inline") {
    return `relay-source -> kind-extractor, inline (the node's permissions)${answers}`;
  }
  const relay = describePermissions(relaySourceStage.permissions(source));
  const extractor = describePermissions(kindExtractorStage.permissions({}));
  return `relay-source (${relay}) -> kind-extractor (${extractor}), each in its worker${answers}`;
}
