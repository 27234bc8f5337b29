import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import { startTestTown } from "../../harness/town_test_node.ts";
import { spawnCli } from "../../harness/cli_process.ts";

Deno.test("turnpike job: submit --wait, status, results, list; bad input gets Error: + exit code", async (t) => {
  const net = await startRequesterNetwork();
  const dir = `${net.root}/cli-requester`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/pw`, "correct horse battery staple\n");
  await initWalletWithCli({ stateDir: dir, passphraseFile: `${dir}/pw` });
  const conn = (relay = net.relayUrl, btp = net.btpUrl.replace("btp+ws://", "btp+ws://cli:r@")) => [
    "--relay-url",
    relay,
    "--connector-btp-url",
    btp,
    "--town-pubkey",
    net.town.pubkey,
    "--passphrase-file",
    `${dir}/pw`,
    "--non-interactive",
  ];
  const global = ["--state-dir", dir];
  try {
    let jobId = "";
    await t.step("submit --wait --output json: done, paid, result", async () => {
      const res = await runCli([
        ...global,
        "--output",
        "json",
        "job",
        "submit",
        "echo",
        "--input",
        "text:from the cli",
        "--bid",
        "100000",
        "--wait",
        ...conn(),
      ]);
      assertEquals(res.code, 0, res.stderr);
      // NDJSON only: progress lines, then one result line.
      const lines = res.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const out = lines.pop();
      assert(lines.length > 0 && lines.every((l) => l.type === "progress"), res.stdout);
      assertEquals(lines.map((l) => l.status).includes("paid"), true, res.stdout);
      assertEquals([out.type, out.status, out.content, out.report], [
        "result",
        "done",
        "from the cli",
        null,
      ]);
      assertEquals(out.network, {
        name: "local",
        realFunds: false,
        line: "Network: local (test funds)",
      });
      assertEquals(res.stderr.split("\n")[0], "Network: local (test funds)");
      assertEquals(out.receipts.length, 1);
      assertMatch(out.receipts[0].fulfillment, /^[0-9a-f]{64}$/);
      const [costs] = out.costs;
      assert(BigInt(costs.provider) > 0n && BigInt(costs.town) > 0n, JSON.stringify(costs));
      assertEquals(BigInt(costs.total), BigInt(costs.provider) + BigInt(costs.town));
      jobId = out.job;
    });
    await t.step("job ids by unique prefix; json errors with a code", async () => {
      const status = await runCli([...global, "--json", "job", "status", jobId.slice(0, 8)]);
      assertEquals([status.code, JSON.parse(status.stdout).id], [0, jobId], status.stderr);
      const waited = await runCli([
        ...global,
        "--json",
        "job",
        "wait",
        jobId.slice(0, 10),
        ...conn(),
      ]);
      assertEquals(waited.code, 0, waited.stderr);
      assertEquals(JSON.parse(waited.stdout.trim().split("\n").pop()!).status, "done");
      const missing = await runCli([...global, "--json", "job", "results", "ffff0000"]);
      assertEquals(missing.code, 2);
      const err = JSON.parse(missing.stdout);
      assertEquals([err.type, err.code, err.exit], ["error", "no-job", 2]);
      assertMatch(missing.stderr, /^Error: no job ffff0000/m);
      const usage = await runCli([...global, "--json", "job", "status"]);
      assertEquals([usage.code, JSON.parse(usage.stdout).code], [2, "usage"]);
    });
    await t.step(
      "fail fast: no online provider, or a bid below every price, before paying",
      async () => {
        const before = await Deno.readTextFile(`${dir}/payment_log.jsonl`);
        const none = await runCli([
          ...global,
          "--json",
          "job",
          "submit",
          "5777",
          "--input",
          "text:x",
          ...conn(),
        ]);
        const noneErr = JSON.parse(none.stdout);
        assertEquals([none.code, noneErr.code], [1, "no-provider"], none.stderr);
        assertMatch(none.stderr, /^Error: no online provider serves kind 5777$/m);
        assertMatch(none.stderr, /^Suggestion: .*--force posts the job anyway/m);
        const low = await runCli([
          ...global,
          "job",
          "submit",
          "echo",
          "--input",
          "text:x",
          "--bid",
          "50",
          ...conn(),
        ]);
        assertEquals(low.code, 1, low.stderr);
        assertMatch(
          low.stderr,
          /^Error: the bid 50 is below every online provider's price for kind 5601 \(echo\)$/m,
        );
        assertMatch(
          low.stderr,
          new RegExp(
            `^Suggestion: .*\\(${
              net.providerPubkey!.slice(0, 12)
            }\\) serves it with echo from \\d+:`,
            "m",
          ),
        );
        assertEquals(
          await Deno.readTextFile(`${dir}/payment_log.jsonl`),
          before,
          "nothing was paid",
        );
      },
    );
    await t.step("text --wait: only the result on stdout, progress on stderr", async () => {
      const res = await runCli([
        ...global,
        "job",
        "submit",
        "echo",
        "--input",
        "text:plain text",
        "--bid",
        "100000",
        "--wait",
        ...conn(),
      ]);
      assertEquals([res.code, res.stdout], [0, "plain text\n"], res.stderr);
      assertMatch(res.stderr, /^job [0-9a-f]{64} done$/m);
    });
    await t.step("a waiting `--wait` notices a cancel from another shell", async () => {
      // Kind 5777: no provider serves it, so the job waits until cancelled.
      const waiting = spawnCli([
        ...global,
        "--json",
        "job",
        "submit",
        "5777",
        "--input",
        "text:never served",
        "--force",
        "--timeout",
        "3600",
        "--wait",
        ...conn(),
      ]);
      const sent = JSON.parse(await waiting.waitForLine((l) => l.includes('"sent"')));
      const cancel = await runCli([...global, "job", "cancel", sent.job.slice(0, 12), ...conn()]);
      assertEquals(cancel.code, 0, cancel.stderr);
      const { code } = await waiting.done;
      const last = JSON.parse(waiting.stdout().trim().split("\n").pop()!);
      assertEquals([code, last.type, last.status], [1, "result", "cancelled"]);
    });
    await t.step("status, results, list (json and csv)", async () => {
      const status = await runCli([...global, "job", "status", jobId]);
      assertEquals(status.code, 0, status.stderr);
      assertStringIncludes(status.stdout, "status   done");
      // The job's kind by name; no "skill none" (the callback skill, which it has none of).
      assertStringIncludes(status.stdout, "kind     5601 (echo)\n");
      assert(!/skill|callback/.test(status.stdout), status.stdout);
      const results = await runCli([...global, "job", "results", jobId]);
      assertEquals(results.stdout.trim(), "from the cli");
      // No blobs to save: said so, and no empty directory is left.
      const saved = await runCli([...global, "job", "results", jobId, "--save", `${dir}/out`]);
      assertEquals(saved.code, 0, saved.stderr);
      assertMatch(saved.stderr, /^no blobs to save: the result names no logs or artifacts/m);
      assertEquals(await Deno.stat(`${dir}/out`).then(() => true, () => false), false);
      // An ended job's status is printed once.
      const waited = await runCli([...global, "job", "wait", jobId.slice(0, 10), ...conn()]);
      assertEquals(waited.code, 0, waited.stderr);
      assertEquals(waited.stderr.split("\n").filter((l) => l.endsWith(" done")), [
        `job ${jobId} done`,
      ]);
      const text = await runCli([...global, "job", "list"]);
      assertMatch(text.stdout, new RegExp(`^${jobId}  5601 \\(echo\\) +done `, "m"));
      const csv = await runCli([...global, "--output", "csv", "job", "list"]);
      assertMatch(csv.stdout, /^id,kind,name,callback,status,/);
      assertMatch(csv.stdout, new RegExp(`^${jobId},5601,echo,none,done,`, "m"));
      const json = await runCli([...global, "--output", "json", "job", "list", "--status", "done"]);
      const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(lines.map((l) => [l.type, l.status]), [["job", "done"], ["job", "done"]]);
    });
    await t.step("the town's pubkey is learned from NIP-11 `self` when not given", async () => {
      const noPubkey = conn().filter((a, i, all) =>
        a !== "--town-pubkey" && all[i - 1] !== "--town-pubkey"
      );
      const res = await runCli([
        ...global,
        "job",
        "submit",
        "echo",
        "--input",
        "text:self",
        ...noPubkey,
      ]);
      assertEquals(res.code, 0, res.stderr);
      // Either status says the town stored the request. The job has no bid, so the node refuses
      // the provider's invoice as soon as it comes; that can be before the town's FULFILL has
      // gone through the node (its payment log's fsync): then the line already says
      // `payment-refused` (about 20 ms more on the node's side does it, a busy machine's fsync).
      assertMatch(res.stdout, /^job [0-9a-f]{64} (sent|payment-refused)$/m);
    });
    await t.step("unknown kind name: exit 2", async () => {
      const res = await runCli([...global, "job", "submit", "no-such-kind", ...conn()]);
      assertEquals(res.code, 2);
      assertMatch(res.stderr, /^Error: unknown job kind "no-such-kind"/m);
    });
    await t.step("unreadable input file: exit 2", async () => {
      const res = await runCli([
        ...global,
        "job",
        "submit",
        "echo",
        "--file",
        `${dir}/missing.txt`,
        ...conn(),
      ]);
      assertEquals(res.code, 2);
      assertMatch(res.stderr, /^Error: cannot read input file/m);
    });
    await t.step(
      "a town that rejects (price too low: F04): exit 1 with code and suggestion",
      async () => {
        const res = await runCli([
          ...global,
          "job",
          "submit",
          "echo",
          "--input",
          "text:x",
          // Above the provider's price, so the town is the one that refuses.
          "--bid",
          "100000",
          "--price-per-byte",
          "1",
          ...conn(),
        ]);
        assertEquals(res.code, 1, res.stderr);
        assertMatch(res.stderr, /^Error: the town rejected the packet: F04/m);
        assertMatch(res.stderr, /^Suggestion: /m);
      },
    );
    await t.step("a relay that is gone: exit 1, town unreachable", async () => {
      const gone = await startTestTown({ acceptAnyToken: true });
      const relay = `ws://127.0.0.1:${gone.httpPort}`;
      const btp = `btp+ws://cli:r@127.0.0.1:${gone.btpPort}`;
      await gone.stop();
      const res = await runCli([
        ...global,
        "job",
        "submit",
        "echo",
        "--input",
        "text:x",
        ...conn(relay, btp),
      ]);
      assertEquals(res.code, 1);
      assertMatch(res.stderr, /^Error: relay ws:\/\/127\.0\.0\.1:\d+: .* \(town unreachable\)/m);
    });
    await t.step("cancel of a finished job: exit 2", async () => {
      const res = await runCli([...global, "job", "cancel", jobId, ...conn()]);
      assertEquals(res.code, 2);
      assertMatch(res.stderr, /^Error: job [0-9a-f]{64} is already done/m);
    });
  } finally {
    await net.stop();
  }
});
