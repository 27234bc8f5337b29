/**
 * An agent-task's worktree as an overlay of the provider's checkout, end to end (docs/SKILLS.md
 * "agent-task"): a town, the provider node with a scripted preset, the real sandbox and git, a
 * requester profile driven through its CLI. The job's `work/` is an overlay mount (no tar of the
 * base unpacked); what the agent writes in place and deletes changes its worktree only: the
 * provider's cached checkout, the overlay's lower layer, keeps the base, and the next task on the
 * same base, from that cache, starts from the base again. No tar of the worktree is made for a
 * job on the overlay, and the overlay is volatile (its writes never synced). In both sandbox modes.
 */
import { assertEquals } from "../../harness/assert.ts";
import { startAgentTaskNetwork } from "../../harness/agent_task_network.ts";
import { agentTaskArgs, scriptedPreset } from "../../harness/agent_task_kit.ts";
import { CHECKOUT_CACHE_DIR } from "../../roles/agent_work/provider/checkout_cache.ts";
import type { SandboxMode } from "../../roles/provider/sandbox/sandbox_probe.ts";
import { OVERLAY_VOLATILE } from "../../roles/provider/sandbox/sandbox_mounts.ts";

// What the agent found, committed: the worktree's file system type and whether it is volatile, the
// base's README as it found it and how many of the overlay's layers it sees (none); then it overwrites the README in place (no rename), deletes src.txt and commits.
const agent = [
  `awk '$2 == "/tmp/job/work" { print $3 }' /proc/self/mounts > found.txt`,
  `awk '$2 == "/tmp/job/work" { print ($4 ~ /(^|,)(fsync=)?volatile(,|$)/) ? "volatile" : "synced" }' /proc/self/mounts >> found.txt`,
  "cat README.md >> found.txt",
  "ls -A /tmp/job/.overlay 2>/dev/null | wc -l >> found.txt",
  "echo overwritten > README.md && rm src.txt",
  "git add -A && git commit -q -m 'the agent'",
].join("\n");

for (const mode of ["root", "rootless"] as SandboxMode[]) {
  Deno.test(`agent-task (${mode}): the job works on the provider's cached checkout through an overlay, and what it overwrites and deletes never reaches the cache`, async () => {
    await using kit = await startAgentTaskNetwork({
      scripts: { "overlay.sh": agent },
      network: (skills) => ({
        providerOptions: {
          agents: { overlay: scriptedPreset(skills, "overlay") },
          sandboxMode: mode,
        },
      }),
    });
    const { net, alice, repo } = kit;
    await repo.commit("base", { "README.md": "the base\n", "src.txt": "x\n" });
    /** One task on the base, applied; what its agent found. */
    const task = async (n: number) => {
      const done = await alice(
        ...agentTaskArgs({
          repo: repo.dir,
          depth: 1,
          title: `overlay ${n}`,
          accept: "test ! -e src.txt",
          agent: "overlay",
          provider: net.providerPubkey!,
        }),
      );
      assertEquals(done.code, 0, done.stderr + done.stdout);
      const result = done.lines.find((l) => l.type === "result")!;
      assertEquals(result.status, "done", JSON.stringify(result));
      const id = String(result.job);
      const applied = await alice("job", "results", id, "--apply", "--branch", `t/${n}`);
      assertEquals(applied.code, 0, applied.stderr);
      return await repo.git("show", `t/${n}:found.txt`);
    };
    // The first task checks the base out (and keeps it), the second takes it from the cache.
    // Volatile where the kernel has it: the job's writes are never synced (sandbox_mounts.ts).
    const volatile = OVERLAY_VOLATILE ? "volatile" : "synced";
    for (const n of [1, 2]) assertEquals(await task(n), `overlay\n${volatile}\nthe base\n0`);
    const cache = `${net.root}/provider/${CHECKOUT_CACHE_DIR}`;
    const entries = [...Deno.readDirSync(cache)].filter((e) => !e.name.startsWith("."));
    assertEquals(entries.length, 1);
    const pristine = `${cache}/${entries[0].name}/pristine`;
    assertEquals(await Deno.readTextFile(`${pristine}/README.md`), "the base\n");
    assertEquals(await Deno.readTextFile(`${pristine}/src.txt`), "x\n");
    // No tar of the worktree was made for a job on the overlay: none kept with the checkout.
    const kept = [...Deno.readDirSync(`${cache}/${entries[0].name}`)].map((e) => e.name);
    assertEquals(kept.includes("worktree.tar"), false, kept.join(" "));
  });
}
