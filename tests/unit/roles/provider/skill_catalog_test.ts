import { assert, assertEquals, assertRejects } from "../../../../harness/assert.ts";
import {
  loadSkillCatalog,
  SkillCatalogError,
} from "../../../../roles/provider/skills/skill_catalog.ts";

async function writeSkill(dir: string, name: string, kinds: string, run = true): Promise<void> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${name}/SKILL.md`,
    `---\nname: ${name}\ndescription: test skill\nmetadata:\n  kinds: ${kinds}\n---\n`,
  );
  if (run) await Deno.writeTextFile(`${dir}/${name}/run`, "#!/bin/sh\ncat\n", { mode: 0o755 });
}

Deno.test("skill catalog: the built-in skills dir, by kind", async () => {
  const catalog = await loadSkillCatalog({ dir: "skills", watch: false });
  assertEquals(catalog.forKind(5601)?.manifest.name, "echo");
  assertEquals(catalog.forKind(5600)?.manifest.name, "ci-run");
  // Listed, served only with model presets (roles/provider/skills/provider_skills.ts).
  assertEquals(catalog.forKind(5050)?.manifest.name, "text-generation");
  assertEquals(catalog.problems().size, 0);
  catalog.close();
});

Deno.test("skill catalog: problems are reported per folder, conflicts keep the first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSkill(dir, "a-first", "[5100]");
    await writeSkill(dir, "b-second", "[5100, 5101]");
    await writeSkill(dir, "c-norun", "[5102]", false);
    await Deno.mkdir(`${dir}/d-bad`);
    await Deno.writeTextFile(`${dir}/d-bad/SKILL.md`, "no front matter");
    const catalog = await loadSkillCatalog({ dir, watch: false });
    assertEquals(catalog.forKind(5100)?.manifest.name, "a-first");
    assertEquals(catalog.forKind(5101)?.manifest.name, "b-second");
    assertEquals(catalog.forKind(5102), undefined);
    const problems = catalog.problems();
    assertEquals(problems.get("b-second"), "kind 5100 is already served by a-first");
    assertEquals(problems.get("c-norun"), "no SKILL.md or no run");
    assert(problems.get("d-bad")?.startsWith("SkillManifestError: front-matter"));
    catalog.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("skill catalog: a dropped-in folder is served without restart, removal too", async () => {
  const dir = await Deno.makeTempDir();
  const staging = await Deno.makeTempDir();
  let notify: () => void = () => {};
  const catalog = await loadSkillCatalog({ dir, debounceMs: 50, onChange: () => notify() });
  try {
    assertEquals(catalog.forKind(5999), undefined);
    const changed = (want: (present: boolean) => boolean) =>
      new Promise<void>((resolve) => {
        notify = () => {
          if (want(catalog.forKind(5999) !== undefined)) resolve();
        };
      });
    // Written elsewhere and moved in, as an operator would drop a folder.
    await writeSkill(staging, "dropped", "[5999]");
    const appeared = changed((present) => present);
    await Deno.rename(`${staging}/dropped`, `${dir}/dropped`);
    await appeared;
    assertEquals(catalog.forKind(5999)?.dir, `${await Deno.realPath(dir)}/dropped`);
    const gone = changed((present) => !present);
    await Deno.remove(`${dir}/dropped`, { recursive: true });
    await gone;
    assertEquals(catalog.skills().length, 0);
  } finally {
    catalog.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(staging, { recursive: true });
  }
});

Deno.test("skill catalog: the periodic rescan sees a folder the watcher's rescan would not yet", async () => {
  const dir = await Deno.makeTempDir();
  let changes = 0;
  let seen: () => void = () => {};
  const appeared = new Promise<void>((resolve) => seen = resolve);
  // The watcher's debounce outlasts the test: only the periodic rescan can report the folder.
  const catalog = await loadSkillCatalog({
    dir,
    debounceMs: 3_600_000,
    rescanMs: 50,
    onChange: () => {
      changes++;
      seen();
    },
  });
  try {
    await writeSkill(dir, "polled", "[5998]");
    await appeared;
    assertEquals(catalog.forKind(5998)?.manifest.name, "polled");
    // Rescans that find nothing new do not report a change.
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(changes, 1);
  } finally {
    catalog.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("skill catalog: a missing skills dir is a SkillCatalogError", async () => {
  await assertRejects(
    () => loadSkillCatalog({ dir: "/nonexistent/skills" }),
    SkillCatalogError,
    "/nonexistent/skills",
  );
});

Deno.test("skill catalog: catalogs of one dir share a manifest until its file changes, and a file changed just now is read again", async () => {
  const dir = await Deno.makeTempDir();
  const md = `${dir}/shared/SKILL.md`;
  const manifestOf = (kind: number) =>
    `---\nname: shared\ndescription: test skill\nmetadata:\n  kinds: [${kind}]\n---\n`;
  try {
    await writeSkill(dir, "shared", "[5997]");
    // Written a minute ago: its times tell whether it changed.
    const minuteAgo = new Date(Date.now() - 60_000);
    await Deno.utime(md, minuteAgo, minuteAgo);
    const a = await loadSkillCatalog({ dir, watch: false });
    const b = await loadSkillCatalog({ dir, watch: false });
    // One parse for both (a process's providers all scan the same dir).
    assert(a.forKind(5997)!.manifest === b.forKind(5997)!.manifest);
    // Rewritten (same size, new kind): the next scan parses it again.
    await Deno.writeTextFile(md, manifestOf(5996));
    await b.reload();
    assertEquals(b.forKind(5996)?.manifest.name, "shared");
    assertEquals(b.forKind(5997), undefined);
    // Rewritten again at once (same size, and on a coarse clock the same times): a manifest read
    // just after its file changed was not kept, so this rewrite is seen too.
    await Deno.writeTextFile(md, manifestOf(5995));
    await b.reload();
    assertEquals(b.forKind(5995)?.manifest.name, "shared");
    assertEquals(b.forKind(5996), undefined);
    a.close();
    b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
