/**
 * `turnpike skill new|test` as a skill author runs them: a scaffold made outside the repo passes
 * `skill test` as it is (it imports TOON from the sandbox); the built-in skills run on inputs in
 * the provider's sandbox; a missing required param is refused as a provider would; a broken
 * SKILL.md dropped into a running provider's skills dir is reported in `node status`, and picked
 * up once fixed.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { finalizeEvent, generateSecretKey, getPublicKey, nip17 } from "nostr-tools";
import { encodeEventToon } from "../../protocol/toon_codec.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { waitUntil } from "../../harness/provider_test_kit.ts";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";
import { startTestDockerEngine } from "../../harness/docker_daemon.ts";
import { dockerSampleContext } from "../../roles/demo/docker_sample_context.ts";

const SKILLS = new URL("../../skills", import.meta.url).pathname;

Deno.test("skill new then skill test, outside the repo: it runs in the sandbox as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skill-author-" });
  try {
    const made = await runCli(["skill", "new", "wordcount", "--dir", dir]);
    assertEquals(made.code, 0, made.stderr);
    assertStringIncludes(
      made.stdout,
      `skill wordcount created in ${await Deno.realPath(dir)}/wordcount`,
    );
    const res = await runCli([
      "--json",
      "skill",
      "test",
      `${dir}/wordcount`,
      "--input",
      "text:three little words",
    ]);
    assertEquals(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assertEquals([out.type, out.status, out.exitCode, out.stdout], [
      "skill-test",
      "ok",
      0,
      "3 words\n",
    ]);
    assertEquals(out.stderr, "counted 3 words\n");
    const again = await runCli(["skill", "new", "wordcount", "--dir", dir]);
    assertEquals(again.code, 2);
    assertMatch(again.stderr, /^Error: .*exists already/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("skill new: --dir is created; the scaffold runs inside a Deno project's skills dir (npm imports it must not load); documented limits", async () => {
  const root = await Deno.makeTempDir({ prefix: "skill-project-" });
  // Open to the sandbox user, as a provider's skills dir is.
  await Deno.chmod(root, 0o755);
  try {
    // A provider's skills dir inside a project whose deno.json names npm packages the sandbox's
    // cache does not hold (as the repository's own skills/ dir does).
    await Deno.writeTextFile(
      `${root}/deno.json`,
      JSON.stringify({ nodeModulesDir: "auto", imports: { "left-pad": "npm:left-pad@1.3.0" } }),
    );
    const made = await runCli(["skill", "new", "wordcount", "--dir", `${root}/skills/not/yet`]);
    assertEquals(made.code, 0, made.stderr);
    const manifest = await Deno.readTextFile(`${root}/skills/not/yet/wordcount/SKILL.md`);
    assertMatch(manifest, /^ {2}memory: 256$/m);
    assertMatch(manifest, /^ {2}disk: 1024$/m);
    const res = await runCli([
      "--json",
      "skill",
      "test",
      `${root}/skills/not/yet/wordcount`,
      "--input",
      "text:three little words",
    ]);
    assertEquals(res.code, 0, res.stderr + res.stdout);
    assertEquals(JSON.parse(res.stdout).stdout, "3 words\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("skill test: the built-in skills, bad input, a missing required param, a private message", async () => {
  const echo = await runCli([
    "--json",
    "skill",
    "test",
    `${SKILLS}/echo`,
    "--input",
    "text:hi there",
  ]);
  assertEquals([echo.code, JSON.parse(echo.stdout).stdout], [0, "hi there"], echo.stderr);
  const project = new URL("../../fixtures/projects/passing", import.meta.url).pathname;
  const tgz = await new Deno.Command("tar", {
    args: ["-czf", "-", "-C", project, "."],
    stdout: "piped",
  }).output();
  const b64 = btoa(Array.from(tgz.stdout, (b) => String.fromCharCode(b)).join(""));
  const ci = await runCli([
    "--json",
    "skill",
    "test",
    `${SKILLS}/ci-run`,
    "--input",
    `text:${b64}`,
    "--param",
    "cmd=sh test.sh",
  ]);
  assertEquals(ci.code, 0, ci.stderr);
  assertEquals(JSON.parse(JSON.parse(ci.stdout).stdout).status, "passed");
  const noCmd = await runCli(["--json", "skill", "test", `${SKILLS}/ci-run`, "--input", "text:x"]);
  assertEquals([noCmd.code, JSON.parse(noCmd.stdout).code], [2, "missing-param"]);
  const bad = await runCli(["skill", "test", `${SKILLS}/echo`]);
  assertEquals(bad.code, 1);
  assertMatch(bad.stdout, /^skill echo: bad-input \(exit 2, /m);
  assertStringIncludes(bad.stdout, "bad input: no i tag");
  const dm = await runCli([
    "--json",
    "skill",
    "test",
    `${SKILLS}/encrypted-dm`,
    "--message",
    "wordcount: a b c d",
  ]);
  assertEquals([dm.code, JSON.parse(dm.stdout).stdout], [0, "wordcount: 4"], dm.stderr);
  // The fixtures' gift wraps, opened with the fixture recipient key as the node would open them.
  const key = "01".repeat(32);
  const fixture = (p: string) => new URL(`../../fixtures/events/${p}`, import.meta.url).pathname;
  const wrapped = await runCli([
    "--json",
    "skill",
    "test",
    `${SKILLS}/encrypted-dm`,
    "--event",
    fixture("valid/dm-wordcount.toon"),
    "--recipient-key",
    key,
  ]);
  assertEquals(
    [wrapped.code, JSON.parse(wrapped.stdout).stdout],
    [0, "wordcount: 3"],
    wrapped.stderr,
  );
  for (
    const [file, reason] of [["adversarial/dm-forged.toon", "forged-sender"], [
      "adversarial/dm-other-recipient.toon",
      "not-for-me",
    ]]
  ) {
    const refused = await runCli([
      "--json",
      "skill",
      "test",
      `${SKILLS}/encrypted-dm`,
      "--event",
      fixture(file),
      "--recipient-key",
      key,
    ]);
    assertEquals([refused.code, JSON.parse(refused.stdout).code], [1, reason]);
  }
});

Deno.test("skill test --event: a gift wrap to the profile is opened with the profile's own key (no key on the command line)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skill-dm-profile-" });
  try {
    await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
    await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
    const pubkey = JSON.parse(
      (await runCli(["--state-dir", dir, "--json", "wallet", "show"])).stdout,
    ).pubkey as string;
    // Wrapped by nostr-tools (an independent NIP-17 implementation) for the profile's pubkey.
    const wrap = nip17.wrapEvent(generateSecretKey(), { publicKey: pubkey }, "wordcount: a b c");
    await Deno.writeTextFile(`${dir}/wrap.toon`, encodeEventToon(wrap));
    const args = ["skill", "test", `${SKILLS}/encrypted-dm`, "--event", `${dir}/wrap.toon`];
    const res = await runCli([
      "--state-dir",
      dir,
      "--json",
      ...args,
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ]);
    assertEquals([res.code, JSON.parse(res.stdout).stdout], [0, "wordcount: 3"], res.stderr);
    // Another profile is not the recipient: refused as the node would refuse it.
    const other = `${dir}/other`;
    await Deno.mkdir(other);
    await initWalletWithCli({ stateDir: other, passphraseFile: `${dir}/pw` });
    const refused = await runCli([
      "--state-dir",
      other,
      "--json",
      ...args,
      "--passphrase-file",
      `${dir}/pw`,
      "--non-interactive",
    ]);
    assertEquals([refused.code, JSON.parse(refused.stdout).code], [1, "not-for-me"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a broken SKILL.md dropped into a running provider's skills dir is reported, then served once fixed", async () => {
  const skills = await Deno.makeTempDir({ prefix: "skills-dir-" });
  await Deno.symlink(`${SKILLS}/echo`, `${skills}/echo`);
  const net = await startRequesterNetwork({ providerSkillsDir: skills });
  const stateDir = `${net.root}/provider`;
  try {
    const created = await runCli(["skill", "new", "wordcount", "--dir", skills, "--kind", "5703"]);
    assertEquals(created.code, 0, created.stderr);
    await waitUntil(
      async () => (await readProviderStatus(stateDir)).skills.some((s) => s.name === "wordcount"),
      30_000,
      "served",
    );
    await Deno.writeTextFile(`${skills}/wordcount/SKILL.md`, "---\nname: wordcount\n---\n");
    await waitUntil(
      async () => {
        const s = await readProviderStatus(stateDir);
        return s.skillProblems?.wordcount !== undefined &&
          !s.skills.some((k) => k.name === "wordcount");
      },
      30_000,
      "reported and no longer served",
    );
    const status = await runCli(["--state-dir", stateDir, "node", "status"]);
    assertMatch(status.stdout, /^ {2}not served {2}wordcount: .*description/m);
    await Deno.remove(`${skills}/wordcount`, { recursive: true });
    const again = await runCli(["skill", "new", "wordcount", "--dir", skills, "--kind", "5703"]);
    assertEquals(again.code, 0, again.stderr);
    await waitUntil(
      async () => {
        const s = await readProviderStatus(stateDir);
        return s.skills.some((k) => k.name === "wordcount") &&
          s.skillProblems?.wordcount === undefined;
      },
      30_000,
      "fixed and served",
    );
  } finally {
    await net.stop();
    await Deno.remove(skills, { recursive: true });
  }
});

Deno.test("skill test docker-build: a project dir built and tested on a real engine, as a provider would", async () => {
  await using engine = await startTestDockerEngine();
  const root = await Deno.makeTempDir({ prefix: "skill-test-docker-" });
  try {
    const project = await dockerSampleContext(`${root}/project`);
    const res = await runCli([
      "--json",
      "skill",
      "test",
      `${SKILLS}/docker-build`,
      "--dir",
      project,
      "--param",
      "test=sh /app/test.sh",
    ], { env: { DOCKER_HOST: engine.host } });
    assertEquals(res.code, 0, res.stdout + res.stderr);
    const out = JSON.parse(res.stdout);
    const report = JSON.parse(out.stdout);
    assertEquals([out.sandbox, report.status, report.platform], [
      "docker",
      "tests-passed",
      "linux/amd64",
    ]);
    assertMatch(report.image.digest, /^sha256:[0-9a-f]{64}$/);
    assertEquals(await engine.images(), [], "nothing left on the engine");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("skill test --event: an event as JSON (as nostr-tools prints it) is read as TOON is, a gift wrap opened; a file that is neither fails bad-event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skill-event-json-" });
  try {
    const recipient = generateSecretKey();
    // A gift wrap made and printed by nostr-tools: NIP-01 JSON, the file a Nostr tool writes.
    const wrap = nip17.wrapEvent(
      generateSecretKey(),
      { publicKey: getPublicKey(recipient) },
      "wordcount: one two",
    );
    await Deno.writeTextFile(`${dir}/wrap.json`, JSON.stringify(wrap, null, 2) + "\n");
    const key = Array.from(recipient, (b) => b.toString(16).padStart(2, "0")).join("");
    const skillTest = (skill: string, file: string, ...more: string[]) =>
      runCli(["--json", "skill", "test", `${SKILLS}/${skill}`, "--event", file, ...more]);
    const opened = await skillTest("encrypted-dm", `${dir}/wrap.json`, "--recipient-key", key);
    assertEquals(opened.code, 0, opened.stderr);
    const lines = opened.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals([lines.length, lines[0].type, lines[0].stdout], [1, "skill-test", "wordcount: 2"]);
    // A job request as JSON reaches the skill as the provider hands it over: TOON.
    const request = finalizeEvent({
      kind: 5601,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["i", "from json", "text"]],
      content: "",
    }, generateSecretKey());
    await Deno.writeTextFile(`${dir}/request.json`, JSON.stringify(request));
    const echoed = await skillTest("echo", `${dir}/request.json`);
    assertEquals([echoed.code, JSON.parse(echoed.stdout).stdout], [0, "from json"], echoed.stderr);
    // Neither JSON nor TOON, or JSON that is no event: refused before the skill runs.
    await Deno.writeTextFile(`${dir}/neither.txt`, "- not\n  an: [event\n");
    await Deno.writeTextFile(`${dir}/other.json`, '{"hello":"world"}');
    for (const file of ["neither.txt", "other.json"]) {
      const refused = await skillTest("echo", `${dir}/${file}`);
      const error = JSON.parse(refused.stdout);
      assertEquals([refused.code, error.type, error.code], [1, "error", "bad-event"], file);
      assertStringIncludes(error.message, "is not an event");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
