/**
 * A bead's state as the members of a rig share it, and its conflict rule (docs/PROTOCOL.md "Beads
 * as events"): versions, never wall clocks.
 *
 * - Every field (title, status, priority, ...), every label and every dependency is a register
 *   `{v, c, a}`: its value, a Lamport counter and the key of the member that wrote it. A local
 *   change takes `c` = the bead's highest counter + 1. Two registers merge to the one with the
 *   higher `c`; equal counters to the higher author key; the same author and counter (never
 *   published twice, but a restart could sign it again) to the greater value as JSON. So the
 *   merge is commutative, associative and idempotent: members converge whatever the order.
 * - A label or a dependency is present while its register's value is `true`: removing it is a
 *   write of `false`, so a removal wins over an older add and loses to a newer one.
 * - Comments are a grow-only set keyed by author, text and occurrence: merged by union.
 *
 * @module
 */

/** One field's, label's or dependency's value, with its version. */
export interface BeadRegister<T> {
  v: T;
  /** Lamport counter. */
  c: number;
  /** The author's key (hex). */
  a: string;
}

/** A comment, as `bd` keeps it. */
export interface BeadComment {
  author: string;
  text: string;
  /** When it was first made (ISO 8601); kept, not compared. */
  at: string;
}

/** A bead's shared state. */
export interface BeadState {
  /** Fields, by `bd`'s JSON name. */
  f: Record<string, BeadRegister<string | number>>;
  /** Labels: present while `true`. */
  l: Record<string, BeadRegister<boolean>>;
  /** Dependencies, `<type>:<depends on id>`: present while `true`. */
  d: Record<string, BeadRegister<boolean>>;
  /** Comments, by {@linkcode commentKey}. */
  m: Record<string, BeadComment>;
}

/** A bead as `bd` shows it, reduced to what is synced. */
export interface BeadView {
  fields: Record<string, string | number>;
  labels: string[];
  /** `<type>:<depends on id>`. */
  deps: string[];
  comments: BeadComment[];
}

/**
 * An empty state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyBead } from "./bead_state.ts";
 *
 * assert.deepEqual(emptyBead(), { f: {}, l: {}, d: {}, m: {} });
 * ```
 */
export function emptyBead(): BeadState {
  return { f: {}, l: {}, d: {}, m: {} };
}

/**
 * The key of a comment: its author, its text, and which occurrence of that pair it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commentKey } from "./bead_state.ts";
 *
 * assert.equal(commentKey("alice", "looks good", 0), "alice\nlooks good\n0");
 * ```
 */
export function commentKey(author: string, text: string, occurrence: number): string {
  return `${author}\n${text}\n${occurrence}`;
}

/**
 * `comments` by key (the n-th comment of one author with one text is occurrence n).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commentsByKey } from "./bead_state.ts";
 *
 * const twice = [{ author: "a", text: "x", at: "" }, { author: "a", text: "x", at: "" }];
 * assert.deepEqual(Object.keys(commentsByKey(twice)), ["a\nx\n0", "a\nx\n1"]);
 * ```
 */
export function commentsByKey(comments: BeadComment[]): Record<string, BeadComment> {
  const seen = new Map<string, number>();
  const out: Record<string, BeadComment> = {};
  for (const c of comments) {
    const pair = `${c.author}\n${c.text}`;
    const n = seen.get(pair) ?? 0;
    seen.set(pair, n + 1);
    out[commentKey(c.author, c.text, n)] = c;
  }
  return out;
}

/** The bead's highest counter. */
function clockOf(state: BeadState): number {
  let max = 0;
  for (const group of [state.f, state.l, state.d]) {
    for (const r of Object.values(group)) if (r.c > max) max = r.c;
  }
  return max;
}

/** Whether register `x` wins over `y` (see the module doc). */
function wins<T>(x: BeadRegister<T>, y: BeadRegister<T>): boolean {
  if (x.c !== y.c) return x.c > y.c;
  if (x.a !== y.a) return x.a > y.a;
  return JSON.stringify(x.v) > JSON.stringify(y.v);
}

function mergeGroup<T>(
  x: Record<string, BeadRegister<T>>,
  y: Record<string, BeadRegister<T>>,
): Record<string, BeadRegister<T>> {
  const out = { ...x };
  for (const [k, r] of Object.entries(y)) if (out[k] === undefined || wins(r, out[k])) out[k] = r;
  return out;
}

/**
 * The merge of two states of one bead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeBeads } from "./bead_state.ts";
 *
 * const x = { f: { title: { v: "A", c: 1, a: "aa" } }, l: {}, d: {}, m: {} };
 * const y = { f: { title: { v: "B", c: 2, a: "bb" } }, l: {}, d: {}, m: {} };
 * assert.equal(mergeBeads(x, y).f.title.v, "B");
 * ```
 */
export function mergeBeads(x: BeadState, y: BeadState): BeadState {
  return {
    f: mergeGroup(x.f, y.f),
    l: mergeGroup(x.l, y.l),
    d: mergeGroup(x.d, y.d),
    m: { ...y.m, ...x.m },
  };
}

/**
 * The view a state gives `bd`: its fields, the labels and dependencies present, its comments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyBead, viewOf } from "./bead_state.ts";
 *
 * assert.deepEqual(viewOf(emptyBead()).labels, []);
 * ```
 */
export function viewOf(state: BeadState): BeadView {
  const present = (g: Record<string, BeadRegister<boolean>>) =>
    Object.keys(g).filter((k) => g[k].v).sort();
  return {
    fields: Object.fromEntries(Object.entries(state.f).map(([k, r]) => [k, r.v])),
    labels: present(state.l),
    deps: present(state.d),
    comments: Object.values(state.m),
  };
}

/** Options for {@linkcode recordLocalChanges}. */
export interface LocalChangeOptions {
  /** The merged state known before this look at `bd`. */
  state: BeadState;
  /** What `bd` shows now. */
  now: BeadView;
  /**
   * What `bd` showed after the last sync (undefined: a bead new here, every value of it is a
   * change).
   */
  seen?: BeadView;
  /** This member's key. */
  me: string;
}

/**
 * The state with what changed in `bd` since the last sync written as new versions, and whether
 * anything did. A value is a local change when `bd` differs both from what it showed last and
 * from the merged state (so a write into `bd` that a crash kept from being noted is not taken for
 * an edit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyBead, recordLocalChanges } from "./bead_state.ts";
 *
 * const now = { fields: { title: "A" }, labels: [], deps: [], comments: [] };
 * const { state, changed } = recordLocalChanges({ state: emptyBead(), now, me: "aa" });
 * assert.deepEqual([changed, state.f.title.c], [true, 1]);
 * ```
 */
export function recordLocalChanges(
  options: LocalChangeOptions,
): { state: BeadState; changed: boolean } {
  const { now, seen, me } = options;
  const state: BeadState = {
    f: { ...options.state.f },
    l: { ...options.state.l },
    d: { ...options.state.d },
    m: { ...options.state.m },
  };
  const c = clockOf(state) + 1;
  let changed = false;
  for (const [k, v] of Object.entries(now.fields)) {
    if (seen !== undefined && seen.fields[k] === v) continue;
    if (state.f[k]?.v === v) continue;
    state.f[k] = { v, c, a: me };
    changed = true;
  }
  const sets = [[now.labels, seen?.labels, state.l], [now.deps, seen?.deps, state.d]] as const;
  for (const [nowSet, seenSet, group] of sets) {
    const was = new Set(seenSet ?? []);
    const is = new Set(nowSet);
    for (const k of is) {
      if (was.has(k) || group[k]?.v === true) continue;
      group[k] = { v: true, c, a: me };
      changed = true;
    }
    for (const k of was) {
      if (is.has(k) || group[k]?.v !== true) continue;
      group[k] = { v: false, c, a: me };
      changed = true;
    }
  }
  for (const [k, comment] of Object.entries(commentsByKey(now.comments))) {
    if (state.m[k] !== undefined) continue;
    state.m[k] = comment;
    changed = true;
  }
  return { state, changed };
}
