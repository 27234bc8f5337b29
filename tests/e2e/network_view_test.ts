/**
 * `providers`, `stats --network` and `dash` against a real town and provider after a real paid
 * job: the provider is listed with its skills, kinds and price and online, the network stats
 * count the job, and the dashboard (in tmux, 80x24) shows the job and the provider, opens the
 * result, cancels a job after confirming, follows a state change, and quits on q.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { startTmuxSession } from "../support/tmux_session.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { bytesToHex } from "@noble/hashes/utils.js";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

function quote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

Deno.test("providers, stats --network and dash see a real town, provider and job", async (t) => {
  const net = await startRequesterNetwork();
  const dir = `${net.root}/cli-requester`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  const relay = ["--relay-url", net.relayUrl];
  const conn = [
    ...relay,
    "--connector-btp-url",
    net.btpUrl.replace("btp+ws://", "btp+ws://cli:r@"),
    "--town-pubkey",
    net.town.pubkey,
    "--passphrase-file",
    `${dir}/pw`,
  ];
  const global = ["--state-dir", dir];
  const provider = net.providerPubkey!;
  try {
    const job = await runCli([
      ...global,
      "--json",
      "job",
      "submit",
      "echo",
      "--input",
      "text:from the dash test",
      "--bid",
      "100000",
      "--wait",
      "--non-interactive",
      ...conn,
    ]);
    assertEquals(job.code, 0, job.stderr);
    const jobId: string = JSON.parse(job.stdout.trim().split("\n").pop()!).job;

    await t.step("providers: text, json, csv, --kind", async () => {
      const text = await runCli([...global, "providers", ...relay]);
      assertEquals(text.code, 0, text.stderr);
      assertEquals(text.stderr.split("\n")[0], "Network: local (test funds)");
      // trust: this profile's receipts of the provider (docs/PROTOCOL.md "Receipts and trust"),
      // `-` before any.
      assertMatch(
        text.stdout,
        /^provider\s+pubkey\s+trust\s+skill\s+kinds\s+price\s+online\s+seen$/m,
      );
      assertMatch(
        text.stdout,
        new RegExp(
          `^turnpike-provider\\s+${provider.slice(0, 12)}\\s+-\\s+echo\\s+5601\\s+\\S+.*\\syes\\s`,
          "m",
        ),
      );
      const json = await runCli([...global, "--json", "providers", ...relay]);
      assertEquals(json.code, 0, json.stderr);
      const out = JSON.parse(json.stdout);
      assertEquals(out.network.name, "local");
      const listed = out.providers.find((p: { pubkey: string }) => p.pubkey === provider);
      assertEquals(listed.online, true);
      const echo = listed.skills.find((s: { name: string }) => s.name === "echo");
      assertEquals(echo.kinds, [5601]);
      assert(BigInt(echo.price) > 0n, JSON.stringify(echo));
      const csv = await runCli([...global, "--output", "csv", "providers", ...relay]);
      assertEquals(
        csv.stdout.split("\n")[0],
        "name,pubkey,skill,kinds,price,asset,scale,online,last_seen",
      );
      assertMatch(
        csv.stdout,
        new RegExp(`^turnpike-provider,${provider},echo,5601,${echo.price},.*,true,\\d+$`, "m"),
      );
      const byKind = await runCli([...global, "--json", "providers", "--kind", "5601", ...relay]);
      const only = JSON.parse(byKind.stdout).providers;
      assertEquals(
        only.flatMap((p: { skills: { name: string }[] }) => p.skills.map((s) => s.name)),
        ["echo"],
      );
      const none = await runCli([...global, "--json", "providers", "--kind", "5777", ...relay]);
      assertEquals(JSON.parse(none.stdout).providers, []);
    });

    await t.step("stats --network --json counts the job", async () => {
      const res = await runCli([
        ...global,
        "--json",
        "stats",
        "--network",
        "--since",
        "1h",
        ...relay,
      ]);
      assertEquals(res.code, 0, res.stderr);
      const s = JSON.parse(res.stdout);
      assertEquals([s.jobs, s.done, s.failed, s.successRate], [1, 1, 0, 1], res.stdout);
      assertEquals([s.providersOnline, s.windowSec, s.network.name], [1, 3600, "local"]);
      assert(s.latencyP50Sec !== null && s.latencyP95Sec >= s.latencyP50Sec, res.stdout);
      assertEquals(s.topProviders[0].pubkey, provider);
      assertEquals([s.topProviders[0].name, s.topProviders[0].done], ["turnpike-provider", 1]);
      const text = await runCli([...global, "stats", "--network", ...relay]);
      assertMatch(text.stdout, /^providers {3}1 online of 1$/m);
      assertMatch(text.stdout, /^success {5}100%$/m);
    });

    await t.step("dash --once prints one frame with the job and the provider", async () => {
      const res = await runCli([...global, "dash", "--once", ...relay]);
      assertEquals(res.code, 0, res.stderr);
      const lines = res.stdout.trimEnd().split("\n");
      assert(lines.length <= 24 && lines.every((l) => l.length <= 80), res.stdout);
      assertStringIncludes(res.stdout, "Network: local (test funds)");
      assertStringIncludes(res.stdout, `connected ${net.relayUrl}`);
      assertMatch(
        res.stdout,
        new RegExp(
          `^> ${jobId.slice(0, 12)} 5601 \\(echo\\)\\s+done\\s+[\\d.]+ [A-Z0-9]+\\s+1 receipt`,
          "m",
        ),
      );
      assertMatch(res.stdout, /done 1 {2}failed 0/);
      assertMatch(
        res.stdout,
        /^network {2}1\/1 online {2}1 jobs in 1h, [\d.]+\/min {2}success 100% {2}p50 \d+s {2}p95 \d+s$/m,
      );
      assertMatch(
        res.stdout,
        new RegExp(`turnpike-provider\\s+${provider.slice(0, 12)}\\s+1 done`),
      );
    });

    await t.step(
      "dash --once on the provider's state dir shows its work and earnings",
      async () => {
        const res = await runCli([
          "--state-dir",
          `${net.root}/provider`,
          "dash",
          "--once",
          ...relay,
        ]);
        assertEquals(res.code, 0, res.stderr);
        assertMatch(res.stdout, /^provider serving {2}running 0 {2}in flight 0 .*skills .*echo/m);
        // In the provider's asset with its code (`0.02483 USD`), not base units.
        const earned = /earned ([\d.]+) [A-Z0-9]+ {2}paid 1 {2}published 1/.exec(res.stdout);
        assert(earned !== null && Number(earned[1]) > 0, res.stdout);
      },
    );

    await t.step("dash in a terminal: frames, open, cancel, live updates, q", async () => {
      // Kind 5777: no provider serves it, so the job stays open until cancelled.
      const open = await runCli([
        ...global,
        "--json",
        "job",
        "submit",
        "5777",
        "--input",
        "text:never served",
        "--force",
        "--non-interactive",
        ...conn,
      ]);
      assertEquals(open.code, 0, open.stderr);
      const openId: string = JSON.parse(open.stdout).id;
      const command = [Deno.execPath(), "run", "-A", CLI, ...global, "dash", ...conn]
        .map(quote).join(" ");
      const tmux = await startTmuxSession({ command: `NO_COLOR=1 ${command}` });
      try {
        const first = await tmux.waitFor(
          (s) => s.includes(jobId.slice(0, 12)) && s.includes("turnpike-provider"),
          "the job and the provider",
        );
        assert(first.split("\n").every((l) => l.length <= 80), first);
        assertMatch(first, new RegExp(`^> ${openId.slice(0, 12)} 5777`, "m"));
        await tmux.sendKeys("Down");
        await tmux.waitFor((s) => s.includes(`> ${jobId.slice(0, 12)}`), "the done job selected");
        await tmux.sendKeys("Enter");
        const detail = await tmux.waitFor((s) => s.includes("from the dash test"), "the result");
        assertMatch(detail, /^payment .* paid receipt [0-9a-f]{24}/m);
        await tmux.sendKeys("Escape");
        await tmux.waitFor((s) => s.includes("jobs in 1h"), "the overview again");
        await tmux.sendKeys("Up");
        await tmux.sendKeys("c");
        await tmux.waitFor(
          (s) => s.includes(`cancel job ${openId.slice(0, 12)}? y/n`),
          "the question",
        );
        await tmux.sendKeys("y");
        await tmux.waitFor(
          (s) => new RegExp(`${openId.slice(0, 12)} 5777\\s+cancelled`).test(s),
          "the job cancelled",
        );
        const latencies = await measureUpdateLatency(dir, tmux.waitFor);
        console.log(
          `dash update latency after a job file write (ms): ${
            latencies.map((l) => l.toFixed(1)).join(", ")
          }`,
        );
        // A job posted meanwhile reaches the network figures over the live subscription.
        const jobsIn = (screen: string) => Number(/ (\d+) jobs in 1h/.exec(screen)?.[1] ?? -1);
        const before = jobsIn(await tmux.capture());
        const another = await runCli([
          ...global,
          "job",
          "submit",
          "5777",
          "--input",
          "text:seen live",
          "--force",
          "--non-interactive",
          ...conn,
        ]);
        assertEquals(another.code, 0, another.stderr);
        await tmux.waitFor((s) => jobsIn(s) === before + 1, `${before + 1} jobs in the window`);
        await tmux.sendKeys("q");
        await waitUntil(async () => !await tmux.alive(), "the dashboard to quit");
      } finally {
        await tmux.kill();
      }
    });
  } finally {
    await net.stop();
  }
});

/** Writes new job records the way the requester does and times each until it is on screen. */
async function measureUpdateLatency(
  stateDir: string,
  waitFor: (test: (s: string) => boolean, what: string) => Promise<string>,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const id = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
    const repo = await openJobRepository({ stateDir });
    const now = Date.now();
    try {
      await repo.create({
        id,
        kind: 5100 + i,
        skill: "none",
        status: "processing",
        createdAtMs: now,
        updatedAtMs: now,
        payments: [],
      });
    } finally {
      repo.close();
    }
    const written = performance.now();
    await waitFor((s) => s.includes(id.slice(0, 12)), `job ${id.slice(0, 12)}`);
    latencies.push(performance.now() - written);
  }
  return latencies;
}

async function waitUntil(test: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!await test()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
