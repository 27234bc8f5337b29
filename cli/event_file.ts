/**
 * The event of `skill test --event <file>` (docs/SKILLS.md), as TOON, the form a provider hands a
 * skill: the file holds one Nostr event either as JSON (what nostr-tools, `nak` and every Nostr
 * tool print: NIP-01's object) or as TOON (what turnpike stores and `fixtures/events/` hold). A
 * file that starts with `{` is read as JSON, checked to have an event's shape and encoded as TOON;
 * any other file must be a TOON document of one object and is handed on as it is (its id and
 * signature are checked where the node checks them). Anything else is refused with
 * {@linkcode EventFileError}, so a skill never gets a file it cannot open.
 *
 * @module
 */
import { CliLayerError } from "./cli_error.ts";
import {
  assertEventShape,
  decodeEventToon,
  encodeEventToon,
  ToonDecodeError,
} from "../protocol/toon_codec.ts";
import { EventValidationError } from "../protocol/event_verifier.ts";

/** The file holds neither a JSON nor a TOON event. */
export class EventFileError extends CliLayerError {
  override name = "EventFileError";
}

/**
 * The event in `text` (JSON or TOON, detected) as TOON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
 * import { eventFileToon } from "./event_file.ts";
 * import { decodeEventToon } from "../protocol/toon_codec.ts";
 *
 * const event = finalizeEvent(
 *   { kind: 1, created_at: 1_700_000_000, tags: [], content: "hi" },
 *   generateSecretKey(),
 * );
 * const toon = eventFileToon(JSON.stringify(event)); // the same event, as TOON
 * assert.equal(decodeEventToon(toon).id, event.id);
 * ```
 * @throws {EventFileError} when `text` is neither one JSON event nor a TOON object.
 */
export function eventFileToon(text: string): string {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new EventFileError(`not JSON: ${(err as Error).message}`);
    }
    try {
      return encodeEventToon(assertEventShape(value));
    } catch (err) {
      if (!(err instanceof EventValidationError)) throw err;
      throw new EventFileError(`JSON, but not a Nostr event: ${err.message}`);
    }
  }
  try {
    decodeEventToon(text, { verify: false });
  } catch (err) {
    if (err instanceof ToonDecodeError) {
      throw new EventFileError(`neither a JSON event nor TOON: ${err.message}`);
    }
    // A TOON object: whatever else is wrong with it is found where the node finds it.
    if (!(err instanceof EventValidationError)) throw err;
  }
  return text;
}
