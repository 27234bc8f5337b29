/** Which filters the PostgreSQL store reads through named prepared statements (state/postgres/prepared_filter_shape.ts). */
import { assert } from "../../../../harness/assert.ts";
import { preparesFilterShape } from "../../../../state/postgres/prepared_filter_shape.ts";

Deno.test("prepared filter shape: plain fields and one common tag key are prepared; several or rare tag keys are not", () => {
  assert(preparesFilterShape({}));
  assert(
    preparesFilterShape({ ids: ["a"], authors: ["b"], kinds: [1], since: 1, until: 2, limit: 5 }),
  );
  for (const key of ["#e", "#p", "#d", "#a", "#t"]) {
    assert(preparesFilterShape({ [key]: ["x"] }), key);
  }
  assert(!preparesFilterShape({ "#e": ["x"], "#p": ["y"] }));
  assert(!preparesFilterShape({ "#x": ["x"] }));
  assert(!preparesFilterShape({ "#Z": ["x"], kinds: [1] }));
});
