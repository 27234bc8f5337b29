/**
 * Runs one stage alone: chunks in on stdin, chunks out on stdout, in the record framing of
 * `record_framing.ts`. Used by `turnpike stage <name>` and by `deno run stages/<name>.ts`.
 *
 * @module
 */
import { RecordDecoderStream, RecordEncoderStream } from "./record_framing.ts";
import type { Chunk } from "./chunks.ts";
import { type Stage, type StageFlags, StageOptionsError } from "./stage.ts";

/** Options for {@linkcode runStageAlone}. */
export interface RunStageAloneOptions {
  /** Flags for the stage (`--relay ws://x` becomes `{ relay: "ws://x" }`). */
  flags?: StageFlags;
  /** Input text stream; defaults to stdin. Ignored for sources. */
  input?: ReadableStream<Uint8Array>;
  /** Output byte stream; defaults to stdout. */
  output?: WritableStream<Uint8Array>;
}

/**
 * Parses `--name value` and `--name=value` pairs; a flag with no value is `"true"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseStageFlags(["--relay", "ws://127.0.0.1:7100", "--kinds=5000,6000"]), { relay: "ws://127.0.0.1:7100", kinds: "5000,6000" });
 * ```
 */
export function parseStageFlags(args: readonly string[]): StageFlags {
  const flags: StageFlags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new StageOptionsError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    if (eq !== -1) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
      flags[arg.slice(2)] = args[++i];
    } else {
      flags[arg.slice(2)] = "true";
    }
  }
  return flags;
}

/**
 * Pipes stdin through the stage to stdout.
 *
 * @example
 * ```ts
 * import { kindExtractorStage } from "./kind_extractor.ts";
 * if (import.meta.main) await runStageAlone(kindExtractorStage, { flags: parseStageFlags(Deno.args) });
 * ```
 */
export async function runStageAlone(stage: Stage, options: RunStageAloneOptions = {}) {
  const stageOptions = stage.parseOptions(options.flags ?? {});
  let chunks: ReadableStream<Chunk>;
  if (stage.role === "source") {
    chunks = stage.create(stageOptions);
  } else {
    const input = options.input ?? Deno.stdin.readable;
    chunks = input
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new RecordDecoderStream({ source: "stdin" }))
      .pipeThrough(stage.create(stageOptions));
  }
  try {
    await chunks
      .pipeThrough(new RecordEncoderStream())
      .pipeThrough(new TextEncoderStream())
      .pipeTo(options.output ?? Deno.stdout.writable);
  } catch (err) {
    // The reader went away (`| head`): a normal end for a command in a shell pipe.
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}

/**
 * The `import.meta.main` entry of a stage file: runs it alone and turns errors into an
 * `Error:` line and exit code 1 (2 for bad flags).
 *
 * @example
 * ```ts
 * import { kindExtractorStage } from "./kind_extractor.ts";
 * if (import.meta.main) await stageMain(kindExtractorStage);
 * ```
 */
export async function stageMain(stage: Stage, args: readonly string[] = Deno.args) {
  try {
    await runStageAlone(stage, { flags: parseStageFlags(args) });
  } catch (err) {
    const e = err as Error;
    console.error(`Error: ${e.message} (stage ${stage.name}, ${e.name})`);
    Deno.exit(err instanceof StageOptionsError ? 2 : 1);
  }
}
