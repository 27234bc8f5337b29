/**
 * The requester's bound on jobs followed at once (docs/SCALE.md "Graceful overload"), on real
 * peers. A bound that finds itself (roles/requester/adaptive_job_limit.ts): a town process, a
 * provider host process with a skill that sleeps and one that answers at once, a requester here
 * whose bound starts at 4 with a 3 s target. Slow jobs (4 s of sleep) shrink it and the next
 * submit past it is refused `busy` before anything is signed or paid; fast ones grow it back to
 * 4. Then the CLI's setting: `job submit --max-jobs 1` against the profile's node that follows
 * one job is refused with an `Error: busy: ...` line (`--json`: code `busy`), exit 1.
 */
import { generateSecretKey, getPublicKey } from "nostr-tools";
import { bytesToHex } from "@noble/hashes/utils.js";
import { assert, assertEquals, assertMatch, assertRejects } from "../../harness/assert.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { startRequester } from "../../roles/requester/requester_node.ts";
import type { ProviderHostPlan } from "../../bench/scale_provider_host.ts";
import { scaleJobSpec } from "../../bench/scale_requester_host.ts";
import { JobSlots, RequesterBusyError } from "../../roles/requester/job_slots.ts";
import { AdaptiveJobLimit } from "../../roles/requester/adaptive_job_limit.ts";
import { categoryOf } from "../../state/payments/payment_log.ts";
import { startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { runCli } from "../../harness/run_cli.ts";

/** A skill of `kind` that reads its input and prints `ok` after `sleep` seconds. */
async function writeSkill(dir: string, name: string, kind: number, sleep: number) {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${name}/SKILL.md`,
    `---\nname: ${name}\ndescription: t\nmetadata:\n  kinds: [${kind}]\n  price: 100\n` +
      "  timeout: 60\n  idempotent: false\n---\n",
  );
  await Deno.writeTextFile(
    `${dir}/${name}/run`,
    `#!/bin/sh\ncat > /dev/null\nsleep ${sleep}\necho ok\n`,
    { mode: 0o755 },
  );
}

Deno.test("adaptive job bound: slow jobs shrink it and a submit past it is refused busy, nothing paid; fast jobs grow it back", async () => {
  const root = await Deno.makeTempDir({ prefix: "requester_job_bound_" });
  const townKey = generateSecretKey();
  await using town = await startSharedTownProcess({ secretKey: townKey });
  const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
  const btp = `btp+ws://127.0.0.1:${town.btpPort}`;
  const providerKey = generateSecretKey();
  const skillsDir = `${root}/skills`;
  await writeSkill(skillsDir, "slow", 5601, 4);
  await writeSkill(skillsDir, "fast", 5602, 0);
  const plan: ProviderHostPlan = {
    root,
    skillsDir,
    runsFile: `${root}/runs.txt`,
    auditWindowMs: 50,
    addressedOnly: true,
    maxInFlight: 16,
    providers: [{
      index: 0,
      secretKeyHex: bytesToHex(providerKey),
      relayUrl,
      btpUrl: btp.replace("btp+ws://", "btp+ws://prov0:p@"),
      townPubkey: getPublicKey(townKey),
      townAddress: "test.town",
    }],
  };
  await Deno.writeTextFile(`${root}/host.json`, JSON.stringify(plan));
  const host = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../bench/scale_provider_host.ts", import.meta.url).pathname,
      `${root}/host.json`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Decisions at every done job (no time window): the test moves by the jobs' ends only.
  const limit = new AdaptiveJobLimit({ targetMs: 3000, initial: 4, windowMs: 0 });
  const requester = await (async () => {
    const out = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await out.read();
      if (done) throw new Error(`provider host ended before ready: ${text}`);
      text += value;
    }
    out.releaseLock();
    host.stdout.cancel().catch(() => {});
    await Deno.mkdir(`${root}/r0`);
    return await startRequester({
      stateDir: `${root}/r0`,
      secretKey: generateSecretKey(),
      relayUrl,
      btpUrl: btp.replace("btp+ws://", "btp+ws://req0:r@"),
      btpToken: "r",
      townPubkey: getPublicKey(townKey),
      townAddress: "test.town",
      feedMode: "inline",
      durable: false,
      jobSlots: new JobSlots(limit),
    });
  })();
  try {
    const base = scaleJobSpec(getPublicKey(providerKey), 120_000);
    let n = 0;
    const job = (kind: number) => ({
      ...base,
      kind,
      inputs: [{ data: `job ${n++}`, type: "text" as const }],
    });
    const runAll = async (kind: number, count: number) => {
      const submitted = await Promise.all(
        Array.from({ length: count }, () => requester.submit(job(kind))),
      );
      const ended = await Promise.all(submitted.map((r) => requester.waitFor(r.id)));
      for (const r of ended) assertEquals(r.status, "done", r.error);
      return ended;
    };
    const done = [];
    // Four slow jobs under the starting bound of 4: each takes 4 s or more against 3 s.
    done.push(...await runAll(5601, 4));
    const shrunk = limit.current;
    assert(shrunk < 4, `the bound shrank: ${shrunk}`);
    // As many slow jobs as the bound now takes; the next one is refused busy at once.
    const held = await Promise.all(
      Array.from({ length: shrunk }, () => requester.submit(job(5601))),
    );
    const err = await assertRejects(() => requester.submit(job(5601)), RequesterBusyError);
    assertMatch(err.message, /^busy: \d+ jobs in flight .*adaptive: median \d+\.\d s, target 3 s/);
    for (const r of held) done.push(await requester.waitFor(r.id));
    // Fast jobs, as many at once as the bound takes, until it is back at 4.
    for (let round = 0; round < 12 && limit.current < 4; round++) {
      done.push(...await runAll(5602, limit.current));
    }
    assert(limit.current >= 4, `grew back: ${limit.current}`);
    done.push(...await runAll(5602, 4));
    // One job payment for each job done; none for the refused one (it had no id).
    const jobPayments = requester.payments.entries().filter((e) =>
      e.direction === "out" && e.event === "fulfilled" && categoryOf(e) === "job"
    );
    assertEquals(jobPayments.map((e) => e.jobId).sort(), done.map((r) => r.id).sort());
  } finally {
    await requester.close();
    host.kill("SIGTERM");
    await host.status;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

Deno.test("job submit against the profile's node at its --max-jobs bound: Error: busy, exit 1, code busy in --json; served once a slot is free", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "requester_job_bound_cli_" });
  const nobody = "0".repeat(64);
  const submit = (text: string, ...more: string[]) =>
    runCli([
      "--profile",
      "alice",
      ...more,
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--bid",
      "100000",
      "--provider",
      nobody,
      "--force",
      "--max-jobs",
      "1",
      ...net.secret,
    ], { env: net.env });
  // Addressed to a provider that is not there (--force): it stays in flight, holding the slot.
  const first = await submit("held", "--output", "json");
  assertEquals(first.code, 0, first.stderr);
  const heldId = JSON.parse(first.stdout.split("\n")[0]).id as string;
  const json = await submit("refused", "--output", "json");
  assertEquals(json.code, 1, json.stderr);
  const line = JSON.parse(json.stdout.split("\n").filter((l) => l.trim() !== "")[0]);
  assertEquals([line.type, line.code], ["error", "busy"], json.stdout);
  assertMatch(line.message, /^busy: 1 jobs in flight on this requester host, max 1 \(fixed;/);
  const text = await submit("refused too");
  assertEquals(text.code, 1, text.stderr);
  assertMatch(text.stderr, /^Error: busy: 1 jobs in flight .*max 1/m);
  assertEquals(text.stdout, "");
  // The same setting as the node's (another would be a node with other settings: `node-busy`).
  const cancel = await runCli([
    "--profile",
    "alice",
    "--output",
    "json",
    "job",
    "cancel",
    heldId.slice(0, 12),
    "--max-jobs",
    "1",
    ...net.secret,
  ], { env: net.env });
  assertEquals(cancel.code, 0, cancel.stderr);
  const after = await submit("after the cancel", "--output", "json");
  assertEquals(after.code, 0, after.stderr);
});
