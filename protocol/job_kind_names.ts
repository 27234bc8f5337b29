/**
 * Names of NIP-90 job request kinds, so users can say `--kind text-generation` instead of 5050.
 *
 * The registered names follow the kinds documented in nostr-protocol/data-vending-machines.
 * Four kinds are this project's own, taken from the 5600-5699 block, where no kind is registered
 * there (checked 2026-11): `ci-run` 5600, the flagship build job (check out, build, test, return
 * the log), `echo` 5601, which returns its input and serves demos and tests, and `docker-build`
 * 5602, a Docker image built for a platform and tested, and `agent-task` 5603, a coding agent's
 * work on a repository (docs/PROTOCOL.md "agent-task"). Should the
 * registry ever assign them, only this table changes.
 *
 * @module
 */
import { ProtocolError } from "./protocol_error.ts";
import { isJobRequestKind } from "./nip90_kinds.ts";

/** Documented job names and their request kinds. Results are kind + 1000. */
export const JOB_KIND_NAMES: Readonly<Record<string, number>> = Object.freeze({
  "text-extraction": 5000,
  "summarization": 5001,
  "translation": 5002,
  "text-generation": 5050,
  "image-generation": 5100,
  "video-conversion": 5200,
  "video-translation": 5201,
  "image-to-video": 5202,
  "text-to-speech": 5250,
  "content-discovery": 5300,
  "people-discovery": 5301,
  "content-search": 5302,
  "people-search": 5303,
  "event-count": 5400,
  "malware-scan": 5500,
  "ci-run": 5600,
  "echo": 5601,
  "docker-build": 5602,
  "agent-task": 5603,
  "event-timestamping": 5900,
  "op-return": 5901,
  "event-publish-schedule": 5905,
  "event-pow": 5970,
});

/** A job name that is not in {@linkcode JOB_KIND_NAMES}. */
export class UnknownJobKindError extends ProtocolError {
  /** `"UnknownJobKindError"`: explicit so it survives bundling. */
  override name = "UnknownJobKindError";
  /** `jobName` is the name as given; the message lists the valid names. */
  constructor(readonly jobName: string) {
    super(
      `unknown job kind "${jobName}"; valid names: ${Object.keys(JOB_KIND_NAMES).join(", ")}, ` +
        "or a number 5000-5999",
    );
  }
}

/**
 * Resolves a job name, or a request kind written as a number, to the request kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(jobKindFromName("text-generation"), 5050);
 * assert.equal(jobKindFromName("5600"), 5600);
 * ```
 */
export function jobKindFromName(name: string): number {
  if (/^\d+$/.test(name)) {
    const kind = Number(name);
    if (isJobRequestKind(kind)) return kind;
    throw new UnknownJobKindError(name);
  }
  const kind = JOB_KIND_NAMES[name];
  if (kind === undefined || !Object.hasOwn(JOB_KIND_NAMES, name)) {
    throw new UnknownJobKindError(name);
  }
  return kind;
}

/**
 * The documented name of a request kind, if it has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(jobNameFromKind(5050), "text-generation");
 * assert.equal(jobNameFromKind(5777), undefined);
 * ```
 */
export function jobNameFromKind(kind: number): string | undefined {
  return Object.entries(JOB_KIND_NAMES).find(([, k]) => k === kind)?.[0];
}

/**
 * A request kind as shown to people: the number and, when it has one, its name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(jobKindLabel(5600), "5600 (ci-run)");
 * assert.equal(jobKindLabel(5777), "5777");
 * ```
 */
export function jobKindLabel(kind: number): string {
  const name = jobNameFromKind(kind);
  return name === undefined ? String(kind) : `${kind} (${name})`;
}
