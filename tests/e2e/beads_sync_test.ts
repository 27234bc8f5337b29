/**
 * Beads shared through a town end to end (docs/AGENTS.md "Beads across machines", docs/PROTOCOL.md
 * "Beads as events"): three profiles, each its own CLI and node processes and its own
 * harness/stand_in_bd (a STAND-IN for beads' `bd`, named so: the real one does not install
 * here), on one town process. Each files beads, all three change them, conflicts included; after
 * `turnpike beads sync` on each they show the same beads (fields, status, labels, dependencies,
 * comments), a pass with nothing new pays nothing, and a sync SIGKILLed mid-run then run again
 * converges with no event paid twice (the town's own payment log).
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { paymentLog } from "../support/town_network_kit.ts";
import { type BeadsMember, beadsMember } from "../../harness/beads_sync_kit.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { generateSecretKey } from "nostr-tools/pure";

const RIG = "myrig";
/** Beads each member files: 102 in all. */
const BEADS = 34;

Deno.test("beads sync: three profiles on one town converge on the same beads after all three changed them, conflicts included; a pass with nothing new pays nothing; a sync SIGKILLed mid-run and run again converges with nothing paid twice", async () => {
  const root = await Deno.makeTempDir({ prefix: "beads-sync-" });
  const townDir = `${root}/town`;
  await using town = await startSharedTownProcess({
    secretKey: generateSecretKey(),
    stateDir: townDir,
  });
  const names = ["alice", "bob", "carol"];
  const members: BeadsMember[] = [];
  for (const name of names) members.push(await beadsMember(root, name, town));
  const [alice, bob, carol] = members;
  const sync = async (m: BeadsMember) => {
    const others = members.filter((o) => o !== m).flatMap((o) => ["--member", o.npub]);
    const out = await m.sync(RIG, ...others);
    assertEquals(out.code, 0, out.stderr);
    assertEquals(out.lines.filter((l) => l.type === "bead-skipped"), []);
    return out.lines.find((l) => l.type === "beads-synced")!;
  };
  const round = async () => {
    for (const m of [alice, bob, carol, alice, bob]) await sync(m);
  };
  const converged = async () => {
    const [a, b, c] = await Promise.all(members.map((m) => m.beads()));
    assertEquals(b, a);
    assertEquals(c, a);
    return a;
  };

  // 1. Each files its beads: a chain of dependencies, its label, a comment on every tenth.
  const ids: Record<string, string[]> = {};
  for (const m of members) {
    ids[m.name] = [];
    for (let i = 0; i < BEADS; i++) {
      const made = JSON.parse(
        await m.bd(
          "create",
          `${m.name} bead ${i}`,
          `--description=${m.name}'s bead ${i}: ${"x".repeat(i * 3)}`,
          `--priority=${i % 5}`,
          `--labels=${m.name}`,
          "--json",
        ),
      );
      ids[m.name].push(made.id);
      if (i > 0) await m.bd("dep", "add", made.id, ids[m.name][i - 1], "--type=blocks");
      if (i % 10 === 0) await m.bd("comments", "add", made.id, `first look by ${m.name}`);
    }
  }
  await round();
  let beads = await converged();
  assertEquals(beads.length, BEADS * 3);
  const aBead = beads.find((b) => b.id === ids.alice[1])!;
  assertEquals(aBead.deps, [`blocks:${ids.alice[0]}`]);

  // 2. All three change them, some the same bead at once.
  const [x, y, z, w] = [ids.alice[0], ids.bob[1], ids.carol[2], ids.alice[3]];
  for (const m of members) await m.bd("update", x, `--title=title by ${m.name}`);
  await alice.bd("close", y, "--reason", "done");
  await carol.bd("update", y, "--priority=0");
  await bob.bd("label", "add", y, "urgent");
  await bob.bd("label", "remove", y, "bob");
  await alice.bd("comments", "add", z, "from alice");
  await bob.bd("comments", "add", z, "from bob");
  await carol.bd("dep", "add", z, ids.alice[5], "--type=related");
  await carol.bd("dep", "remove", z, ids.carol[1]);
  await bob.bd("update", w, "--status=in_progress");
  await carol.bd("update", w, "--status=blocked");
  for (const m of members) {
    for (const id of ids[m.name].slice(10, 20)) {
      await m.bd("update", id, `--description=rewritten by ${m.name}`);
    }
  }
  await round();
  beads = await converged();
  const byId = new Map(beads.map((b) => [b.id, b]));
  // Concurrent edits at one version: the greater key wins, on every machine.
  const top = (ms: BeadsMember[]) => ms.reduce((p, q) => q.pubkey > p.pubkey ? q : p).name;
  assertEquals(byId.get(x)!.title, `title by ${top(members)}`);
  assertEquals(byId.get(w)!.status, top([bob, carol]) === "bob" ? "in_progress" : "blocked");
  // Edits of different fields, labels, dependencies and comments all kept.
  assertEquals(
    [byId.get(y)!.status, byId.get(y)!.priority, byId.get(y)!.labels],
    ["closed", 0, ["urgent"]],
  );
  assertEquals(byId.get(z)!.deps, [`related:${ids.alice[5]}`]);
  assertEquals(byId.get(z)!.comments, ["alice: from alice", "bob: from bob"]);
  assertEquals(byId.get(ids.bob[15])!.description, "rewritten by bob");

  // 3. Nothing new: nothing published, nothing written into bd, nothing paid.
  const paidBefore = (await paymentLog(townDir)).length;
  for (const m of members) {
    const idle = await sync(m);
    assertEquals([idle.published, idle.bdCommands, idle.cost], [0, 0, "0"]);
  }
  assertEquals((await paymentLog(townDir)).length, paidBefore);

  // 4. A sync killed mid-run, as it writes carol's changes into alice's bd, then run again.
  for (const id of ids.carol.slice(10, 30)) {
    await carol.bd("update", id, "--description=carol again");
    await carol.bd("comments", "add", id, "carol was here");
  }
  for (const id of ids.alice.slice(20, 30)) await alice.bd("update", id, "--notes=alice notes");
  await sync(carol);
  const others = [bob, carol].flatMap((o) => ["--member", o.npub]);
  const killed = spawnCli(alice.syncArgs(RIG, ...others), { env: alice.env });
  await killed.waitForLine((l) => l.includes('"bead-written"') && l.includes(ids.carol[15]));
  killed.child.kill("SIGKILL");
  await killed.done;
  await round();
  beads = await converged();
  assertEquals(beads.find((b) => b.id === ids.carol[21])!.comments, ["carol: carol was here"]);
  assertEquals(
    [
      beads.find((b) => b.id === ids.alice[25])!.notes,
      beads.find((b) => b.id === ids.alice[30])!.notes,
    ],
    ["alice notes", ""],
  );
  // Every event the town was paid for, paid once.
  const paid = (await paymentLog(townDir)).filter((e) => e.category === "town-write");
  const counts = new Map<string, number>();
  for (const p of paid) counts.set(p.jobId, (counts.get(p.jobId) ?? 0) + 1);
  assertEquals([...counts.values()].filter((n) => n > 1), []);
  assert(paid.length > BEADS * 3);
  await Deno.remove(root, { recursive: true }).catch(() => {});
});
