/**
 * Job source stage: emits a TemplateChunk (an unsigned NIP-90 job request, built with
 * `protocol/nip90_job.ts`) for each job spec. Alone it reads JSON lines on stdin; in code it
 * takes any iterable, async iterable or a {@linkcode JobSpecQueue}.
 *
 * A job spec (one JSON object per line):
 *
 * ```json
 * {"kind":5000,"inputs":[["hello","text"]],"params":{"max_tokens":"200"},"bid":"1000",
 *  "output":"text/plain","relays":["ws://..."],"providers":["<hex pubkey>"],
 *  "tags":[["t","demo"]],"ref":"my-ref"}
 * ```
 *
 * Only `kind` is required. `inputs` items are `[data, type, relay?, marker?]` (type: text, url,
 * event, job); `params` maps a name to a value or list of values (or is a list of `[name,
 * ...values]`); `ref` is carried to the TemplateChunk (default `job-<n>`, n counting from 1). A
 * bad line or spec becomes a FailedChunk (JobSourceError), never an end of the stream.
 *
 * @module
 */
import { buildJobRequest, type JobInput, type JobParam } from "../protocol/nip90_job.ts";
import type { EventTemplate } from "../protocol/nostr_event.ts";
import type { Chunk, FailedChunk, TemplateChunk } from "./chunks.ts";
import { NO_PERMISSIONS, type SourceStage, StageOptionsError } from "./stage.ts";
import { stageMain } from "./stage_runner.ts";

/** Options for {@linkcode createJobSource}. */
export interface JobSourceOptions {
  /** Job specs from code (parsed JSON objects). When absent, JSON lines are read from `lines`. */
  jobs?: Iterable<unknown> | AsyncIterable<unknown>;
  /** JSON-lines bytes; default stdin. */
  lines?: ReadableStream<Uint8Array>;
  /** Longest line accepted. Default 64 KiB. */
  maxLineBytes?: number;
  /** `created_at` of the templates; default now. For reproducible output. */
  createdAt?: number;
}

/** A job spec line that is not JSON, too long, or not a valid job. */
export class JobSourceError extends Error {
  /** `"JobSourceError"`: explicit so it survives bundling and worker messages. */
  override name = "JobSourceError";
}

const DEFAULT_MAX_LINE = 64 * 1024;

/**
 * Turns one parsed job spec into an event template.
 *
 * @example
 * ```ts
 * const t = jobSpecToTemplate({ kind: 5000, inputs: [["hello", "text"]], bid: "1000" });
 * t.tags; // [["i", "hello", "text"], ["bid", "1000"]]
 * ```
 */
export function jobSpecToTemplate(spec: unknown, createdAt?: number): EventTemplate {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new JobSourceError("a job spec is a JSON object");
  }
  const s = spec as Record<string, unknown>;
  if (typeof s.kind !== "number") throw new JobSourceError('a job spec needs a numeric "kind"');
  try {
    return buildJobRequest({
      kind: s.kind,
      inputs: s.inputs === undefined ? undefined : parseInputs(s.inputs),
      params: s.params === undefined ? undefined : parseParams(s.params),
      output: optionalString(s.output, "output"),
      bid: s.bid === undefined ? undefined : amount(s.bid),
      relays: s.relays === undefined ? undefined : stringList(s.relays, "relays"),
      providers: s.providers === undefined ? undefined : stringList(s.providers, "providers"),
      extraTags: s.tags === undefined ? undefined : tagList(s.tags),
      createdAt,
    });
  } catch (err) {
    if (err instanceof JobSourceError) throw err;
    throw new JobSourceError((err as Error).message);
  }
}

function parseInputs(value: unknown): JobInput[] {
  if (!Array.isArray(value)) throw new JobSourceError('"inputs" must be a list');
  return value.map((item) => {
    const parts = stringList(item, "an input");
    if (parts.length < 2) throw new JobSourceError("an input is [data, type, relay?, marker?]");
    const input: JobInput = { data: parts[0], type: parts[1] as JobInput["type"] };
    if (parts[2] !== undefined && parts[2] !== "") input.relay = parts[2];
    if (parts[3] !== undefined) input.marker = parts[3];
    return input;
  });
}

function parseParams(value: unknown): JobParam[] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      const [name, ...values] = stringList(item, "a param");
      if (name === undefined) throw new JobSourceError("a param is [name, ...values]");
      return { name, values };
    });
  }
  if (typeof value !== "object" || value === null) {
    throw new JobSourceError('"params" must be an object or a list');
  }
  return Object.entries(value).map(([name, v]) => ({
    name,
    values: Array.isArray(v) ? stringList(v, `param ${name}`) : [scalar(v, `param ${name}`)],
  }));
}

function scalar(v: unknown, what: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new JobSourceError(`${what} must be a string, number or boolean`);
}

function amount(v: unknown): string {
  if (typeof v === "string" || (typeof v === "number" && Number.isSafeInteger(v))) return String(v);
  throw new JobSourceError('"bid" must be an integer or a decimal string');
}

function optionalString(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new JobSourceError(`"${what}" must be a string`);
  return v;
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new JobSourceError(`${what} must be a list of strings`);
  }
  return v;
}

function tagList(v: unknown): string[][] {
  if (!Array.isArray(v)) throw new JobSourceError('"tags" must be a list of tags');
  return v.map((t) => stringList(t, "a tag"));
}

/** One JSON line, already split, or the error found while splitting. */
type SpecItem = { spec: unknown } | { error: JobSourceError; input: string };

async function* jsonLines(
  bytes: ReadableStream<Uint8Array>,
  max: number,
): AsyncGenerator<SpecItem> {
  let pending = "";
  let skipping = false; // inside an over-long line: drop until its end
  let lineNo = 0;
  const parse = (line: string): SpecItem => {
    try {
      return { spec: JSON.parse(line) };
    } catch (err) {
      return {
        error: new JobSourceError(`line ${lineNo}: bad JSON: ${(err as Error).message}`),
        input: line.slice(0, 200),
      };
    }
  };
  for await (const text of bytes.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      lineNo++;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (line.length > max) {
        yield {
          error: new JobSourceError(`line ${lineNo}: longer than ${max} bytes`),
          input: line.slice(0, 200),
        };
      } else if (line !== "") {
        yield parse(line);
      }
    }
    if (pending.length > max && !skipping) {
      lineNo++;
      yield {
        error: new JobSourceError(`line ${lineNo}: longer than ${max} bytes`),
        input: pending.slice(0, 200),
      };
      skipping = true;
    }
    if (skipping) pending = "";
  }
  lineNo++;
  if (!skipping && pending.trim() !== "") yield parse(pending.trim());
}

async function* specItems(options: JobSourceOptions): AsyncGenerator<SpecItem> {
  if (options.jobs !== undefined) {
    for await (const spec of options.jobs) yield { spec };
  } else {
    yield* jsonLines(
      options.lines ?? Deno.stdin.readable,
      options.maxLineBytes ?? DEFAULT_MAX_LINE,
    );
  }
}

/**
 * Creates the job source.
 *
 * @example
 * ```ts
 * const templates = createJobSource({ jobs: [{ kind: 5000, inputs: [["hello", "text"]] }] });
 * for await (const chunk of templates) console.log(chunk);
 * ```
 */
export function createJobSource(options: JobSourceOptions = {}): ReadableStream<Chunk> {
  let n = 0;
  const iterator = specItems(options);
  return new ReadableStream<Chunk>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) return controller.close();
      n++;
      const item = next.value;
      if ("error" in item) return controller.enqueue(failed(item.error, item.input));
      try {
        const template = jobSpecToTemplate(item.spec, options.createdAt);
        const s = item.spec as Record<string, unknown>;
        const chunk: TemplateChunk = {
          type: "template",
          template,
          ref: typeof s.ref === "string" ? s.ref : `job-${n}`,
        };
        controller.enqueue(chunk);
      } catch (err) {
        controller.enqueue(failed(err as Error, item.spec));
      }
    },
    async cancel() {
      await iterator.return(undefined);
    },
  }, { highWaterMark: 0 });
}

function failed(error: Error, input: unknown): FailedChunk {
  return { type: "failed", stage: "job-source", error: error.name, message: error.message, input };
}

/**
 * A bounded queue of job specs to feed a job source from code: `push` waits while the queue is
 * full, so a producer cannot outrun the pipeline.
 *
 * @example
 * ```ts
 * const queue = new JobSpecQueue(16);
 * const source = createJobSource({ jobs: queue });
 * await queue.push({ kind: 5000, inputs: [["hello", "text"]] });
 * queue.close();
 * ```
 */
export class JobSpecQueue implements AsyncIterable<unknown> {
  #items: unknown[] = [];
  #closed = false;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducers: (() => void)[] = [];

  /** `capacity`: most specs held before `push` waits; default 64. */
  constructor(readonly capacity = 64) {}

  /** Adds a spec, waiting while the queue is full. */
  async push(spec: unknown): Promise<void> {
    while (this.#items.length >= this.capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#wakeProducers.push(resolve));
    }
    if (this.#closed) throw new JobSourceError("the job queue is closed");
    this.#items.push(spec);
    this.#wakeConsumer?.();
  }

  /** No more specs: the source ends once the queue is drained. */
  close(): void {
    this.#closed = true;
    this.#wakeConsumer?.();
    for (const wake of this.#wakeProducers.splice(0)) wake();
  }

  /** Yields the specs in order, waiting for more until `close()`. */
  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    while (true) {
      if (this.#items.length > 0) {
        yield this.#items.shift();
        this.#wakeProducers.shift()?.();
      } else if (this.#closed) {
        return;
      } else {
        await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
        this.#wakeConsumer = undefined;
      }
    }
  }
}

/** The job source stage: JSON-lines job specs on stdin (`--created-at N` pins the time). */
export const jobSourceStage: SourceStage<Chunk, JobSourceOptions> = {
  name: "job-source",
  role: "source",
  description: "emits NIP-90 job request templates from JSON-lines job specs",
  parseOptions(flags) {
    const options: JobSourceOptions = {};
    if (flags["created-at"] !== undefined) {
      const at = Number(flags["created-at"]);
      if (!Number.isSafeInteger(at) || at < 0) {
        throw new StageOptionsError("--created-at must be seconds since the epoch");
      }
      options.createdAt = at;
    }
    return options;
  },
  // stdin needs no permission; templates are built in memory.
  permissions: () => NO_PERMISSIONS,
  create: createJobSource,
};

if (import.meta.main) await stageMain(jobSourceStage);
