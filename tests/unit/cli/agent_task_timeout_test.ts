import { agentTaskParts, startAgentTaskParts } from "../../../cli/agent_task_command.ts";
import { AGENT_DELIVERY_MARGIN_MS } from "../../../roles/agent_work/requester/agent_task_out.ts";
import {
  buildHandlerAnnouncement,
  type HandlerMetadata,
  parseHandlerAnnouncement,
} from "../../../protocol/nip89_handler.ts";
import type { ProviderListing } from "../../../roles/requester/provider_directory.ts";
import { assert, assertEquals } from "../../../harness/assert.ts";

const PROVIDER = "ab".repeat(32);

async function git(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", { args, cwd: dir, stdout: "null", stderr: "null" })
    .output();
  if (!out.success) throw new Error(`git ${args.join(" ")} failed`);
}

function listing(agents: { name: string; price: string; budget: string; timeout?: number }[]) {
  return [{
    pubkey: PROVIDER,
    name: "beta",
    online: true,
    skills: [{ name: "agent-task", kinds: [5603], price: "1", agents }],
  }] satisfies ProviderListing[];
}

Deno.test("a preset's announced timeout is read with it; one out of range leaves the list out", () => {
  const announce = (agents: unknown) =>
    parseHandlerAnnouncement(buildHandlerAnnouncement({
      d: "beta",
      kinds: [5603],
      metadata: {
        name: "beta",
        skills: [{ name: "agent-task", kinds: [5603], price: "1", agents }],
      } as HandlerMetadata,
    })).metadata.skills![0].agents;
  const presets = [{ name: "claude", price: "1", budget: "1", timeout: 1800 }];
  assertEquals(announce(presets), presets);
  assertEquals(announce([{ ...presets[0], timeout: 0 }]), undefined);
  assertEquals(announce([{ ...presets[0], timeout: "1800" }]), undefined);
});

Deno.test("an agent task times out after its preset's announced timeout plus the delivery's margin, else the default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await git(dir, "init", "-q", "-b", "main");
    await Deno.writeTextFile(`${dir}/a.txt`, "a\n");
    await git(dir, "add", "a.txt");
    await git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a");
    const flags = { repo: dir, title: "t", accept: "true", agent: "claude" };
    const preset = { name: "claude", price: "1", budget: "1" };
    const parts = await agentTaskParts(flags, listing([{ ...preset, timeout: 1800 }]));
    await Deno.remove(parts.sealedPath);
    assertEquals(parts.timeoutMs, 1_800_000 + AGENT_DELIVERY_MARGIN_MS);
    // A provider that announces no timeout (an older one): the generic default stays.
    const older = await agentTaskParts(flags, listing([preset]));
    await Deno.remove(older.sealedPath);
    assertEquals(older.timeoutMs, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a task to a named provider is bundled before the directory is read, and takes its timeout from it once read; discarded, its sealed bundle goes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await git(dir, "init", "-q", "-b", "main");
    await Deno.writeTextFile(`${dir}/a.txt`, "a\n");
    await git(dir, "add", "a.txt");
    await git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a");
    const flags = { repo: dir, title: "t", accept: "true", agent: "claude", provider: [PROVIDER] };
    const preset = { name: "claude", price: "1", budget: "1", timeout: 1800 };
    // The directory is read only once the bundle is there: the parts wait for it, not it for them.
    let read!: (listings: ProviderListing[]) => void;
    const directory = new Promise<ProviderListing[]>((resolve) => read = resolve);
    const state = await Deno.makeTempDir(); // the profile's: its cache keeps the sealed bundle
    const started = startAgentTaskParts(flags, directory, state);
    let sealed: string | undefined;
    // Polled until it is there (bounded only so that code waiting for the directory fails).
    for (let i = 0; i < 3000 && sealed === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const entries = await Array.fromAsync(Deno.readDir(`${state}/repository-bundles`))
        .catch(() => []);
      sealed = entries.find((e) => e.name.endsWith(".sealed"))?.name;
    }
    assert(sealed !== undefined, "the bundle is sealed while the directory is still unread");
    read(listing([preset]));
    const parts = await started.parts;
    assertEquals(parts.timeoutMs, 1_800_000 + AGENT_DELIVERY_MARGIN_MS);
    await started.discard();
    assertEquals(await Deno.stat(parts.sealedPath).then(() => true, () => false), false);
    // A directory that could not be read: no timeout of its own (the command reports the error).
    const unread = startAgentTaskParts(flags, Promise.reject(new Error("unreachable")));
    assertEquals((await unread.parts).timeoutMs, undefined);
    await unread.discard();
    await Deno.remove(state, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
