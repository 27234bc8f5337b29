/**
 * Reproducible randomness for fuzz tests: the seed comes from `FUZZ_SEED` when set (to replay a
 * failing run) or is picked at random, and a small seeded generator spreads the inputs.
 *
 * @module
 */

/** `FUZZ_SEED` is not an integer in [0, 2^32). */
export class FuzzSeedError extends Error {
  override name = "FuzzSeedError";
}

/** Options for {@linkcode fuzzSeed}. */
export interface FuzzSeedOptions {
  /** Environment reader; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/**
 * The run's seed: `FUZZ_SEED` when set, else a random one (print it so a failure can be
 * replayed).
 *
 * @example
 * ```ts
 * const seed = fuzzSeed();
 * console.log(`FUZZ_SEED=${seed}`);
 * ```
 */
export function fuzzSeed(options: FuzzSeedOptions = {}): number {
  const text = (options.env ?? ((name) => Deno.env.get(name)))("FUZZ_SEED");
  if (text === undefined || text === "") return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new FuzzSeedError(
      `FUZZ_SEED must be an integer in [0, 2^32), got ${JSON.stringify(text)}`,
    );
  }
  return seed;
}

/**
 * mulberry32: tiny, fast and good enough to spread fuzz inputs; never for secrets. Hand-written
 * because it is eight lines and must give the same sequence for a seed on every run.
 *
 * @example
 * ```ts
 * const rand = seededRandom(42);
 * const byte = Math.floor(rand() * 256);
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
