/**
 * The few assertions the tests use, in the shape of `@std/assert` (JSR is not reachable here),
 * built on `node:assert/strict`.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts that `actual` deeply equals `expected`. */
export function assertEquals<T>(actual: unknown, expected: T, msg?: string): asserts actual is T {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Asserts that `actual` does not deeply equal `expected`. */
export function assertNotEquals(actual: unknown, expected: unknown, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = "assertion failed"): asserts expr {
  nodeAssert.ok(expr, msg);
}

/** Asserts that `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  nodeAssert.ok(
    actual.includes(expected),
    msg ??
      `expected ${JSON.stringify(actual.slice(0, 400))} to include ${JSON.stringify(expected)}`,
  );
}

/** Constructor of an error class (`never` rest: the supertype of every constructor). */
type ErrorClass<E extends Error> = new (...args: never) => E;

/** Asserts that `fn` throws an instance of `errorClass`, whose message includes `msgIncludes`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  errorClass: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (err) {
    return checkError(err, errorClass, msgIncludes);
  }
  throw new nodeAssert.AssertionError({ message: `expected ${errorClass.name} to be thrown` });
}

/** Asserts that `fn` rejects with an instance of `errorClass`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  errorClass: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, errorClass, msgIncludes);
  }
  throw new nodeAssert.AssertionError({ message: `expected ${errorClass.name} to be rejected` });
}

function checkError<E extends Error>(err: unknown, cls: ErrorClass<E>, includes?: string): E {
  nodeAssert.ok(
    err instanceof cls,
    `expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
  );
  if (includes !== undefined) assertStringIncludes((err as Error).message, includes);
  return err as E;
}
