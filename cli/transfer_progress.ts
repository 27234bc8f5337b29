/**
 * Progress of an upload or download on stderr (bytes, rate, ETA), for people: a line that
 * rewrites itself on a terminal, a line every few seconds otherwise. Silent for scripts
 * (`--output json` keeps stdout and stderr free of it).
 *
 * @module
 */
import type { TransferProgress } from "../transport/blossom_client.ts";

/** Options for {@linkcode transferProgressPrinter}. */
export interface TransferProgressOptions {
  /** What moves, e.g. `upload context.tar.gz`. */
  label: string;
  /** Print nothing. */
  quiet?: boolean;
  /** Where lines go (default stderr). */
  write?: (text: string) => void;
}

/**
 * A progress callback that prints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transferProgressPrinter } from "./transfer_progress.ts";
 *
 * const written: string[] = [];
 * const onProgress = transferProgressPrinter({ label: "upload ctx.tar.gz", write: (t) => written.push(t) });
 * onProgress?.(1024, 1024);
 * assert(written.join("").includes("upload ctx.tar.gz"));
 * assert.equal(transferProgressPrinter({ label: "x", quiet: true }), undefined);
 * ```
 */
export function transferProgressPrinter(o: TransferProgressOptions): TransferProgress | undefined {
  if (o.quiet) return undefined;
  const tty = Deno.stderr.isTerminal();
  const write = o.write ??
    ((text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text)));
  const started = performance.now();
  let lastLine = 0;
  let finished = false;
  return (done, total) => {
    if (finished) return;
    const now = performance.now();
    const complete = total > 0 && done >= total;
    if (!complete && now - lastLine < (tty ? 200 : 3000)) return;
    lastLine = now;
    const seconds = Math.max((now - started) / 1000, 0.001);
    const rate = done / seconds;
    const eta = total > 0 && rate > 0 ? ` ETA ${Math.ceil((total - done) / rate)} s` : "";
    const of = total > 0 ? ` of ${formatByteSize(total)}` : "";
    const line = `  ${o.label}: ${formatByteSize(done)}${of}, ${formatByteSize(rate)}/s${
      complete ? ", done" : eta
    }`;
    write(tty ? `\r${line}\x1b[K${complete ? "\n" : ""}` : `${line}\n`);
    finished = complete;
  };
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB"];

/**
 * A byte count in the largest binary unit that keeps it at 1 or more, one decimal: a 501-byte
 * context reads `501 B`, not `0.0 MiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatByteSize } from "./transfer_progress.ts";
 *
 * assert.equal(formatByteSize(501), "501 B");
 * assert.equal(formatByteSize(3 * 1024 * 1024), "3.0 MiB");
 * ```
 */
export function formatByteSize(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}
