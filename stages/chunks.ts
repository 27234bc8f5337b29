/**
 * The typed chunks that flow between stages. Every chunk is a plain, structured-cloneable
 * object with a `type` discriminator, so it can cross a Worker boundary and be written as one
 * JSON line by a stage that runs alone (see `record_framing.ts`).
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import type { ToonSummary } from "../protocol/kind_extractor.ts";
import type { Nip01LogEntry } from "../transport/nip01_client.ts";

/** An event as raw TOON text, exactly as received from a relay or produced by the encoder. */
export interface ToonChunk {
  /** Discriminator. */
  type: "toon";
  /** The event as TOON text, one document (see `protocol/toon_codec.ts`). */
  toon: string;
  /** Where it came from: a relay URL, a file name, "stdin". */
  source?: string;
  /** The subscription id it arrived on, when it came from a relay. */
  subId?: string;
  /** Milliseconds since the epoch when it was received. */
  receivedAt?: number;
}

/**
 * What the shallow kind extractor reads from TOON bytes without a full decode: the protocol's
 * {@linkcode ToonSummary} (kind, id, pubkey, created_at, `e` and `p` values) with the TOON text.
 */
export interface SummaryChunk extends ToonSummary {
  /** Discriminator. */
  type: "summary";
  /** The untouched TOON text, carried on for skills that want the raw event. */
  toon: string;
  /** Where the event came from, carried over from the ToonChunk. */
  source?: string;
}

/** An event matched to a job this node recorded, with the skill its result goes to. */
export interface CorrelatedChunk {
  /** Discriminator. */
  type: "correlated";
  /** The event that refers to the job. */
  summary: SummaryChunk;
  /** Event id of the job request, 64 lowercase hex chars. */
  jobId: string;
  /** Callback skill named when the job was posted. */
  skill: string;
  /** result (6000-6999), feedback (7000), or other kinds referring to the job. */
  role: "result" | "feedback" | "other";
}

/** An unsigned event on its way to the signer. */
export interface TemplateChunk {
  /** Discriminator. */
  type: "template";
  /** The event to sign; the signer adds `pubkey`, `id` and `sig`. */
  template: EventTemplate;
  /** Caller's reference, carried through signing and sending to match outcomes. */
  ref?: string;
}

/** A signed event on its way to the encoder. */
export interface EventChunk {
  /** Discriminator. */
  type: "event";
  /** The signed event (id and signature computed, not re-verified here). */
  event: NostrEvent;
  /** Caller's reference, carried over from the TemplateChunk. */
  ref?: string;
}

/** An ILP PREPARE to send, fully specified (amounts are decimal strings: uint64). */
export interface PrepareChunk {
  /** Discriminator. */
  type: "prepare";
  /** ILP address of the receiver, e.g. `g.town.alice`. */
  destination: string;
  /** Amount in base units of the asset, a decimal uint64 string. */
  amount: string;
  /** 32 bytes, hex. */
  executionCondition: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Packet data, base64. */
  data: string;
  /** Caller's reference, copied to the PrepareOutcomeChunk. */
  ref?: string;
}

/** The outcome of sending one PREPARE. */
export interface PrepareOutcomeChunk {
  /** Whether the PREPARE was paid (FULFILL) or refused (REJECT). */
  type: "fulfill" | "reject";
  /** The PrepareChunk's (or TemplateChunk's) reference, to match the outcome. */
  ref?: string;
  /** fulfill: 32-byte fulfillment, hex. */
  fulfillment?: string;
  /** reject: ILP error code such as F04. */
  code?: string;
  /** reject: the ILP error message, UTF-8. */
  message?: string;
  /** reject: ILP address of the node that rejected; empty when unknown. */
  triggeredBy?: string;
  /** Response data, base64. */
  data?: string;
  /** Attempts made (T-class rejects are retried). */
  attempts: number;
  /** Milliseconds from the first attempt to the final reply, retry delays included. */
  latencyMs: number;
}

/** What the skill sink did with one correlated event. */
export interface SkillOutcomeChunk {
  /** Discriminator. */
  type: "skill-outcome";
  /** Event id of the job request, 64 lowercase hex chars. */
  jobId: string;
  /** Name of the skill that ran (its directory under the skills dir). */
  skill: string;
  /** Id of the event the skill was run for (64 hex chars). */
  eventId: string;
  /** The skill's process exit code (0 = success); nonzero when killed on timeout. */
  exitCode: number;
  /** Stdout of the skill's run, capped (default 64 KiB) with a truncation note, for logs. */
  stdout: string;
  /** Truncated stderr of the skill's run; notes a kill on timeout. */
  stderr: string;
  /** Wall-clock milliseconds the skill ran, rounded. */
  durationMs: number;
}

/** A chunk a stage could not process; reported downstream instead of being dropped. */
export interface FailedChunk {
  /** Discriminator. */
  type: "failed";
  /** Name of the stage that could not process the input (kebab-case). */
  stage: string;
  /** Error class name, e.g. ToonShallowParseError. */
  error: string;
  /** The error's message, human-readable. */
  message: string;
  /** The input that failed, when it is small enough to carry (else a prefix). */
  input?: unknown;
}

/**
 * Something a stage did or heard that is not data (a relay's NOTICE, a disconnect): the NIP-01
 * client's log entries, which the relay source passes on as they are.
 */
export type StageLogEntry = Nip01LogEntry;

/**
 * A stage's log entry carried to the pipeline's consumer (a stage in a worker has no other way
 * to report): like a FailedChunk it bypasses every later stage.
 */
export interface LogChunk {
  /** Discriminator. */
  type: "log";
  /** Name of the stage that logged it (kebab-case). */
  stage: string;
  /** What happened. */
  entry: StageLogEntry;
}

/**
 * Whether a chunk is a report (a failure or a log entry) rather than data: reports pass every
 * later stage untouched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const failed = { type: "failed" as const, stage: "signer", error: "SignerError", message: "no key" };
 * assert.equal(isReportChunk(failed), true); // a stage passes it on as it is
 * assert.equal(isReportChunk({ type: "log", stage: "relay-source", entry: { type: "open" } }), true);
 * ```
 */
export function isReportChunk(chunk: Chunk): chunk is FailedChunk | LogChunk {
  return chunk.type === "failed" || chunk.type === "log";
}

/** Any chunk. */
export type Chunk =
  | LogChunk
  | ToonChunk
  | SummaryChunk
  | CorrelatedChunk
  | TemplateChunk
  | EventChunk
  | PrepareChunk
  | PrepareOutcomeChunk
  | SkillOutcomeChunk
  | FailedChunk;
