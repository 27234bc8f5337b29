/**
 * Crash safety of the provider: `turnpike node up` runs as a real subprocess
 * (wallet identity) against a real town; it is SIGKILLed while two jobs run, then restarted on
 * the same state dir:
 *
 * - a job finished before the kill is not re-run (one result, attempts stays 1);
 * - a job that died mid-run in a non-idempotent skill is reported `error`; its sandbox died
 *   with the killed provider, before the restart;
 * - a job that died mid-run in an idempotent skill is re-run and its result published;
 * - a result computed but not published before the crash is published at restart. That window
 *   (between two writes in one function) cannot be hit reliably by a kill, so the test leaves
 *   the record exactly as such a crash would: `result-computed` with the result in it.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { buildJobRequest, parseJobFeedback } from "../../protocol/nip90_job.ts";
import type { NostrEvent } from "../../protocol/nostr_event.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { hasProcessWith } from "../support/process_scan.ts";
import {
  connectTestRequester,
  feedbackOf,
  makeSkillsDir,
  PROVIDER_TOKEN,
  resultOf,
  startProviderTestTown,
  waitUntil,
} from "../../harness/provider_test_kit.ts";
import type { TownNode } from "../../roles/town/town_node.ts";
import { openProviderJobStore } from "../../state/jobs/provider_job_store.ts";
import { readProviderStatus } from "../../roles/provider/provider_status.ts";
import { encodeEventToon } from "../../protocol/toon_codec.ts";

interface NodeProcess {
  child: Deno.ChildProcess;
  info: { pubkey: string; ilpAddress: string };
  stderr: string[];
  done: Promise<Deno.CommandStatus>;
}

async function startNode(town: TownNode, root: string): Promise<NodeProcess> {
  const node = spawnCli([
    "--state-dir",
    `${root}/state`,
    "--output",
    "json",
    "node",
    "up",
    "--connector-btp-url",
    `btp+ws://127.0.0.1:${town.btpPort}`,
    "--btp-token",
    PROVIDER_TOKEN,
    "--relay-url",
    `ws://127.0.0.1:${town.httpPort}`,
    "--town-pubkey",
    town.pubkey,
    "--skills-dir",
    `${root}/skills`,
    "--passphrase-file",
    `${root}/pass`,
    "--non-interactive",
  ]);
  const line = await node.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"'));
  return { child: node.child, info: JSON.parse(line), stderr: node.stderr, done: node.done };
}

/** Kills (by pid) sandboxed skill processes a killed provider left behind under `root`. */
async function killOrphans(root: string): Promise<number> {
  let killed = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(root) && Number(entry.name) !== Deno.pid) {
      try {
        Deno.kill(Number(entry.name), "SIGKILL");
        killed++;
      } catch { /* already gone */ }
    }
  }
  return killed;
}

async function hasProcessEndingWith(suffix: string): Promise<boolean> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.split("\0").some((a) => a.endsWith(suffix))) return true;
  }
  return false;
}

/** The memory cgroups of the pool of process `pid` (roles/provider/sandbox/job_cgroup_pool.ts). */
async function poolCgroupsOf(pid: number): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir("/sys/fs/cgroup/memory")) {
      if (e.name.startsWith(`turnpike-pool-${pid}-`)) names.push(e.name);
    }
  } catch {
    // no cgroup v1 memory controller: nothing to leak
  }
  return names;
}

Deno.test("provider crash: SIGKILL mid-job, restart: no re-run, error, idempotent re-run, pending result published", async () => {
  const root = await Deno.makeTempDir({ prefix: "provider-crash-" });
  const town = await startProviderTestTown();
  const alice = await connectTestRequester({ town });
  let node: NodeProcess | undefined;
  try {
    await Deno.writeTextFile(`${root}/pass`, "crash test passphrase\n");
    await initWalletWithCli({ stateDir: `${root}/state`, passphraseFile: `${root}/pass` });
    await makeSkillsDir(root, ["echo"], [
      { name: "nap", kinds: [5030], run: "#!/bin/sh\nsleep 30\necho nap\n" },
      {
        name: "napi",
        kinds: [5031],
        meta: "  idempotent: true\n",
        // Slow enough to be killed on the first run, quick on the re-run.
        run: "#!/bin/sh\nsleep 1.5\necho rested\n",
      },
    ]);
    node = await startNode(town, root);
    const provider = node.info.pubkey;

    const done = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "before the crash", type: "text" }],
      providers: [provider],
    }));
    await alice.payInvoice(await alice.waitFor(feedbackOf(done.id, "payment-required")));
    await alice.waitFor(resultOf(done.id));

    const napping = await alice.post(buildJobRequest({ kind: 5030, providers: [provider] }));
    const idem = await alice.post(buildJobRequest({ kind: 5031, providers: [provider] }));
    await alice.waitFor(feedbackOf(napping.id, "processing"));
    await alice.waitFor(feedbackOf(idem.id, "processing"));
    // `processing` is published as the sandbox starts: wait until the skill itself runs, so the
    // kill lands mid-run (not during the sandbox's setup), the skill running.
    await waitUntil(
      () => hasProcessEndingWith(`${root}/skills/nap/run`), // this run's, not a leftover
      15_000,
      "the nap skill runs",
    );
    const killedPid = node.child.pid;
    // Root with a memory controller: the running job is in a pooled cgroup of the provider's.
    const leftGroups = await poolCgroupsOf(killedPid);
    const memoryCgroups = Deno.uid() === 0 &&
      await Deno.stat("/sys/fs/cgroup/memory/memory.limit_in_bytes").then(() => true, () => false);
    if (memoryCgroups) assert(leftGroups.length > 0, "the running job is in a pooled cgroup");
    node.child.kill("SIGKILL");
    await node.done;
    const workOf = (id: string) => `${root}/state/work/${id}`;
    // The running skill dies with its provider (roles/provider/sandbox/parent_death.ts).
    await waitUntil(
      async () => !await hasProcessWith(workOf(napping.id)),
      30_000,
      "the killed provider's skill to die with it",
    );

    // A result computed but not yet published (see the module doc).
    const pending = await alice.post(buildJobRequest({
      kind: 5601,
      inputs: [{ data: "computed", type: "text" }],
      providers: [provider],
    }));
    const store = await openProviderJobStore({ stateDir: `${root}/state` });
    await store.put({
      id: pending.id,
      kind: 5601,
      customer: alice.pubkey,
      skill: "echo",
      status: "result-computed",
      price: "0",
      requestToon: encodeEventToon(pending),
      encrypted: false,
      admittedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      result: "computed before the crash",
      attempts: 1,
    });
    assertEquals(store.get(napping.id)?.status, "running");
    assertEquals(store.get(idem.id)?.status, "running");

    node = await startNode(town, root);
    assertEquals(await hasProcessWith(workOf(napping.id)), false);
    assertEquals(
      await poolCgroupsOf(killedPid),
      [],
      `its memory cgroups (${leftGroups.length} before) are removed: ${
        node.stderr.filter((l) => l.includes("recover")).join(" / ")
      }`,
    );
    const err = parseJobFeedback(await alice.waitFor(feedbackOf(napping.id, "error")));
    assertStringIncludes(err.extraInfo ?? "", "restarted while the job ran");
    const rerun = await alice.waitFor(resultOf(idem.id), 30_000);
    assertEquals(rerun.content.trim(), "rested");
    const published = await alice.waitFor(resultOf(pending.id));
    assertEquals(published.content, "computed before the crash");
    // The finished job replayed by the town is dropped as a duplicate: counted, not logged.
    await waitUntil(
      async () =>
        ((await readProviderStatus(`${root}/state`)).counters.dropped.duplicate ?? 0) >= 1,
      15_000,
      "the finished job dropped as a duplicate",
    );
    assert(!node.stderr.some((l) => l.includes(`drop ${done.id}`)), node.stderr.join("\n"));
    await new Promise((r) => setTimeout(r, 1100)); // the status file is refreshed every second
    const status = await runCli([
      "--state-dir",
      `${root}/state`,
      "--output",
      "json",
      "node",
      "status",
    ]);
    assertEquals(status.code, 0, status.stderr);
    const view = JSON.parse(status.stdout);
    assertEquals([view.alive, view.pubkey, view.state], [true, provider, "serving"]);
    assert(view.skills.some((s: { name: string }) => s.name === "napi"));
    assert(view.counters.published >= 2, status.stdout);
    // The CLI runs with -A; the feed's stages run in workers with only their profiles.
    assertStringIncludes(view.feed, "relay-source (net 127.0.0.1:");
    assertStringIncludes(view.feed, "kind-extractor (no permissions), each in its worker");
    node.child.kill("SIGTERM");
    await node.done;
    node = undefined;
    const stopped = await runCli(["--state-dir", `${root}/state`, "node", "status"]);
    assertEquals(stopped.code, 1, "no provider runs");
    assertStringIncludes(stopped.stdout, "provider not running: stopped at");

    const after = await openProviderJobStore({ stateDir: `${root}/state` });
    assertEquals(after.get(done.id)?.status, "published");
    assertEquals(after.get(done.id)?.attempts, 1);
    assertEquals(after.get(napping.id)?.status, "error");
    assertEquals(after.get(idem.id)?.status, "published");
    assertEquals(after.get(idem.id)?.attempts, 2);
    assertEquals(after.get(pending.id)?.status, "published");
    const results = (id: string) => alice.seen().filter(resultOf(id)).length;
    assertEquals(results(done.id), 1, "the finished job has exactly one result");
    assertEquals(results(napping.id), 0);
    assert(
      alice.seen().every((e: NostrEvent) => e.pubkey === provider || e.pubkey === alice.pubkey),
    );
  } finally {
    if (node !== undefined) {
      // It may have exited already: a throw here would hide the failure that brought us here.
      try {
        node.child.kill("SIGKILL");
      } catch {
        // already exited (TypeError "Child process has already terminated")
      }
      await node.done;
    }
    await killOrphans(root);
    await alice.close();
    await town.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
