/**
 * Reading an append-only state file line by line, a chunk at a time: a town's books per peer grow
 * by every packet it forwards, and a file read whole into one string cannot pass V8's longest
 * string (512 MiB), so a town that had written that much could not start (docs/SCALE.md "A
 * town's books after a long run"). Hand-written over `Deno.FsFile.read`: a line splitter is a
 * dozen lines, and calling back per line costs less than an async iterator's promise per line.
 *
 * @module
 */

/** Options for {@linkcode readLineFile}. */
export interface ReadLineFileOptions {
  /** Longest line handed on, in UTF-16 units; a longer one is skipped whole (counted). Default 64 Ki. */
  maxLine?: number;
  /** Bytes read at a time. Default 1 MiB. */
  chunkBytes?: number;
  /** Where to start, in bytes (a line's start: a checkpoint's end). Default 0. */
  offset?: number;
}

/** What {@linkcode readLineFile} read. */
export interface LineFileRead {
  /** Lines handed on (the last one even without its newline: a write cut short). */
  lines: number;
  /** Lines longer than `maxLine`, skipped. */
  tooLong: number;
  /** Whether the file is empty or ends in a newline (else its last line was cut short). */
  endsInNewline: boolean;
  /**
   * The byte offset just past the last newline read (`offset` when none): the lines before it
   * are all that was read whole, whatever was appended to the file since.
   */
  linesEnd: number;
}

/**
 * Calls `onLine` with each line of the file at `path` (without its newline; empty lines
 * skipped), holding at most a chunk and one line in memory; undefined when the file is absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLineFile } from "./line_file.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, '{"a":1}\n{"a":2}\n{"a"');
 * const seen: string[] = [];
 * const read = await readLineFile(path, (line) => seen.push(line));
 * assert.deepEqual(seen, ['{"a":1}', '{"a":2}', '{"a"']);
 * assert.equal(read?.endsInNewline, false); // the last write was cut short
 * assert.equal(await readLineFile(`${path}.none`, () => {}), undefined);
 * await Deno.remove(path);
 * ```
 */
export async function readLineFile(
  path: string,
  onLine: (line: string) => void,
  options: ReadLineFileOptions = {},
): Promise<LineFileRead | undefined> {
  const maxLine = options.maxLine ?? 64 * 1024;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const read: LineFileRead = {
    lines: 0,
    tooLong: 0,
    endsInNewline: true,
    linesEnd: options.offset ?? 0,
  };
  let position = read.linesEnd;
  // ignoreBOM: a byte-order mark is kept as text, as Deno.readTextFile keeps it (a line that
  // begins with one is not JSON), not dropped from the file's first chunk.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const buf = new Uint8Array(options.chunkBytes ?? 1 << 20);
  let rest = "";
  /** Inside a line too long to keep: its rest is skipped up to the next newline. */
  let skipping = false;
  const hand = (line: string) => {
    if (line.length > maxLine) read.tooLong++;
    else if (line !== "") {
      read.lines++;
      onLine(line);
    }
  };
  try {
    if (options.offset) await file.seek(options.offset, Deno.SeekMode.Start);
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      // The raw bytes decide where lines end (a chunk may end inside a character).
      read.endsInNewline = buf[n - 1] === 10;
      const last = buf.subarray(0, n).lastIndexOf(10);
      if (last !== -1) read.linesEnd = position + last + 1;
      position += n;
      const text = decoder.decode(buf.subarray(0, n), { stream: true });
      if (text === "") continue;
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        if (skipping) skipping = false;
        else hand(rest === "" ? text.slice(start, nl) : rest + text.slice(start, nl));
        rest = "";
        start = nl + 1;
      }
      if (skipping) continue;
      rest += text.slice(start);
      if (rest.length > maxLine) {
        read.tooLong++;
        rest = "";
        skipping = true;
      }
    }
    rest += decoder.decode();
    if (!skipping) hand(rest);
  } finally {
    file.close();
  }
  return read;
}
