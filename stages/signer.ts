/**
 * The signer stage (`signer`): TemplateChunk -> EventChunk, NIP-01 id + Schnorr signature. It is
 * the only stage that holds the secret key, and it asks for no network at all.
 *
 * Run alone, the key is never taken on the command line (it would show in `ps`):
 * `deno run --allow-read=F stages/signer.ts --key-file F`, or `--key-fd 3 3<F` (Deno reads an
 * inherited descriptor only through `/dev/fd/N`, which it grants only with `--allow-all`). The
 * file holds the hex secret key (or an nsec). The key is read by `parseOptions`, before the
 * stage starts: in a pipeline Worker it comes in the options and the stage needs no permissions
 * (`permissions()` lists the key file only when options name one).
 *
 * Engine: `wasm` (default) signs with libsecp256k1 through `nostr-wasm`, about 2-3x faster than
 * the pure-JS `nostr-tools` signer (see bench/key_vault_bench.ts), through
 * `identity/event_signer.ts` (which falls back to nostr-tools if the wasm module cannot load);
 * `js` uses nostr-tools' `finalizeEvent`.
 *
 * @module
 */
import { StagesError } from "./stages_error.ts";
import { finalizeEvent } from "nostr-tools/pure";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Chunk, EventChunk, FailedChunk, TemplateChunk } from "./chunks.ts";
import {
  NO_PERMISSIONS,
  type StageFlags,
  StageOptionsError,
  type TransformStage,
} from "./stage.ts";
import { stageMain } from "./stage_runner.ts";
import type { EventTemplate, NostrEvent } from "../protocol/nostr_event.ts";
import { signEventTemplate } from "../identity/event_signer.ts";
import { parseSecretKey, SecretKeyFormatError } from "../identity/nip06_key.ts";
import { MAX_PASSPHRASE_BYTES, PassphraseSourceError } from "../identity/passphrase.ts";

/** Signing implementation. */
export type SignerEngine = "wasm" | "js";

/** Options of the signer stage. */
export interface SignerOptions {
  /** Secret key, 64 hex chars. Never logged. */
  secretKey: string;
  /** The file the key was read from when run alone; the only thing the stage may read. */
  keyFile?: string;
  /** Default "wasm". */
  engine?: SignerEngine;
  /** Largest template accepted (JSON size of tags + content), default 1 MiB. */
  maxTemplateBytes?: number;
}

/** A template is not a valid NIP-01 event template, or is too large. */
export class InvalidTemplateError extends StagesError {
  /** `"InvalidTemplateError"`: explicit so it survives bundling and worker messages. */
  override name = "InvalidTemplateError";
}

/** A chunk the signer does not take (only `template`; `failed` chunks pass through). */
export class UnexpectedChunkError extends StagesError {
  /** `"UnexpectedChunkError"`: explicit so it survives bundling and worker messages. */
  override name = "UnexpectedChunkError";
}

const DEFAULT_MAX_TEMPLATE_BYTES = 1024 * 1024;

type SignFn = (template: EventTemplate) => NostrEvent;

/**
 * Creates the signer transform.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSigner } from "./signer.ts";
 * import type { Chunk } from "./chunks.ts";
 *
 * const signer = createSigner({
 *   secretKey: "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a",
 *   engine: "js",
 * });
 * const chunks: Chunk[] = [
 *   { type: "template", template: { kind: 1, created_at: 1, tags: [], content: "hi" } },
 * ];
 * const [out] = await Array.fromAsync(ReadableStream.from(chunks).pipeThrough(signer));
 * assert.ok(out.type === "event" && out.event.content === "hi");
 * ```
 */
export function createSigner(options: SignerOptions): TransformStream<Chunk, Chunk> {
  const key = parseSecretKey(options.secretKey);
  const max = options.maxTemplateBytes ?? DEFAULT_MAX_TEMPLATE_BYTES;
  const sign: SignFn = (options.engine ?? "wasm") === "wasm"
    ? (t) => signEventTemplate(t, key)
    : (t) => finalizeEvent(t, key) as NostrEvent;
  return new TransformStream<Chunk, Chunk>({
    transform(chunk, controller) {
      controller.enqueue(signChunk(chunk, sign, max));
    },
    flush() {
      key.fill(0);
    },
  });
}

function signChunk(chunk: Chunk, sign: SignFn, max: number): Chunk {
  if (chunk.type === "failed") return chunk;
  try {
    if (chunk.type !== "template") {
      throw new UnexpectedChunkError(`the signer takes template chunks, got "${chunk.type}"`);
    }
    const event = sign(checkTemplate(chunk.template, max));
    const out: EventChunk = { type: "event", event };
    if (chunk.ref !== undefined) out.ref = chunk.ref;
    return out;
  } catch (err) {
    return failed(chunk, err);
  }
}

function failed(chunk: Chunk, err: unknown): FailedChunk {
  const e = err instanceof Error ? err : new Error(String(err));
  const input = chunk.type === "template"
    ? { type: chunk.type, ref: chunk.ref, kind: (chunk as TemplateChunk).template?.kind }
    : { type: chunk.type };
  return { type: "failed", stage: "signer", error: e.name, message: e.message, input };
}

/**
 * Checks a template's shape and size; returns a clean copy (no extra fields reach the id).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * checkTemplate({ kind: 1, created_at: 1, tags: [["p", "ab"]], content: "hi" }, 1024); // returns: signable
 * assert.throws(() => checkTemplate({ kind: 1, created_at: 1, tags: [], content: "x".repeat(2000) }, 1024), InvalidTemplateError);
 * ```
 */
export function checkTemplate(t: unknown, maxBytes: number): EventTemplate {
  if (typeof t !== "object" || t === null) {
    throw new InvalidTemplateError("template is not an object");
  }
  const { kind, created_at, tags, content } = t as Record<string, unknown>;
  if (typeof kind !== "number" || !Number.isInteger(kind) || kind < 0 || kind > 65535) {
    throw new InvalidTemplateError("kind must be an integer 0-65535");
  }
  if (typeof created_at !== "number" || !Number.isSafeInteger(created_at) || created_at < 0) {
    throw new InvalidTemplateError("created_at must be a non-negative integer (seconds)");
  }
  if (typeof content !== "string") throw new InvalidTemplateError("content must be a string");
  if (!Array.isArray(tags) || !tags.every((tag) => Array.isArray(tag) && tag.every(isString))) {
    throw new InvalidTemplateError("tags must be an array of arrays of strings");
  }
  const size = content.length + JSON.stringify(tags).length;
  if (size > maxBytes) throw new InvalidTemplateError(`template is over ${maxBytes} bytes`);
  return { kind, created_at, tags: tags as string[][], content };
}

function isString(v: unknown): v is string {
  return typeof v === "string";
}

/**
 * Builds options from flags: `--key-file F` or `--key-fd N`, `--engine wasm|js`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StageOptionsError } from "./stage.ts";
 *
 * const keyFile = await Deno.makeTempFile(); // e.g. /run/secrets/nostr.key
 * await Deno.writeTextFile(keyFile, "ab".repeat(32));
 * const options = parseSignerFlags({ "key-file": keyFile });
 * assert.equal(options.secretKey, "ab".repeat(32));
 * assert.throws(() => parseSignerFlags({ nsec: "nsec1..." }), StageOptionsError); // never on the command line
 * await Deno.remove(keyFile);
 * ```
 */
export function parseSignerFlags(flags: StageFlags): SignerOptions {
  for (const name of ["key", "secret-key", "nsec", "sk"]) {
    if (name in flags) {
      throw new StageOptionsError(
        `--${name} is refused: a key on the command line is visible to every user; use --key-file or --key-fd`,
      );
    }
  }
  const engine = flags.engine ?? "wasm";
  if (engine !== "wasm" && engine !== "js") {
    throw new StageOptionsError(`--engine must be wasm or js, got "${engine}"`);
  }
  let keyFile: string;
  if (flags["key-fd"] !== undefined) {
    if (!/^\d{1,4}$/.test(flags["key-fd"])) {
      throw new StageOptionsError("--key-fd must be a number");
    }
    keyFile = `/dev/fd/${flags["key-fd"]}`;
  } else if (flags["key-file"] !== undefined && flags["key-file"] !== "true") {
    keyFile = flags["key-file"];
  } else {
    throw new StageOptionsError("the signer needs --key-file F or --key-fd N (hex secret key)");
  }
  return { secretKey: readKeyFileSync(keyFile), keyFile, engine };
}

function readKeyFileSync(path: string): string {
  const buf = new Uint8Array(MAX_PASSPHRASE_BYTES + 1);
  let len = 0;
  try {
    using file = Deno.openSync(path, { read: true });
    for (;;) {
      const n = file.readSync(buf.subarray(len));
      if (n === null) break;
      len += n;
      if (len > MAX_PASSPHRASE_BYTES) throw new PassphraseSourceError("key file is too large");
    }
    const key = parseSecretKey(new TextDecoder().decode(buf.subarray(0, len)));
    return bytesToHex(key);
  } catch (err) {
    if (err instanceof SecretKeyFormatError) {
      throw new StageOptionsError(`key in ${path}: ${err.message}`);
    }
    throw new StageOptionsError(`cannot read the key from ${path}: ${(err as Error).message}`);
  } finally {
    buf.fill(0);
  }
}

/** The signer stage. */
export const signerStage: TransformStage<Chunk, Chunk, SignerOptions> = {
  name: "signer",
  role: "transform",
  description: "signs event templates (NIP-01 id + Schnorr sig); the only stage holding the key",
  parseOptions: parseSignerFlags,
  permissions: (options) => ({
    ...NO_PERMISSIONS,
    read: options.keyFile !== undefined && !options.keyFile.startsWith("/dev/fd/")
      ? [options.keyFile]
      : false,
  }),
  create: createSigner,
};

if (import.meta.main) await stageMain(signerStage);
