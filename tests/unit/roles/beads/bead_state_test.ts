/**
 * The beads' conflict rule (roles/beads/bead_state.ts, docs/PROTOCOL.md "Beads as events"):
 * versions decide, never the order states are merged in.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import { seededRandom } from "../../../support/seeded_random.ts";
import {
  type BeadState,
  type BeadView,
  emptyBead,
  mergeBeads,
  recordLocalChanges,
  viewOf,
} from "../../../../roles/beads/bead_state.ts";

const A = "aa".repeat(32);
const B = "bb".repeat(32);
const view = (fields: Record<string, string | number>, more: Partial<BeadView> = {}): BeadView => ({
  fields,
  labels: [],
  deps: [],
  comments: [],
  ...more,
});

Deno.test("bead state: concurrent edits of one field at one version go to the greater author key, whichever merges first", () => {
  const base = recordLocalChanges({ state: emptyBead(), now: view({ title: "T" }), me: A }).state;
  const seen = view({ title: "T" });
  const a = recordLocalChanges({ state: base, now: view({ title: "by A" }), seen, me: A }).state;
  const b = recordLocalChanges({ state: base, now: view({ title: "by B" }), seen, me: B }).state;
  assertEquals(mergeBeads(a, b).f.title.v, "by B");
  assertEquals(mergeBeads(b, a).f.title.v, "by B");
});

Deno.test("bead state: an edit made after seeing another's wins over it, whatever the keys", () => {
  const base = recordLocalChanges({ state: emptyBead(), now: view({ title: "T" }), me: A }).state;
  const seen = view({ title: "T" });
  const b = recordLocalChanges({ state: base, now: view({ title: "by B" }), seen, me: B }).state;
  const a = recordLocalChanges({
    state: b,
    now: view({ title: "by A, later" }),
    seen: view({ title: "by B" }),
    me: A,
  }).state;
  assertEquals(mergeBeads(b, a).f.title.v, "by A, later");
  assertEquals(mergeBeads(a, b).f.title.v, "by A, later");
});

Deno.test("bead state: a label removed after it was added stays removed; comments from both sides are all kept", () => {
  const base = recordLocalChanges({
    state: emptyBead(),
    now: view({ title: "T" }, { labels: ["x"] }),
    me: A,
  }).state;
  const seen = view({ title: "T" }, { labels: ["x"] });
  const removed = recordLocalChanges({
    state: base,
    now: view({ title: "T" }, { comments: [{ author: "a", text: "gone", at: "" }] }),
    seen,
    me: B,
  }).state;
  const commented = recordLocalChanges({
    state: base,
    now: view({ title: "T" }, { labels: ["x"], comments: [{ author: "b", text: "hi", at: "" }] }),
    seen,
    me: A,
  }).state;
  const merged = viewOf(mergeBeads(commented, removed));
  assertEquals(merged.labels, []);
  assertEquals(merged.comments.map((c) => c.text).sort(), ["gone", "hi"]);
});

Deno.test("bead state: a value bd already shows from the merged state is not taken for a local edit", () => {
  const merged =
    recordLocalChanges({ state: emptyBead(), now: view({ title: "new" }), me: B }).state;
  const again = recordLocalChanges({
    state: merged,
    now: view({ title: "new" }),
    seen: view({ title: "old" }),
    me: A,
  });
  assertEquals(again.changed, false);
});

Deno.test("bead state: merging is commutative, associative and idempotent over random edits of three members", () => {
  const random = seededRandom(7);
  const members = [A, B, "cc".repeat(32)];
  const states: BeadState[] = members.map(() => emptyBead());
  const seens: (BeadView | undefined)[] = members.map(() => undefined);
  for (let step = 0; step < 300; step++) {
    const i = Math.floor(random() * 3);
    if (random() < 0.3) {
      const j = Math.floor(random() * 3);
      states[i] = mergeBeads(states[i], states[j]);
      continue;
    }
    const now = viewOf(states[i]);
    now.fields = { ...now.fields, [["title", "status", "priority"][step % 3]]: `v${step}` };
    now.labels = random() < 0.5 ? ["l1"] : ["l2"];
    now.comments = [...now.comments, { author: members[i], text: `c${step % 5}`, at: "" }];
    states[i] = recordLocalChanges({ state: states[i], now, seen: seens[i], me: members[i] }).state;
    seens[i] = now;
  }
  const [x, y, z] = states;
  const key = (s: BeadState) => {
    const v = viewOf(s);
    return JSON.stringify([
      Object.entries(v.fields).sort(),
      v.labels,
      v.deps,
      v.comments.map((c) => `${c.author}:${c.text}`).sort(),
    ]);
  };
  assertEquals(key(mergeBeads(x, y)), key(mergeBeads(y, x)));
  assertEquals(key(mergeBeads(mergeBeads(x, y), z)), key(mergeBeads(x, mergeBeads(y, z))));
  assertEquals(key(mergeBeads(x, x)), key(x));
});
