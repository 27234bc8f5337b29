/**
 * The git audit log, with real git: structured messages, group commits, stale lock recovery,
 * and a SIGKILLed writer whose returned writes are all present and committed after restart.
 */
import { STATE_DIR_IGNORE } from "../../../../state/audit/state_dir_ignore.ts";
import { assert, assertEquals, assertMatch } from "../../../../harness/assert.ts";
import { makeJobRecord } from "../../../../harness/job_record_factory.ts";
import {
  formatAuditMessage,
  openAuditLog,
  parseAuditMessage,
} from "../../../../state/audit/audit_log.ts";
import { openJobRepository } from "../../../../state/jobs/job_repository.ts";
import { formatJobRecord } from "../../../../state/jobs/job_record.ts";
import { killAfterLines } from "../../../support/kill_after_lines.ts";

async function git(dir: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args], stderr: "piped" })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

async function messages(dir: string): Promise<string[]> {
  const log = await git(dir, "log", "--format=%B%x00");
  return log.split("\0").map((m) => m.trim()).filter((m) => m !== "");
}

Deno.test("audit log: structured message for a single change", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit });
    const job = await repo.create(makeJobRecord(1), { fields: { Skill: "summarize" } });
    await audit.flush();
    const [last] = await messages(dir);
    assertEquals(
      last,
      `turnpike: create job ${job.id}\n\nStatus: pending-send\nKind: 5100\nSkill: summarize`,
    );
    assertEquals(parseAuditMessage(last), [{
      action: "create",
      resource: "job",
      id: job.id,
      fields: { Status: "pending-send", Kind: "5100", Skill: "summarize" },
    }]);
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: changes within the window share one commit, later ones get the next", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audit = await openAuditLog({ dir, windowMs: 1000 });
    const repo = await openJobRepository({ stateDir: dir, audit, durable: false });
    const before = audit.commits;
    await Promise.all(Array.from({ length: 40 }, (_, i) => repo.create(makeJobRecord(i + 1))));
    // Wait for the window to commit on its own (no flush): the group lands in one commit.
    while (audit.commits === before) await new Promise((r) => setTimeout(r, 20));
    assertEquals(audit.commits - before, 1);
    const [group] = await messages(dir);
    assertMatch(group, /^turnpike: commit group 40\n/);
    assertEquals(parseAuditMessage(group).length, 40);
    await repo.update(makeJobRecord(1).id, (j) => ({ ...j, status: "sent" }));
    await audit.flush();
    assertEquals(audit.commits - before, 2);
    assertMatch((await messages(dir))[0], /^turnpike: update job 0+1\n\nStatus: sent/);
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a stale index.lock from a crash is cleared and leftovers committed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let audit = await openAuditLog({ dir });
    await audit.close();
    await Deno.mkdir(`${dir}/notes`);
    await Deno.writeTextFile(`${dir}/notes/x.toml`, "written before the crash\n");
    await Deno.writeTextFile(`${dir}/.git/index.lock`, "");
    audit = await openAuditLog({ dir });
    assertEquals((await messages(dir))[0], "turnpike: recover state startup");
    assertEquals(await git(dir, "status", "--porcelain"), "");
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: formatAuditMessage refuses nothing it cannot parse back", () => {
  const msg = formatAuditMessage([
    { action: "pay", resource: "payment", id: "j1", paths: [], fields: { Amount: "10 USD" } },
    { action: "create", resource: "job", id: "j2", paths: [] },
  ]);
  assertEquals(parseAuditMessage(msg).map((e) => e.id), ["j1", "j2"]);
});

Deno.test("audit log: payment channel changes read as a sentence and parse back", () => {
  const id = `0x${"ab".repeat(32)}`;
  const open = formatAuditMessage([
    { action: "open", resource: "channel", id, paths: [], fields: { Deposit: "50" } },
  ]);
  assertEquals(open, `turnpike: payment channel ${id} opened\n\nDeposit: 50\n`);
  const group = formatAuditMessage([
    { action: "update", resource: "channel", id, paths: [] },
    { action: "settle", resource: "channel", id, paths: [] },
    { action: "lock", resource: "channel", id, paths: [] },
  ]);
  assertMatch(group, /^turnpike: payment channel 0x(ab){32} updated$/m);
  assertMatch(group, /^turnpike: lock channel 0x(ab){32}$/m);
  assertEquals(
    [...parseAuditMessage(open), ...parseAuditMessage(group)].map((e) => [e.action, e.resource]),
    [["open", "channel"], ["update", "channel"], ["settle", "channel"], ["lock", "channel"]],
  );
});

Deno.test("audit log: after SIGKILL every returned write is present and committed on restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer =
      new URL("../../../support/job_repository_crash_writer.ts", import.meta.url).pathname;
    const written: string[] = [];
    for (const round of [0, 1]) {
      const lines = await killAfterLines({
        script: writer,
        args: [dir, String(round * 1_000_000)],
        lines: 59 + round * 37,
      });
      written.push(...lines.filter((l) => /^[0-9a-f]{64}$/.test(l)));
    }
    const audit = await openAuditLog({ dir });
    const repo = await openJobRepository({ stateDir: dir, audit });
    for (const id of written) assert((await repo.read(id)) !== undefined, `lost ${id}`);
    await audit.flush();
    assertEquals(await git(dir, "status", "--porcelain"), "");
    const tracked = new Set((await git(dir, "ls-files", "jobs")).split("\n"));
    for (const id of written) assert(tracked.has(`jobs/${id}.toml`), `not committed ${id}`);
    assert(written.length >= 96, `only ${written.length} writes seen`);
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a row-held file committed in process by a process SIGKILLed after it stays in HEAD when the next process opens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/wallet.toml`, "w\n");
    const script = new URL("../../../support/audit_committed_then_killed.ts", import.meta.url)
      .pathname;
    const lines = await killAfterLines({ script, args: [dir], lines: 1 });
    assertEquals(lines, ["committed"]);
    const path = `jobs/${"ab".repeat(32)}.toml`;
    assertEquals(await git(dir, "show", `HEAD:${path}`), "id = 1\n");
    // The next open commits what a kill left, and nothing of HEAD's row-held files with it.
    const audit = await openAuditLog({ dir });
    assertEquals(await git(dir, "show", `HEAD:${path}`), "id = 1\n");
    await audit.close();
    assert((await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).includes(path));
    assert((await git(dir, "ls-files")).includes(path), "the index is HEAD's again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: job records killed before any audit commit are rows only, and all in history after the next open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer =
      new URL("../../../support/job_repository_crash_writer.ts", import.meta.url).pathname;
    // A window no kill here outlives: not one of these writes reached a commit.
    const lines = await killAfterLines({ script: writer, args: [dir, "0", "600000"], lines: 40 });
    const written = lines.filter((l) => /^[0-9a-f]{64}$/.test(l));
    assert(written.length >= 40, `only ${written.length} writes seen`);
    const files = [];
    for await (const e of Deno.readDir(`${dir}/jobs`)) if (e.name.endsWith(".toml")) files.push(e);
    assertEquals(files, [], "a record is a row, never a file");
    const audit = await openAuditLog({ dir });
    const repo = await openJobRepository({ stateDir: dir, audit });
    await audit.flush();
    for (const id of written) {
      const record = await repo.read(id);
      assert(record !== undefined, `lost ${id}`);
      assertEquals(await git(dir, "show", `HEAD:jobs/${id}.toml`), formatJobRecord(record));
    }
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a change that leaves the files as committed still records its message", async () => {
  {
    const dir = await Deno.makeTempDir();
    try {
      const audit = await openAuditLog({ dir, windowMs: 10_000 });
      await Deno.writeTextFile(`${dir}/a.txt`, "one\n");
      audit.record({ action: "create", resource: "note", id: "a", paths: ["a.txt"] });
      await audit.flush();
      const commits = audit.commits;
      // Rewritten with the same bytes (or already committed with an earlier group, when the
      // file changed again before that group's `git add`): the change's message still lands.
      await Deno.writeTextFile(`${dir}/a.txt`, "one\n");
      audit.record({ action: "update", resource: "note", id: "a", paths: ["a.txt"] });
      await audit.flush();
      assertEquals(audit.commits, commits + 1);
      assertEquals(audit.pendingCount, 0);
      const [last] = await messages(dir);
      assertEquals(last, "turnpike: update note a");
      assertEquals(await git(dir, "status", "--porcelain"), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("audit log: every open completes .gitignore and untracks what an older one let in", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A state dir first opened by an older turnpike, whose .gitignore lacked the lock files.
    await git(dir, "init", "-q", "-b", "main");
    await Deno.writeTextFile(`${dir}/.gitignore`, "index.sqlite\n");
    await Deno.mkdir(`${dir}/channels`);
    await Deno.writeTextFile(`${dir}/channels/0xab.lock`, "123\n");
    await Deno.writeTextFile(`${dir}/channels/0xab.toml`, 'status = "open"\n');
    await git(dir, "add", "-A", ".");
    await git(
      dir,
      "-c",
      "user.name=t",
      "-c",
      "user.email=t@t",
      "commit",
      "-q",
      "-m",
      "old",
    );
    let audit = await openAuditLog({ dir });
    await audit.close();
    const ignore = (await Deno.readTextFile(`${dir}/.gitignore`)).split("\n");
    for (const line of STATE_DIR_IGNORE) assert(ignore.includes(line), `${line} in .gitignore`);
    assertEquals(ignore.filter((l) => l === "index.sqlite").length, 1, "no line twice");
    const tracked = await git(dir, "ls-files");
    assert(!tracked.includes("0xab.lock"), tracked);
    assert(tracked.includes("channels/0xab.toml"), "the channel file stays tracked");
    assert(await Deno.stat(`${dir}/channels/0xab.lock`), "the lock file stays on disk");
    // A lock rewritten by the next process is no longer a change to commit.
    const commits = (await messages(dir)).length;
    await Deno.writeTextFile(`${dir}/channels/0xab.lock`, "456\n");
    audit = await openAuditLog({ dir });
    await audit.close();
    assertEquals((await messages(dir)).length, commits);
    assertEquals(await git(dir, "status", "--porcelain"), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A `git` that appends its subcommand to `log` and runs the real one. */
async function countingGit(dir: string): Promise<{ git: string; calls: () => Promise<string[]> }> {
  const log = `${dir}/calls.log`;
  const git = `${dir}/git`;
  await Deno.writeTextFile(
    git,
    `#!/bin/sh\nfor a in "$@"; do case "$a" in -*|*=*|/*) ;; *) echo "$a" >> ${log}; break;; esac; done\nexec git "$@"\n`,
  );
  await Deno.chmod(git, 0o755);
  const calls = async () =>
    (await Deno.readTextFile(log).catch(() => "")).split("\n").filter((l) => l !== "");
  return { git, calls };
}

Deno.test("audit log: a group's commit spawns no git, and its tree is the one git would write", async () => {
  const tools = await Deno.makeTempDir();
  const dir = await Deno.makeTempDir();
  try {
    const { git: counting, calls } = await countingGit(tools);
    const audit = await openAuditLog({ dir, windowMs: 10_000, git: counting });
    const atOpen = (await calls()).length;
    await Deno.mkdir(`${dir}/notes/deep/er`, { recursive: true });
    const write = (path: string, text: string) => Deno.writeTextFile(`${dir}/${path}`, text);
    await write("notes/a.toml", "a\n");
    await write("notes/deep/er/b.toml", "b\n");
    await write("top.json", "{}\n");
    await write("notes/.tmp-x", "ignored: a temp file\n");
    audit.record({
      action: "create",
      resource: "job",
      id: "a",
      paths: ["notes/a.toml", "notes/deep/er/b.toml", "top.json", "notes/.tmp-x"],
    });
    await audit.flush();
    await write("notes/a.toml", "a, changed\n");
    await Deno.remove(`${dir}/notes/deep/er/b.toml`);
    await write("notes/c.toml", "c\n");
    audit.record({ action: "update", resource: "job", id: "a", paths: ["notes/a.toml"] });
    audit.record({ action: "prune", resource: "job", id: "b", paths: ["notes/deep/er/b.toml"] });
    audit.record({ action: "create", resource: "job", id: "c", paths: ["notes/c.toml"] });
    await audit.flush();
    assertEquals(audit.commits, 3); // the start-up commit and the two groups
    // No add or commit: only the `read-tree` that puts the index back after each flush.
    assertEquals((await calls()).slice(atOpen), ["read-tree", "read-tree"]);
    assertEquals(await git(dir, "status", "--porcelain"), "");
    await git(dir, "fsck", "--strict", "--no-dangling");
    // The tree git itself writes from the work tree is the one committed.
    const index = `${tools}/index`;
    const env = { GIT_INDEX_FILE: index };
    for (const args of [["add", "-A", "."], ["write-tree"]]) {
      const out = await new Deno.Command("git", { args: ["-C", dir, ...args], env }).output();
      assert(out.success);
      if (args[0] === "write-tree") {
        assertEquals(
          new TextDecoder().decode(out.stdout).trim(),
          (await git(dir, "rev-parse", "HEAD^{tree}")).trim(),
        );
      }
    }
    assertEquals((await messages(dir)).slice(0, 2), [
      "turnpike: commit group 3\n\nturnpike: update job a\n\nturnpike: prune job b\n\nturnpike: create job c",
      "turnpike: create job a",
    ]);
    assertEquals(
      (await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).trim().split("\n"),
      [".gitignore", "notes/a.toml", "notes/c.toml", "top.json"],
    );
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(tools, { recursive: true });
  }
});

Deno.test("audit log: two logs on one state dir interleave commits and lose none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const one = await openAuditLog({ dir, windowMs: 10_000 });
    // A second process on the same dir (a CLI command beside the node): its own log.
    const two = await openAuditLog({ dir, windowMs: 10_000 });
    for (let i = 0; i < 6; i++) {
      const log = i % 2 === 0 ? one : two;
      await Deno.writeTextFile(`${dir}/f${i}.txt`, `${i}\n`);
      log.record({ action: "create", resource: "note", id: `n${i}`, paths: [`f${i}.txt`] });
      await log.flush();
    }
    const subjects = (await messages(dir)).filter((m) => m.startsWith("turnpike: create note"));
    assertEquals(subjects.length, 6);
    assertEquals(
      (await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).trim().split("\n"),
      [".gitignore", "f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt"],
    );
    assertEquals(await git(dir, "status", "--porcelain"), "");
    await git(dir, "fsck", "--strict", "--no-dangling");
    await one.close();
    await two.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a job record committed by git after another process moved the branch comes from its bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const one = await openAuditLog({ dir, windowMs: 10_000 });
    const repo = await openJobRepository({ stateDir: dir, audit: one });
    const job = await repo.create(makeJobRecord(1));
    await one.flush();
    // A CLI command beside the node commits: the node's next group is committed by `git`.
    const two = await openAuditLog({ dir, windowMs: 10_000 });
    await Deno.writeTextFile(`${dir}/note.txt`, "beside\n");
    two.record({ action: "create", resource: "note", id: "n", paths: ["note.txt"] });
    await two.flush();
    const sent = await repo.update(job.id, (j) => ({ ...j, status: "sent" }));
    const other = await repo.create(makeJobRecord(2));
    await repo.remove(job.id);
    await one.flush();
    assertMatch((await messages(dir))[0], /^turnpike: commit group 3\n/);
    const tree = (await git(dir, "ls-tree", "-r", "--name-only", "HEAD")).trim().split("\n");
    assertEquals(tree, [".gitignore", `jobs/${other.id}.toml`, "note.txt"]);
    assertEquals(await git(dir, "show", `HEAD:jobs/${other.id}.toml`), formatJobRecord(other));
    assertEquals(await git(dir, "show", `HEAD~1:jobs/${job.id}.toml`), formatJobRecord(job));
    assert(sent.status === "sent");
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await one.close();
    await two.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: its commits write packs, rolled up at maxPacks packs, history intact", async () => {
  const dir = await Deno.makeTempDir();
  const count = async (what: "loose" | "packs") => {
    let n = 0;
    if (what === "packs") {
      for await (const e of Deno.readDir(`${dir}/.git/objects/pack`)) {
        if (e.name.endsWith(".pack")) n++;
      }
      return n;
    }
    for await (const d of Deno.readDir(`${dir}/.git/objects`)) {
      if (!/^[0-9a-f]{2}$/.test(d.name)) continue;
      for await (const _ of Deno.readDir(`${dir}/.git/objects/${d.name}`)) n++;
    }
    return n;
  };
  try {
    const audit = await openAuditLog({ dir, windowMs: 0, maxPacks: 40 });
    const repo = await openJobRepository({ stateDir: dir, audit, durable: false });
    const id = (await repo.create(makeJobRecord(1))).id;
    await audit.flush();
    const loose0 = await count("loose");
    let most = 0;
    for (let i = 0; i < 130; i++) {
      await repo.update(id, (j) => ({ ...j, status: i % 2 === 0 ? "sent" : "paying" }));
      await audit.flush();
      most = Math.max(most, await count("packs"));
    }
    // A pack a commit, no loose object: 130 commits would leave 130 packs; rolled up at 40, at
    // most 40 are there at any time.
    // (The first commit's, by `git`, may be rolled up too.)
    assert(await count("loose") <= loose0, "the in-process commits write nothing loose");
    assert(most <= 40, `packs at most ${most}`);
    assert(most >= 10, `the commits wrote packs (${most} at most)`);
    // The history is whole (every commit reachable and valid), the in-process writer still
    // commits after a roll-up (its ref left loose), and the work tree is clean.
    await git(dir, "fsck", "--no-progress", "--strict");
    const commits = Number((await git(dir, "rev-list", "--count", "HEAD")).trim());
    assert(commits >= 131 && commits <= audit.commits + 1, `${commits} commits for 131 changes`);
    assertEquals(await git(dir, "status", "--porcelain"), "");
    repo.close();
    await audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: a profile used through many short commands has its packs rolled up too", async () => {
  const dir = await Deno.makeTempDir();
  const packs = async () => {
    let n = 0;
    for await (const e of Deno.readDir(`${dir}/.git/objects/pack`)) {
      if (e.name.endsWith(".pack")) n++;
    }
    return n;
  };
  try {
    let most = 0;
    // 30 commands, each opening the log, making two commits and closing: the packs are counted
    // in the directory, not by one process's commits (which never reach the limit here).
    for (let c = 0; c < 30; c++) {
      const audit = await openAuditLog({ dir, windowMs: 0, maxPacks: 12 });
      for (let i = 0; i < 2; i++) {
        const bytes = new TextEncoder().encode(`command ${c}, change ${i}\n`);
        await Deno.writeFile(`${dir}/note.txt`, bytes);
        audit.record({
          action: "update",
          resource: "note",
          id: "n",
          paths: ["note.txt"],
          contents: { "note.txt": bytes },
        });
        await audit.flush();
        most = Math.max(most, await packs());
      }
      await audit.close();
    }
    assert(most <= 12, `packs at most ${most}`);
    assert(most >= 6, `the commits wrote packs (${most} at most)`);
    await git(dir, "fsck", "--no-progress", "--strict");
    assertEquals(Number((await git(dir, "rev-list", "--count", "HEAD")).trim()) >= 60, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
