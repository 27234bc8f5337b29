/**
 * The typed chunks that flow between stages. Every chunk is a plain, structured-cloneable
 * object with a `type` discriminator, so it can cross a Worker boundary and be written as one
 * JSON line by a stage that runs alone (see `record_framing.ts`).
 *
 * @module
 */
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";

/** An event as raw TOON text, exactly as received from a relay or produced by the encoder. */
export interface ToonChunk {
  type: "toon";
  toon: string;
  /** Where it came from: a relay URL, a file name, "stdin". */
  source?: string;
  /** The subscription id it arrived on, when it came from a relay. */
  subId?: string;
  /** Milliseconds since the epoch when it was received. */
  receivedAt?: number;
}

/** What the shallow kind extractor reads from TOON bytes without a full decode. */
export interface SummaryChunk {
  type: "summary";
  kind: number;
  id: string;
  pubkey: string;
  created_at: number;
  /** Values of `e` tags, in order. */
  e: string[];
  /** Values of `p` tags, in order. */
  p: string[];
  /** The untouched TOON text, carried on for skills that want the raw event. */
  toon: string;
  source?: string;
}

/** An event matched to a job this node recorded, with the skill its result goes to. */
export interface CorrelatedChunk {
  type: "correlated";
  summary: SummaryChunk;
  jobId: string;
  /** Callback skill named when the job was posted. */
  skill: string;
  /** result (6000-6999), feedback (7000), or other kinds referring to the job. */
  role: "result" | "feedback" | "other";
}

/** An unsigned event on its way to the signer. */
export interface TemplateChunk {
  type: "template";
  template: EventTemplate;
  /** Caller's reference, carried through signing and sending to match outcomes. */
  ref?: string;
}

/** A signed event on its way to the encoder. */
export interface EventChunk {
  type: "event";
  event: NostrEvent;
  ref?: string;
}

/** An ILP PREPARE to send, fully specified (amounts are decimal strings: uint64). */
export interface PrepareChunk {
  type: "prepare";
  destination: string;
  amount: string;
  /** 32 bytes, hex. */
  executionCondition: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Packet data, base64. */
  data: string;
  ref?: string;
}

/** The outcome of sending one PREPARE. */
export interface PrepareOutcomeChunk {
  type: "fulfill" | "reject";
  ref?: string;
  /** fulfill: 32-byte fulfillment, hex. */
  fulfillment?: string;
  /** reject: ILP error code such as F04. */
  code?: string;
  message?: string;
  triggeredBy?: string;
  /** Response data, base64. */
  data?: string;
  /** Attempts made (T-class rejects are retried). */
  attempts: number;
  latencyMs: number;
}

/** What the skill sink did with one correlated event. */
export interface SkillOutcomeChunk {
  type: "skill-outcome";
  jobId: string;
  skill: string;
  eventId: string;
  exitCode: number;
  /** Truncated stdout/stderr of the skill's run, for logs. */
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A chunk a stage could not process; reported downstream instead of being dropped. */
export interface FailedChunk {
  type: "failed";
  stage: string;
  /** Error class name, e.g. ToonShallowParseError. */
  error: string;
  message: string;
  /** The input that failed, when it is small enough to carry (else a prefix). */
  input?: unknown;
}

/** Any chunk. */
export type Chunk =
  | ToonChunk
  | SummaryChunk
  | CorrelatedChunk
  | TemplateChunk
  | EventChunk
  | PrepareChunk
  | PrepareOutcomeChunk
  | SkillOutcomeChunk
  | FailedChunk;
