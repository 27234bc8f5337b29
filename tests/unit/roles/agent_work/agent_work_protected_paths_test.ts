import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  checkProtectGlobs,
  protectedMatcher,
} from "../../../../roles/agent_work/protected_paths.ts";
import { ProtectGlobError } from "../../../../roles/agent_work/agent_work_errors.ts";

const FILES = [
  "test_a.py",
  "src/test_b.py",
  "src/calc.py",
  "tests/unit/x.py",
  "tests/y.py",
  "a/tests/z.py",
  ".hidden/test_c.py",
  "docs/notes.md",
  "docs/deep/er/notes.md",
];
const GLOBS = ["test_*.py", "tests/**", "tests", "docs/**/notes.md", "src/?alc.py", "[ab]/*/z.py"];

Deno.test("protected paths: the matcher agrees with bash's globstar expansion the driver deletes with", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of FILES) {
      await Deno.mkdir(`${dir}/${f.slice(0, f.lastIndexOf("/") + 1) || "."}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${f}`, "");
    }
    for (const glob of GLOBS) {
      const pattern = glob.includes("/") ? glob : `**/${glob}`;
      const bash = await new Deno.Command("bash", {
        args: [
          "-c",
          `shopt -s globstar dotglob nullglob; IFS=; for p in ${pattern}; do echo "$p"; done`,
        ],
        cwd: dir,
      }).output();
      const matched = new TextDecoder().decode(bash.stdout).split("\n").filter((p) => p !== "");
      // bash names a matched directory; everything under it goes with it.
      const covered = FILES.filter((f) =>
        matched.some((m) => f === m || f.startsWith(m.endsWith("/") ? m : `${m}/`))
      );
      assertEquals(FILES.filter(protectedMatcher([glob])), covered, glob);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("protected paths: a glob that is empty, climbs out, or names .git is refused", () => {
  for (const bad of ["", "a/../b", ".git/config", "**/.git", "x\ny", "a//b"]) {
    assertThrows(() => checkProtectGlobs([bad]), ProtectGlobError);
  }
  assertEquals(checkProtectGlobs(["/tests/", "tests"]), ["tests"]);
});
