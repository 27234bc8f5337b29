/**
 * Test helper: a child process's output (or this process's stdin) read one line at a time, as
 * the harness's role processes talk: a JSON line each way.
 *
 * @module
 */

/** Lines of a byte stream, in order. */
export interface LineReader {
  /** The next line, without its `\n`; undefined once the stream ended (a last unended line too). */
  read(): Promise<string | undefined>;
  /** Stops reading: the stream is cancelled. */
  cancel(): Promise<void>;
}

/**
 * Reads `stream` (UTF-8) line by line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineReader } from "./line_reader.ts";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * const lines = lineReader(ReadableStream.from([bytes("a\nb"), bytes("c\n")]));
 * assert.equal(await lines.read(), "a");
 * assert.equal(await lines.read(), "bc");
 * assert.equal(await lines.read(), undefined);
 * ```
 */
export function lineReader(stream: ReadableStream<Uint8Array>): LineReader {
  const chunks = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async read() {
      while (!buffer.includes("\n")) {
        const { value, done } = await chunks.read();
        if (done) return undefined;
        buffer += value;
      }
      const i = buffer.indexOf("\n");
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      return line;
    },
    cancel: () => chunks.cancel(),
  };
}
