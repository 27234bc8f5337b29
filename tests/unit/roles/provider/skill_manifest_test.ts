import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  missingParams,
  parseSkillManifest,
  SkillManifestError,
} from "../../../../roles/provider/skills/skill_manifest.ts";

const md = (front: string) => `---\n${front}\n---\n\n# body\n`;

Deno.test("skill manifest: the built-in skills parse", async () => {
  const echo = parseSkillManifest(await Deno.readTextFile("skills/echo/SKILL.md"));
  assertEquals(echo.name, "echo");
  assertEquals(echo.kinds, [5601]);
  assertEquals(echo.permissions, { network: false, read: [], write: [] });
  const ci = parseSkillManifest(await Deno.readTextFile("skills/ci-run/SKILL.md"));
  assertEquals(ci.kinds, [5600]);
  assertEquals(ci.timeoutMs, 120_000);
  assertEquals(ci.memoryBytes, 512 * 1024 * 1024);
  assertEquals(ci.price, 5000n);
});

Deno.test("skill manifest: defaults and every field", () => {
  const min = parseSkillManifest(md("name: a\ndescription: d\nmetadata:\n  kinds: 5001"));
  assertEquals(min.kinds, [5001]);
  assertEquals(min.price, 0n);
  assertEquals(min.timeoutMs, 60_000);
  assertEquals(min.memoryBytes, 256 * 1024 * 1024);
  assertEquals(min.idempotent, false);
  const full = parseSkillManifest(md(
    'name: b-2\ndescription: x\nmetadata:\n  kinds: [5000, 5002, 5000]\n  price: "123456789012345678901"\n' +
      "  timeout: 1.5\n  memory: 64\n  idempotent: true\n  permissions:\n    network: true\n" +
      "    read: [/data]\n    write: []",
  ));
  assertEquals(full.kinds, [5000, 5002]);
  assertEquals(full.price, 123456789012345678901n);
  assertEquals(full.timeoutMs, 1500);
  assertEquals(full.permissions, { network: true, read: ["/data"], write: [] });
});

Deno.test("skill manifest: precise errors", () => {
  const bad: [string, string][] = [
    ["no front matter here", "front-matter"],
    ["---\nname: [unclosed\n---\n", "yaml"],
    ["---\n- a list\n---\n", "front-matter"],
    [md("description: d\nmetadata:\n  kinds: [5000]"), "name"],
    [md("name: Bad Name\ndescription: d\nmetadata:\n  kinds: [5000]"), "name"],
    [md("name: a\nmetadata:\n  kinds: [5000]"), "description"],
    [md("name: a\ndescription: d"), "metadata.kinds"],
    [md("name: a\ndescription: d\nmetadata:\n  kinds: [6000]"), "metadata.kinds"],
    [md("name: a\ndescription: d\nmetadata:\n  kinds: [5000]\n  price: -1"), "metadata.price"],
    [md("name: a\ndescription: d\nmetadata:\n  kinds: [5000]\n  timeout: 0"), "metadata.timeout"],
    [md("name: a\ndescription: d\nmetadata:\n  kinds: [5000]\n  memory: lots"), "metadata.memory"],
    [
      md("name: a\ndescription: d\nmetadata:\n  kinds: [5000]\n  permissions:\n    network: yes!"),
      "metadata.permissions.network",
    ],
    [
      md("name: a\ndescription: d\nmetadata:\n  kinds: [5000]\n  permissions:\n    read: [rel]"),
      "metadata.permissions.read",
    ],
    ["---\n" + "x: " + "y".repeat(70_000) + "\n---\n", "front-matter"],
  ];
  for (const [text, field] of bad) {
    const err = assertThrows(() => parseSkillManifest(text), SkillManifestError);
    assertEquals(err.field, field, `${JSON.stringify(text.slice(0, 60))}: ${err.message}`);
  }
});

Deno.test("skill manifest: alias bombs are refused", () => {
  const bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n" +
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
    "name: a\ndescription: d\nmetadata:\n  kinds: [5000]";
  const err = assertThrows(() => parseSkillManifest(md(bomb)), SkillManifestError);
  assertEquals(err.field, "yaml");
});

Deno.test("skill manifest: any event kind but the requester's own; required params", () => {
  const dm = (meta: string) =>
    `---\nname: dm\ndescription: private messages\nmetadata:\n${meta}\n---\n`;
  const m = parseSkillManifest(dm("  kinds: [1059, 5600]\n  required_params: [cmd, image]"));
  assertEquals([m.kinds, m.requiredParams], [[1059, 5600], ["cmd", "image"]]);
  assertEquals(parseSkillManifest(dm("  kinds: [5601]")).requiredParams, []);
  for (const bad of ["  kinds: [5]", "  kinds: [6600]", "  kinds: [7000]", "  kinds: [70000]"]) {
    assertThrows(() => parseSkillManifest(dm(bad)), SkillManifestError, "metadata.kinds");
  }
  assertThrows(
    () => parseSkillManifest(dm('  kinds: [5601]\n  required_params: ["a b"]')),
    SkillManifestError,
    "metadata.required_params",
  );
  assertEquals(missingParams([["param", "cmd", "x"], ["i", "image"]], ["cmd", "image"]), ["image"]);
});
