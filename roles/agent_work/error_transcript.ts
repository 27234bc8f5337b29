/**
 * An agent task that delivers nothing (its agent failed, it was cancelled, it timed out, the
 * provider crashed under it) still has a transcript, and its requester reads it
 * (docs/PROTOCOL.md "Errors of an encrypted job"). The provider seals the transcript it kept with a
 * fresh key and publishes it as the blob `transcript.log.sealed` on a town the error goes to: the
 * error feedback names it with a `blob` tag (ciphertext, as a result's blobs are). The key rides
 * inside the feedback's NIP-44 encrypted content, beside the reason:
 *
 *     {"reason": "<the error>", "transcript": {"key": "<64 hex>", "bytes": <n>}}
 *
 * A content that is not such an object is the reason itself (a provider with no transcript to
 * send writes the bare reason, as before). One module for both sides, so the two cannot drift.
 *
 * @module
 */

/** The key and sizes of an error's sealed transcript. */
export interface ErrorTranscriptKey {
  /** The blob's AES-256-GCM key, 64 hex (roles/agent_work/sealed_blob.ts). */
  key: string;
  /**
   * Bytes sealed: the transcript as the provider kept it (whole up to 8 MiB, else its first and
   * last 4 MiB with a line saying what was left out between them).
   */
  bytes: number;
}

/** An encrypted job's error content, opened. */
export interface ErrorContent {
  reason: string;
  /** Present when the provider published the job's transcript with the error. */
  transcript?: ErrorTranscriptKey;
}

const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * The text an error content is (NIP-44 encrypted by the caller): the bare reason without a
 * transcript, the JSON object with one.
 *
 * @example
 * ```ts
 * import { decodeErrorContent, encodeErrorContent } from "./error_transcript.ts";
 *
 * const transcript = { key: "ab".repeat(32), bytes: 5 };
 * const text = encodeErrorContent({ reason: "agent: exited 3", transcript });
 * if (decodeErrorContent(text).transcript?.key !== transcript.key) throw new Error();
 * if (encodeErrorContent({ reason: "timeout" }) !== "timeout") throw new Error();
 * ```
 */
export function encodeErrorContent(content: ErrorContent): string {
  if (content.transcript === undefined) return content.reason;
  return JSON.stringify({ reason: content.reason, transcript: content.transcript });
}

/**
 * An error content's reason and transcript key; a text that is not the object (or whose key is
 * malformed) is the reason, with no transcript.
 *
 * @example
 * ```ts
 * import { decodeErrorContent } from "./error_transcript.ts";
 *
 * if (decodeErrorContent("agent: exited 3").reason !== "agent: exited 3") throw new Error();
 * if (decodeErrorContent('{"reason": 1}').transcript !== undefined) throw new Error();
 * ```
 */
export function decodeErrorContent(text: string): ErrorContent {
  let parsed: unknown;
  try {
    parsed = text.trimStart().startsWith("{") ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== "object") return { reason: text };
  const { reason, transcript } = parsed as { reason?: unknown; transcript?: unknown };
  if (typeof reason !== "string") return { reason: text };
  const t = (transcript ?? {}) as Record<string, unknown>;
  const ok = typeof t.key === "string" && HEX_KEY.test(t.key) && Number.isSafeInteger(t.bytes) &&
    (t.bytes as number) >= 0;
  if (!ok) return { reason };
  return { reason, transcript: { key: t.key as string, bytes: t.bytes as number } };
}
