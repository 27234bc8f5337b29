/**
 * The sample repository of the Q3a benches (docs/RESEARCH.md "Q3a") and how its beads overlap,
 * known in advance: `hot` shared files (`src/hot<h>.txt`, six lines each) and one bead per
 * polecat. Every bead adds a file of its own (`src/bead<i>.txt`, which nothing else touches); a
 * `share` of the beads also rewrites line 2 of one hot file, the hot beads taking the hot files in
 * turn. Two beads that rewrite the same hot file from the same tip conflict in git; every other
 * pair merges clean. The script an agent runs for a bead is {@linkcode beadScript}.
 *
 * @module
 */

/** The overlap: how many hot files, and which share of the beads touch one. */
export interface Overlap {
  /** Hot files. */
  hot: number;
  /** The share (0-1) of the beads that rewrite a hot file. */
  share: number;
}

/**
 * The hot file bead `i` rewrites (its index), or undefined for a bead that touches only its own
 * file: bead `i` is hot when `floor((i + 1) * share)` passes `floor(i * share)`, so the hot beads
 * are spread evenly over the bead numbers, and the hot ones take the hot files in turn.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hotFileOf } from "./q3a_overlap.ts";
 *
 * const beads = [0, 1, 2, 3, 4, 5].map((i) => hotFileOf(i, { hot: 2, share: 0.5 }));
 * assert.equal(beads.join(), ",0,,1,,0");
 * ```
 */
export function hotFileOf(i: number, o: Overlap): number | undefined {
  const before = Math.floor(i * o.share);
  if (Math.floor((i + 1) * o.share) === before) return undefined;
  return before % o.hot;
}

/**
 * The files of the sample repository's first commit (path to text).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleFiles } from "./q3a_overlap.ts";
 *
 * assert.equal(Object.keys(sampleFiles(3)).length, 3);
 * ```
 */
export function sampleFiles(hot: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let h = 0; h < hot; h++) {
    files[`src/hot${h}.txt`] = [1, 2, 3, 4, 5, 6].map((n) => `hot ${h} line ${n}`).join("\n") +
      "\n";
  }
  return files;
}

/**
 * The shell text that makes bead `i`'s change in the working tree (its own file, and line 2 of
 * its hot file rewritten), then commits it: what a scripted agent runs, on whichever tip it was
 * slung on (so a re-sling makes the same change on the new tip).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beadScript } from "./q3a_overlap.ts";
 *
 * const text = beadScript(1, { hot: 2, share: 0.5 });
 * assert(text.includes("src/hot0.txt"), text);
 * ```
 */
export function beadScript(i: number, o: Overlap): string {
  const h = hotFileOf(i, o);
  return [
    "set -e",
    "mkdir -p src",
    `echo "bead ${i}" > src/bead${i}.txt`,
    ...(h === undefined ? [] : [`sed -i '2s/.*/bead ${i} was here/' src/hot${h}.txt`]),
    "git add -A",
    `git commit -q -m 'bead ${i}'`,
  ].join("\n");
}
