/**
 * A town process with a small V8 young generation. V8 sizes the young generation when the
 * isolate is made (`--max-semi-space-size`, 55-64 MiB by default whatever the load) and
 * `node:v8`'s `setFlagsFromString` does not change it on a running isolate (measured), so a
 * process started without the flag replaces itself (`execve`, same pid, same arguments, same
 * descriptors and parent) with one started with it, through `DENO_V8_FLAGS`. Under read floods
 * the young generation was a fifth of a town's peak on PostgreSQL (docs/OPERATIONS.md "Peers
 * that do not read"). The same start has V8 give an ended isolate's heap pages back to the
 * system at once (`--no-memory-pool-share-memory-on-teardown`): by default they move to a
 * process-wide pool for other isolates to reuse, which an idle process empties only when its
 * memory reducer runs, about 30 s after start, so the key's worker, stopped when idle, left 4-5
 * MiB of pages in an idle town's RSS until then (docs/SCALE.md "An idle town's memory"). Like the
 * young generation's, the flag is read when V8 starts. And the replaced process runs without
 * Deno's code cache (`--no-code-cache`, inserted after `deno run`): V8 refuses a cache made under
 * other flags, so the two starts rewrote each other's cache at every start, and the replaced
 * process held the cache's bytecode and mapped pages (docs/SCALE.md "The town's second start
 * without the code cache (round 9)"). Nothing is done where the semi space flag is already given (`--v8-flags` or
 * `DENO_V8_FLAGS`: the operator's choice wins), off Linux, or without FFI.
 *
 * @module
 */
import { openNativeLibrary } from "../protocol/native_library.ts";

/** Options for {@linkcode startWithSmallYoungGeneration}. */
export interface SmallYoungGenerationOptions {
  /** V8's `--max-semi-space-size`, MiB. Default {@linkcode TOWN_SEMI_SPACE_MIB}. */
  semiSpaceMiB?: number;
}

/** The town's semi space, MiB (V8's default lets the young generation reach 55-64 MiB). */
export const TOWN_SEMI_SPACE_MIB = 4;

/** Flags given with the semi space one: an ended isolate's pages go back to the system at once. */
const WITH_FLAGS = ["--no-memory-pool-share-memory-on-teardown"];

const FLAG = "--max-semi-space-size";
const NO_CODE_CACHE = "--no-code-cache";
const SYMBOLS = { execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" } } as const;
const encoder = new TextEncoder();

/**
 * Replaces this process with itself started with a small young generation and an ended
 * isolate's pages given back at once, unless the semi space flag is set already; returns only
 * when it was set already or could not be (false then).
 *
 * It replaces the process that calls it: no example that runs here:
 * tests/unit/transport/small_young_generation_test.ts (first thing in `town up`; the rest runs in
 * the replaced process).
 */
export function startWithSmallYoungGeneration(options: SmallYoungGenerationOptions = {}): boolean {
  const flags = envFlags();
  if (flags === undefined || flags.includes(FLAG)) return flags !== undefined;
  const argv = ownArguments();
  if (argv === undefined || argv.some((a) => a.includes(FLAG))) return argv !== undefined;
  const libc = Deno.build.os === "linux" ? openNativeLibrary(["libc.so.6"], SYMBOLS) : undefined;
  if (libc === undefined) return false;
  const value = [`${FLAG}=${options.semiSpaceMiB ?? TOWN_SEMI_SPACE_MIB}`, ...WITH_FLAGS].join(",");
  const env = { ...Deno.env.toObject(), DENO_V8_FLAGS: flags === "" ? value : `${flags},${value}` };
  const strings: Uint8Array[] = [];
  const cString = (text: string) => {
    const bytes = encoder.encode(`${text}\0`);
    strings.push(bytes);
    return bytes;
  };
  const pointers = (texts: string[]) => {
    const array = new BigUint64Array(texts.length + 1);
    texts.forEach((text, i) => {
      array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cString(text))));
    });
    return array;
  };
  const argvArray = pointers(withoutCodeCache(argv));
  const envArray = pointers(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  // Returns only on failure (the process is replaced otherwise); `strings` keeps the bytes alive.
  libc.symbols.execve(cString(Deno.execPath()), argvArray, envArray);
  libc.close();
  strings.length = 0;
  return false;
}

/** `DENO_V8_FLAGS` ("" when unset); undefined when the environment cannot be read. */
function envFlags(): string | undefined {
  try {
    return Deno.env.get("DENO_V8_FLAGS") ?? "";
  } catch {
    return undefined;
  }
}

/**
 * `argv` with `--no-code-cache` after `run` when it is a `deno run` (a compiled program, or one
 * given the flag, is left as it is).
 */
function withoutCodeCache(argv: string[]): string[] {
  if (argv[1] !== "run" || argv.includes(NO_CODE_CACHE)) return argv;
  return [argv[0], "run", NO_CODE_CACHE, ...argv.slice(2)];
}

/** This process's own argv (the runtime's flags included), from `/proc/self/cmdline`. */
function ownArguments(): string[] | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/cmdline");
    const argv = text.split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv.length > 0 ? argv : undefined;
  } catch {
    return undefined;
  }
}
