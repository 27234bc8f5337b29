import { assert, assertEquals } from "../support/assert.ts";
import { modulesWithExamples, readPendingList } from "../../tools/check_doc_examples.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("doc examples: every pending module still has examples, and is listed once, sorted", async () => {
  const pending = await readPendingList(root);
  const withExamples = new Set(await modulesWithExamples({ root }));
  for (const path of pending) {
    // A module deleted since it was listed is not checked either way; one that lost its
    // examples must leave the list.
    const exists = await Deno.stat(`${root}/${path}`).then(() => true, () => false);
    if (!exists) continue;
    assert(withExamples.has(path), `${path} is on the pending list but has no example any more`);
  }
  assertEquals(pending, [...new Set(pending)].sort(), "the pending list is sorted, no repeats");
});

Deno.test("doc examples: the pending list only shrinks (most entries it may hold)", async () => {
  // Lower this when you take modules off the list; never raise it.
  const MOST = 0;
  const pending = await readPendingList(root);
  assert(pending.length <= MOST, `${pending.length} pending modules, more than ${MOST}`);
});
