/**
 * Worker side of {@linkcode WriteVerifierPool}: verifies batches of events (id + BIP-340
 * signature, protocol/event_verifier.ts) off the town's main thread. Runs with no permissions.
 * Message in: `{ batch: number, events: NostrEvent[] }`; out: `{ batch, errors: (string|null)[] }`
 * with the EventValidationError reason (`bad-id`, `bad-sig`) of each bad event, null for a good one.
 * Once loaded it posts `{ batch: 0, errors: [] }` (ready).
 *
 * @module
 */
import {
  EventValidationError,
  loadEventVerifier,
  verifyEvent,
} from "../../../protocol/event_verifier.ts";
import type { NostrEvent } from "../../../protocol/nostr_event.ts";
import { inWorker, serveWorker } from "../../../transport/worker_service.ts";

/** A batch to verify. */
export interface VerifyBatchRequest {
  batch: number;
  events: NostrEvent[];
}

/** The verdicts, in order. */
export interface VerifyBatchResponse {
  batch: number;
  errors: (string | null)[];
}

/**
 * Verifies one batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { verifyBatch } from "./write_verifier_worker.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const forged = { ...event, content: "changed" };
 * const { batch, errors } = verifyBatch({ batch: 1, events: [event, forged] });
 * assert.equal(batch, 1);
 * assert.equal(errors[0], null);
 * assert.notEqual(errors[1], null); // the id no longer matches
 * ```
 */
export function verifyBatch(request: VerifyBatchRequest): VerifyBatchResponse {
  return {
    batch: request.batch,
    errors: request.events.map((event) => {
      try {
        verifyEvent(event);
        return null;
      } catch (err) {
        return err instanceof EventValidationError ? err.reason : "bad-sig";
      }
    }),
  };
}

// Only when loaded as a worker (the module is also imported for its types and verifyBatch).
// "ready" is said once its imports (a top-level await among them) have loaded: a batch posted
// before would be dispatched to no handler and lost.
// A worker starts at a burst of writes: it loads the WebAssembly verifier before it says ready.
if (inWorker()) {
  await loadEventVerifier();
  serveWorker({ onRequest: verifyBatch });
}
