/**
 * Kind extractor stage: TOON chunks in, summary chunks out (kind, id, pubkey, created_at, e/p
 * tag values, plus the untouched TOON), by the shallow scan of `protocol/kind_extractor.ts`.
 * Optional `--kinds 1,5000-5999` keeps only those kinds. Bad TOON becomes a FailedChunk. Needs no
 * permissions at all.
 *
 *     cat fixtures/corpus.toon | deno run stages/kind_extractor.ts --kinds 5000-5999
 *
 * @module
 */
import {
  type Chunk,
  type FailedChunk,
  isReportChunk,
  type LogChunk,
  type SummaryChunk,
} from "./chunks.ts";
import {
  NO_PERMISSIONS,
  type StageFlags,
  StageOptionsError,
  type TransformStage,
} from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import { extractSummary, isEventKind } from "../protocol/kind_extractor.ts";

/** Options for {@linkcode createKindExtractor}. */
export interface KindExtractorOptions {
  /** Keep only these kinds (inclusive ranges); all kinds when absent. */
  kinds?: [number, number][];
  /** Largest TOON text accepted. Default 1 MiB. */
  maxBytes?: number;
}

const STAGE_NAME = "kind-extractor";

/**
 * Parses a kinds filter such as `1,5000-5999,7000`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseKindRanges("1,5000-5999"), [[1, 1], [5000, 5999]]);
 * ```
 */
export function parseKindRanges(spec: string): [number, number][] {
  return spec.split(",").map((part) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!isEventKind(lo) || !isEventKind(hi) || lo > hi) {
      throw new StageOptionsError(`bad kind range "${part}" (expected e.g. 1,5000-5999)`);
    }
    return [lo, hi];
  });
}

function failed(message: string, error: string, input: unknown): FailedChunk {
  return { type: "failed", stage: STAGE_NAME, error, message, input };
}

function prefix(text: string): string {
  return text.length > 256 ? text.slice(0, 256) : text;
}

/**
 * A TransformStream from TOON chunks to summary chunks (or failed chunks).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEventToon } from "../protocol/toon_codec.ts";
 *
 * const event = { id: "ab".repeat(32), pubkey: "cd".repeat(32), created_at: 1700000000, kind: 7000, tags: [], content: "", sig: "ef".repeat(64) };
 * const toon = encodeEventToon(event);
 * const out = ReadableStream.from([{ type: "toon", toon } as const])
 *   .pipeThrough(createKindExtractor({ kinds: [[7000, 7000]] }));
 * const [summary] = await Array.fromAsync(out);
 * assert.ok(summary.type === "summary" && summary.kind === 7000 && summary.id === event.id);
 * ```
 */
export function createKindExtractor(
  options: KindExtractorOptions = {},
): TransformStream<Chunk, SummaryChunk | FailedChunk | LogChunk> {
  const ranges = options.kinds;
  const maxBytes = options.maxBytes;
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.type !== "toon") {
        // Reports (failures, log entries) pass; anything else is not ours to read.
        controller.enqueue(
          isReportChunk(chunk)
            ? chunk
            : failed(`expected a toon chunk, got ${chunk.type}`, "TypeError", chunk.type),
        );
        return;
      }
      try {
        const s = extractSummary(chunk.toon, { maxBytes });
        if (ranges && !ranges.some(([lo, hi]) => s.kind >= lo && s.kind <= hi)) return;
        const out: SummaryChunk = { type: "summary", ...s, toon: chunk.toon };
        if (chunk.source !== undefined) out.source = chunk.source;
        controller.enqueue(out);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        controller.enqueue(failed(e.message, e.name, prefix(chunk.toon)));
      }
    },
  });
}

/** The kind extractor as a stage. */
export const kindExtractorStage: TransformStage<
  Chunk,
  SummaryChunk | FailedChunk | LogChunk,
  KindExtractorOptions
> = {
  name: STAGE_NAME,
  role: "transform",
  description:
    "Shallow TOON scan: kind, id, pubkey, created_at, e/p tags (optional --kinds filter)",
  parseOptions(flags: StageFlags): KindExtractorOptions {
    const options: KindExtractorOptions = {};
    for (const key of Object.keys(flags)) {
      if (key !== "kinds" && key !== "max-bytes") {
        throw new StageOptionsError(`unknown flag --${key}`);
      }
    }
    if (flags.kinds !== undefined) options.kinds = parseKindRanges(flags.kinds);
    if (flags["max-bytes"] !== undefined) {
      const n = Number(flags["max-bytes"]);
      if (!Number.isSafeInteger(n) || n <= 0) {
        throw new StageOptionsError("--max-bytes must be a positive integer");
      }
      options.maxBytes = n;
    }
    return options;
  },
  permissions: () => NO_PERMISSIONS,
  create: createKindExtractor,
};

if (import.meta.main) await stageMain(kindExtractorStage);
