/**
 * Fuzzes the NIP-01 parsers (both directions) and filter validation with random and mutated
 * messages. Only the documented error classes may escape, and whatever parses must re-serialize
 * to a message that parses to the same value. Seeded: `FUZZ_SEED=<n>` reproduces a run,
 * `FUZZ_ITERATIONS=<n>` changes its length (default 120k messages).
 */
import {
  Nip01MessageError,
  parseClientMessage,
  parseRelayMessage,
  serializeClientMessage,
  serializeRelayMessage,
} from "../../protocol/nip01_message.ts";
import { NostrFilterError, validateFilter } from "../../protocol/nostr_filter.ts";
import { assertEquals } from "../../harness/assert.ts";
import { fuzzSeed, seededRandom } from "../support/seeded_random.ts";

const seed = fuzzSeed();
const iterations = Number(Deno.env.get("FUZZ_ITERATIONS") ?? 120_000);

const rand = seededRandom(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const hex = (n: number) => Array.from({ length: n }, () => "0123456789abcdef"[int(16)]).join("");

const TYPES = ["EVENT", "REQ", "CLOSE", "COUNT", "AUTH", "EOSE", "OK", "CLOSED", "NOTICE", "X"];
const ODD_STRINGS = ["", "\u0000", "é", "\ud800", "a".repeat(65), "kind: 1\nid: x", "[]", "{}"];

function randomValue(depth = 0): unknown {
  switch (int(depth > 3 ? 6 : 9)) {
    case 0:
      return int(1000) - 500;
    case 1:
      return pick([1.5, -0, 1e308, 2 ** 53, 65536, NaN]);
    case 2:
      return pick(ODD_STRINGS);
    case 3:
      return hex(pick([63, 64, 128]));
    case 4:
      return pick([true, false, null]);
    case 5:
      return pick(TYPES);
    case 6:
      return Array.from({ length: int(4) }, () => randomValue(depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: int(4) }, () => [
          pick(["ids", "kinds", "#e", "#ee", "since", "limit", "id", "tags", "count"]),
          randomValue(depth + 1),
        ]),
      );
    default:
      return randomEvent();
  }
}

function randomEvent(): Record<string, unknown> {
  return {
    id: hex(64),
    pubkey: hex(64),
    created_at: int(2 ** 31),
    kind: int(70000),
    tags: Array.from({ length: int(3) }, () => Array.from({ length: int(3) }, () => hex(int(8)))),
    content: pick(ODD_STRINGS),
    sig: hex(128),
  };
}

function randomFilter(): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (int(2)) f.kinds = Array.from({ length: int(3) }, () => int(70000));
  if (int(2)) f.ids = [hex(64)];
  if (int(3) === 0) f["#" + pick(["e", "p", "t", "E", "ee", "1"])] = [hex(int(64))];
  if (int(3) === 0) f.since = int(2 ** 31);
  if (int(4) === 0) f.limit = pick([0, 10, -1, 1.5]);
  return f;
}

function wellFormed(): unknown[] {
  const sub = pick(["s", "sub-1", "x".repeat(64)]);
  switch (int(10)) {
    case 0:
      return ["EVENT", randomEvent()];
    case 1:
      return ["REQ", sub, ...Array.from({ length: 1 + int(3) }, randomFilter)];
    case 2:
      return ["CLOSE", sub];
    case 3:
      return ["COUNT", sub, randomFilter()];
    case 4:
      return ["EVENT", sub, int(2) ? randomEvent() : "id: " + hex(64) + "\nkind: 1"];
    case 5:
      return ["EOSE", sub];
    case 6:
      return ["OK", hex(64), int(2) === 0, pick(["", "duplicate:", "blocked: x"])];
    case 7:
      return ["CLOSED", sub, "error: x"];
    case 8:
      return ["COUNT", sub, { count: int(100), approximate: int(2) === 0 }];
    default:
      return ["NOTICE", pick(ODD_STRINGS)];
  }
}

/** Structural mutation of a message array. */
function mutateValue(msg: unknown[]): unknown[] {
  const m = structuredClone(msg);
  const n = 1 + int(3);
  for (let i = 0; i < n; i++) {
    const at = int(m.length + 1);
    switch (int(5)) {
      case 0:
        m[at] = randomValue();
        break;
      case 1:
        m.splice(at, 1);
        break;
      case 2:
        m.splice(at, 0, randomValue());
        break;
      case 3: {
        const target = m[int(m.length)];
        if (typeof target === "object" && target !== null && !Array.isArray(target)) {
          const keys = Object.keys(target);
          if (keys.length > 0) (target as Record<string, unknown>)[pick(keys)] = randomValue();
        }
        break;
      }
      default:
        m[0] = pick(TYPES);
    }
  }
  return m;
}

/** Text-level mutation: flips, truncations, insertions. */
function mutateText(text: string): string {
  let t = text;
  const n = 1 + int(4);
  for (let i = 0; i < n; i++) {
    const at = int(t.length + 1);
    switch (int(4)) {
      case 0:
        t = t.slice(0, at) + String.fromCharCode(int(128)) + t.slice(at + 1);
        break;
      case 1:
        t = t.slice(0, at);
        break;
      case 2:
        t = t.slice(0, at) + pick(['"', "[", "]", "{", "}", ",", ":", "\\", "1e999", "null"]) +
          t.slice(at);
        break;
      default:
        t = t.slice(0, at) + t.slice(at + 1 + int(8));
    }
  }
  return t;
}

function nextInput(): string | Uint8Array {
  const r = int(10);
  if (r < 3) return JSON.stringify(wellFormed());
  if (r < 6) return JSON.stringify(mutateValue(wellFormed()));
  if (r < 9) return mutateText(JSON.stringify(wellFormed()));
  const bytes = new TextEncoder().encode(JSON.stringify(wellFormed()));
  bytes[int(bytes.length)] = int(256);
  return bytes;
}

function expectOnly<T>(fn: () => T, ...classes: (new (...a: never) => Error)[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (classes.some((c) => err instanceof c)) return undefined;
    throw new Error(`seed ${seed}: unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

Deno.test(`NIP-01 parsers and filter validation survive ${iterations} fuzzed inputs (seed ${seed})`, () => {
  const counts = { client: 0, relay: 0, filter: 0 };
  for (let i = 0; i < iterations; i++) {
    const input = nextInput();
    const client = expectOnly(
      () => parseClientMessage(input, { maxBytes: 4096 }),
      Nip01MessageError,
    );
    if (client !== undefined) {
      counts.client++;
      assertEquals(parseClientMessage(serializeClientMessage(client)), client, `seed ${seed}`);
    }
    const relay = expectOnly(() => parseRelayMessage(input, { maxBytes: 4096 }), Nip01MessageError);
    if (relay !== undefined) {
      counts.relay++;
      assertEquals(parseRelayMessage(serializeRelayMessage(relay)), relay, `seed ${seed}`);
    }
    const value = i % 2 === 0 ? randomFilter() : randomValue();
    if (expectOnly(() => validateFilter(value, { maxListItems: 2 }), NostrFilterError)) {
      counts.filter++;
    }
  }
  // The generator must reach the accepting paths too, or the fuzz proves little.
  for (const [what, n] of Object.entries(counts)) {
    if (n < iterations / 100) throw new Error(`seed ${seed}: only ${n} ${what} inputs accepted`);
  }
});
