/**
 * The logs of an agent-task's result, sealed until its delivery is paid (docs/PROTOCOL.md
 * "agent-task (kind 5603)"): the last 3 KiB of the agent's output and of the gate's travel in the
 * result's content as `logTailSealed` (base64 of a sealed blob, `sealed_blob.ts`), each with a key
 * derived from the result bundle's key K₀ (`derivedBlobKey`), as the transcript's is. The gate
 * is the requester's own command: in the clear, its output would hand the requester the work
 * (`git diff | base64`) before it decides to pay for it. The requester reads, before paying, the
 * verdict, the exit codes, the diffstat's counts and the sizes; the logs once the delivery's
 * payment released K (`openResultLogs`).
 *
 * @module
 */
import { derivedBlobKey, openBlob, sealBlob } from "./sealed_blob.ts";

/** The labels of the logs' keys, derived from the bundle's (`derivedBlobKey`). */
export const RESULT_LOG_KEY_LABELS: Readonly<Record<"agent" | "gate", string>> = {
  agent: "agent-task agent log",
  gate: "agent-task gate log",
};

/** A log tail, as the provider read it. */
export interface ResultLogs {
  agent: string;
  gate: string;
}

/**
 * Seals each log with its own key derived from the bundle's: base64 of the sealed bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openResultLogs, sealResultLogs } from "./result_logs.ts";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const sealed = await sealResultLogs(key, { agent: "agent: done", gate: "ok - 1" });
 * const report = { agent: { logTailSealed: sealed.agent }, gate: { logTailSealed: sealed.gate } };
 * const opened = await openResultLogs(report, key);
 * assert.deepEqual(opened.gate, { logTail: "ok - 1" });
 * ```
 */
export async function sealResultLogs(
  key: Uint8Array<ArrayBuffer>,
  logs: ResultLogs,
): Promise<ResultLogs> {
  const seal = async (name: keyof ResultLogs) => {
    const plain = new TextEncoder().encode(logs[name]);
    const sealed = await sealBlob(plain, await derivedBlobKey(key, RESULT_LOG_KEY_LABELS[name]));
    return btoa(String.fromCharCode(...sealed.sealed));
  };
  return { agent: await seal("agent"), gate: await seal("gate") };
}

/**
 * The report with its logs opened: each `agent` and `gate` member's `logTailSealed` replaced by
 * `logTail`, its text. Throws when a log does not open with `key` (`sealed-blob-tampered`); a
 * report without sealed logs comes back unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openResultLogs } from "./result_logs.ts";
 *
 * const report = { verdict: "pass", gate: { exitCode: 0 } };
 * assert.deepEqual(await openResultLogs(report, new Uint8Array(32)), report); // nothing was sealed
 * ```
 */
export async function openResultLogs(
  report: Record<string, unknown>,
  key: Uint8Array<ArrayBuffer>,
): Promise<Record<string, unknown>> {
  const opened: Record<string, unknown> = { ...report };
  for (const name of ["agent", "gate"] as const) {
    const part = report[name];
    if (part === null || typeof part !== "object" || Array.isArray(part)) continue;
    const { logTailSealed, ...rest } = part as Record<string, unknown>;
    if (typeof logTailSealed !== "string") continue;
    const sealed = Uint8Array.from(atob(logTailSealed), (c) => c.charCodeAt(0));
    const plain = await openBlob(sealed, await derivedBlobKey(key, RESULT_LOG_KEY_LABELS[name]));
    opened[name] = { ...rest, logTail: new TextDecoder().decode(plain) };
  }
  return opened;
}
