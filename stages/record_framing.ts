/**
 * Record framing for stages that run alone on stdin/stdout, documented once here and shared by
 * every stage (see docs/PROTOCOL.md, "Record framing").
 *
 * - A stream is a sequence of records. Blank lines between records are ignored.
 * - A record whose first character is `{` is one JSON object on one line (JSON Lines): a typed
 *   chunk (`{"type": "summary", ...}`), or a bare NIP-01 event object (it has `id`, `sig` and
 *   `kind` but no `type`), which is read as an `event` chunk.
 * - Any other record is one TOON document: its lines up to the next blank line or the end of the
 *   stream. A TOON document of a Nostr event never contains an empty line (strings holding line
 *   breaks are quoted and escaped), so the blank line is an unambiguous separator.
 * - Writers emit `toon` chunks as their TOON text followed by one blank line, and every other
 *   chunk as one JSON line, so the output of one stage pipes straight into the next.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";
import type { Chunk, ToonChunk } from "./chunks.ts";

/** Default largest record accepted (1 MiB, the town's event size limit). */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** Options for {@linkcode RecordDecoderStream}. */
export interface RecordDecoderOptions {
  /** Largest record accepted, in UTF-16 code units of the decoded text. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Label put in `source` of TOON chunks (e.g. "stdin"). */
  source?: string;
}

/** A record could not be framed: too large, or a JSON line that is not a chunk. */
export class RecordFramingError extends StagesError {
  /** `"RecordFramingError"`: explicit so it survives bundling. */
  override name = "RecordFramingError";
  /** 1-based line number where the bad record starts. */
  line: number;
  /** Appends `(line N)` to the message. */
  constructor(message: string, line: number) {
    super(`${message} (line ${line})`);
    this.line = line;
  }
}

/**
 * Splits text into chunks by the record framing above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const chunks = ReadableStream.from(["kind: 1\nid: ab\n\n", '{"type":"toon","toon":"x"}\n'])
 *   .pipeThrough(new RecordDecoderStream());
 * assert.deepEqual((await Array.fromAsync(chunks)).map((c) => c.type), ["toon", "toon"]);
 * ```
 */
export class RecordDecoderStream extends TransformStream<string, Chunk> {
  /** Records over `maxRecordBytes` fail with RecordFramingError. */
  constructor(options: RecordDecoderOptions = {}) {
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const source = options.source;
    let pending = "";
    let toonLines: string[] = [];
    let toonSize = 0;
    let lineNo = 0;
    let toonStart = 0;
    const flushToon = (controller: TransformStreamDefaultController<Chunk>) => {
      if (toonLines.length === 0) return;
      const chunk: ToonChunk = { type: "toon", toon: toonLines.join("\n") };
      if (source !== undefined) chunk.source = source;
      controller.enqueue(chunk);
      toonLines = [];
      toonSize = 0;
    };
    const onLine = (raw: string, controller: TransformStreamDefaultController<Chunk>) => {
      lineNo++;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() === "") return flushToon(controller);
      if (toonLines.length === 0 && line[0] === "{") {
        if (line.length > max) throw new RecordFramingError(`record over ${max} bytes`, lineNo);
        return controller.enqueue(parseJsonRecord(line, lineNo));
      }
      if (toonLines.length === 0) toonStart = lineNo;
      toonSize += line.length + 1;
      if (toonSize > max) throw new RecordFramingError(`record over ${max} bytes`, toonStart);
      toonLines.push(line);
    };
    super({
      transform(text, controller) {
        pending += text;
        let start = 0;
        let nl: number;
        while ((nl = pending.indexOf("\n", start)) !== -1) {
          onLine(pending.slice(start, nl), controller);
          start = nl + 1;
        }
        pending = pending.slice(start);
        if (pending.length > max) {
          throw new RecordFramingError(`record over ${max} bytes`, lineNo + 1);
        }
      },
      flush(controller) {
        if (pending.length > 0) onLine(pending, controller);
        flushToon(controller);
      },
    });
  }
}

function parseJsonRecord(line: string, lineNo: number): Chunk {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new RecordFramingError(`invalid JSON record: ${(err as Error).message}`, lineNo);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RecordFramingError("JSON record is not an object", lineNo);
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.type === "string") return obj as unknown as Chunk;
  if (typeof obj.id === "string" && typeof obj.sig === "string" && typeof obj.kind === "number") {
    return { type: "event", event: obj as unknown as NostrEvent };
  }
  throw new RecordFramingError('JSON record has no "type" and is not a Nostr event', lineNo);
}

/**
 * Writes one chunk in the record framing: TOON text plus a blank line, or one JSON line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeRecord({ type: "toon", toon: "kind: 1" }), "kind: 1\n\n");
 * ```
 */
export function encodeRecord(chunk: Chunk): string {
  if (chunk.type === "toon") return chunk.toon + "\n\n";
  return JSON.stringify(chunk) + "\n";
}

/**
 * Encodes chunks to framed text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = ReadableStream.from([{ type: "toon", toon: "kind: 1" } as const])
 *   .pipeThrough(new RecordEncoderStream())
 *   .pipeThrough(new TextEncoderStream()); // a stage's output: .pipeTo(Deno.stdout.writable)
 * assert.equal(await new Response(bytes).text(), "kind: 1\n\n");
 * ```
 */
export class RecordEncoderStream extends TransformStream<Chunk, string> {
  constructor() {
    super({ transform: (chunk, controller) => controller.enqueue(encodeRecord(chunk)) });
  }
}
