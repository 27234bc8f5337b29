/**
 * TOON encoder stage: signed event chunks in, TOON chunks out, in the form both
 * `@toon-format/toon` 4.x and 1.4.0 decode identically (`protocol/toon_codec.ts`). A badly shaped
 * event becomes a FailedChunk. Needs no permissions.
 *
 *     echo '{"id":"…","pubkey":"…",…}' | deno run stages/toon_encoder.ts
 *
 * @module
 */
import type { Chunk, EventChunk, FailedChunk, ToonChunk } from "./chunks.ts";
import {
  NO_PERMISSIONS,
  type StageFlags,
  StageOptionsError,
  type TransformStage,
} from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";

/** Options for {@linkcode createToonEncoder} (none yet; kept for the stage contract). */
export type ToonEncoderOptions = Record<string, never>;

const STAGE_NAME = "toon-encoder";

function failed(message: string, error: string, input: unknown): FailedChunk {
  return { type: "failed", stage: STAGE_NAME, error, message, input };
}

/**
 * One event chunk as its TOON chunk (`ref` carried in `source`): what the stage does to each
 * event, and what every role's paid write does to its event (roles/town_client/).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventChunk } from "./toon_encoder.ts";
 * import { decodeEventToon } from "../protocol/toon_codec.ts";
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 7000, tags: [], content: "", sig: "ef".repeat(64) };
 * const { toon } = encodeEventChunk({ type: "event", event, ref: "a" });
 * assert.deepEqual(decodeEventToon(toon, { verify: false }), event);
 * ```
 * @throws when the event cannot be encoded (the stage turns it into a FailedChunk).
 */
export function encodeEventChunk(chunk: EventChunk): ToonChunk {
  const out: ToonChunk = { type: "toon", toon: encodeEventToon(chunk.event) };
  if (chunk.ref !== undefined) out.source = chunk.ref;
  return out;
}

/**
 * A TransformStream from event chunks to TOON chunks (or failed chunks). `ref` is carried in
 * `source` so outcomes can be matched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createToonEncoder } from "./toon_encoder.ts";
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 7000, tags: [], content: "", sig: "ef".repeat(64) };
 * const out = ReadableStream.from([{ type: "event", event } as const])
 *   .pipeThrough(createToonEncoder());
 * assert.deepEqual((await Array.fromAsync(out)).map((chunk) => chunk.type), ["toon"]);
 * ```
 */
export function createToonEncoder(
  _options: ToonEncoderOptions = {},
): TransformStream<Chunk, ToonChunk | FailedChunk> {
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.type !== "event") {
        if (chunk.type === "failed") controller.enqueue(chunk);
        else {controller.enqueue(
            failed(`expected an event chunk, got ${chunk.type}`, "TypeError", chunk.type),
          );}
        return;
      }
      try {
        controller.enqueue(encodeEventChunk(chunk));
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        controller.enqueue(failed(e.message, e.name, chunk.ref ?? null));
      }
    },
  });
}

/** The TOON encoder as a stage. */
export const toonEncoderStage: TransformStage<Chunk, ToonChunk | FailedChunk, ToonEncoderOptions> =
  {
    name: STAGE_NAME,
    role: "transform",
    description: "Encode signed events as TOON readable by @toon-format/toon 4.x and 1.4.0",
    parseOptions(flags: StageFlags): ToonEncoderOptions {
      const unknown = Object.keys(flags);
      if (unknown.length > 0) throw new StageOptionsError(`unknown flag --${unknown[0]}`);
      return {};
    },
    permissions: () => NO_PERMISSIONS,
    create: createToonEncoder,
  };

if (import.meta.main) await stageMain(toonEncoderStage);
