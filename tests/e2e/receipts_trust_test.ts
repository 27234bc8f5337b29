/**
 * Receipts and trust end to end (docs/PROTOCOL.md "Receipts and trust"): a town, the real
 * provider node (`node up`, its presets from config.toml) with the agent-task skill and scripted
 * agents (shell scripts, no model), the real sandbox and git, and a requester profile driven
 * through its CLI. Three agent tasks: one whose work passes the requester's own `--verify`, one
 * whose work fails it, one whose preset cannot run (failed, its deposit refunded). Both sides'
 * `turnpike receipts` then say, per job, what each side's payment log says; `receipts --check`
 * catches an edited receipt; `turnpike trust` rises with the verified pass and falls with the
 * failed verify, and `providers` shows it.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { initWalletWithCli, runCli } from "../../harness/run_cli.ts";
import { ndjsonLines } from "../../harness/agent_cli.ts";
import { startRequesterNetwork } from "../../harness/requester_network.ts";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { openPaymentLog, type PaymentEntry } from "../../state/payments/payment_log.ts";

/** What each side's payment log says a job moved: paid for the job, and given back. */
async function booksOf(stateDir: string, jobId: string, side: "requester" | "provider") {
  const lines = (await openPaymentLog({ stateDir })).entries().filter((e: PaymentEntry) =>
    e.jobId === jobId && e.event === "fulfilled" && (e.category ?? "job") === "job"
  );
  const sum = (pick: (e: PaymentEntry) => boolean) =>
    lines.filter(pick).reduce((s, e) => s + BigInt(e.amount), 0n);
  const refund = (e: PaymentEntry) => e.invoiceId === `refund:${jobId}`;
  const paysIn = side === "requester" ? "out" : "in";
  return {
    paid: sum((e) => e.direction === paysIn && !refund(e)),
    refunded: sum((e) => e.direction !== paysIn && refund(e)),
  };
}

Deno.test("receipts: both sides sign one per ended job that matches their payment logs, --check catches an edited one, and trust rises with a verified pass and falls with a failed verify", async () => {
  const apiKey = "sk-provider-receipts";
  const api = await startStandInModelApi({ apiKey });
  const skills = await agentSkillsDir({
    "fix.sh": [
      "set -e",
      `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
      "git commit -q -am 'add: add, not subtract'",
    ].join("\n"),
    // Commits a change that does not fix add: `sh test.sh` fails, here and there.
    "broken.sh": [
      "set -e",
      "echo '# looked at it' >> add.sh",
      "git commit -q -am 'add: a comment'",
    ].join("\n"),
  });
  const net = await startRequesterNetwork({ provider: false });
  const root = `${net.root}/beta`;
  const providerState = `${root}/state`;
  await Deno.mkdir(providerState, { recursive: true });
  await Deno.writeTextFile(`${root}/pass`, "provider passphrase\n");
  await initWalletWithCli({ stateDir: providerState, passphraseFile: `${root}/pass` });
  const preset = (name: string, command: string) => [
    `[agents.${name}]`,
    `command = "${command}"`,
    "budget = 1000",
    `upstream = "${api.url}"`,
    'api_key_env = "BETA_MODEL_KEY"',
    "",
  ];
  await Deno.writeTextFile(
    `${providerState}/config.toml`,
    [
      ...preset("honest", `sh ${skills}/agent-task/agents/fix.sh`),
      ...preset("broken", `sh ${skills}/agent-task/agents/broken.sh`),
      // A program the shell computes passes node up's check; the job finds nothing: refunded.
      ...preset("missing", "$TURNPIKE_AGENTS/no-such-agent-command --fix"),
    ].join("\n"),
  );
  const provider = spawnCli([
    ...["--state-dir", providerState, "--output", "json", "node", "up"],
    ...["--connector-btp-url", net.btpUrl.replace("btp+ws://", "btp+ws://beta:b@")],
    ...["--btp-token", "b", "--relay-url", net.relayUrl, "--town-pubkey", net.town.pubkey],
    ...["--skills-dir", skills, "--passphrase-file", `${root}/pass`, "--non-interactive"],
  ], { env: { BETA_MODEL_KEY: apiKey } });
  try {
    const info = JSON.parse(
      await provider.waitForLine((l) => l.startsWith("{") && l.includes('"node-up"')),
    ) as { pubkey: string };
    const alice = await requesterProfile(net);
    const aliceState = `${net.root}/agent-home/alice`;
    const signing = ["--passphrase-file", `${net.root}/agent-home/pw`, "--non-interactive"];
    const repo = await tempGitRepo(`${net.root}/repo`);
    await commitAgentSample(repo);
    const run = async (agent: string) => {
      const done = await alice(
        ...["job", "submit", "agent-task", "--repo", repo.dir, "--title", "Fix add"],
        ...["--accept", "sh test.sh", "--agent", agent, "--bid", "1000000"],
        ...["--provider", info.pubkey, "--timeout", "240", "--wait"],
      );
      const end = done.lines.find((l) => l.type === "result");
      assert(end !== undefined, done.stderr + done.stdout);
      return { id: String(end.job), status: String(end.status) };
    };
    const trust = async () => {
      const out = await alice("trust", info.pubkey, ...signing);
      assertEquals(out.code, 0, out.stderr + out.stdout);
      return Number(out.lines.find((l) => l.type === "trust")!.rank);
    };

    // 1. Verified work that passes: trust rises from nothing.
    const honest = await run("honest");
    assertEquals(honest.status, "done");
    // A receipt before the verify; the verify's verdict comes in a newer one.
    const early = await alice("receipts", ...signing);
    assertEquals(early.code, 0, early.stderr + early.stdout);
    assertEquals(early.lines.map((l) => [l.job, l.localVerify]), [[honest.id, undefined]]);
    const verified = await alice("job", "results", honest.id, "--apply", "--verify");
    assertEquals(verified.code, 0, verified.stderr + verified.stdout);
    const afterPass = await trust();
    assert(afterPass > 0, `trust after a verified pass: ${afterPass}`);

    // 2. Work whose verify fails: trust falls below what the pass gave.
    const broken = await run("broken");
    assertEquals(broken.status, "done");
    const failedVerify = await alice("job", "results", broken.id, "--apply", "--verify");
    const seen = failedVerify.lines.find((l) => l.type === "applied")?.verified;
    assertEquals((seen as { verdict?: string })?.verdict, "fail", failedVerify.stdout);
    const afterFail = await trust();
    assert(afterFail < afterPass, `trust ${afterPass} then ${afterFail} after a failed verify`);

    // 3. A preset that cannot run: failed, the deposit given back.
    const missing = await run("missing");
    assertEquals(missing.status, "error");

    // Both sides' receipts: one per job, each as its own payment log says.
    const mine = await alice("receipts", ...signing);
    assertEquals(mine.code, 0, mine.stderr + mine.stdout);
    const theirs = await runCli([
      ...["--state-dir", providerState, "--json", "receipts"],
      ...["--passphrase-file", `${root}/pass`, "--non-interactive"],
    ]);
    assertEquals(theirs.code, 0, theirs.stderr + theirs.stdout);
    const providerLines = ndjsonLines(theirs.stdout);
    for (
      const [side, lines, state] of [
        ["requester", mine.lines, aliceState],
        ["provider", providerLines, providerState],
      ] as const
    ) {
      assertEquals(
        lines.map((l) => l.job).sort(),
        [honest.id, broken.id, missing.id].sort(),
        `${side}: ${JSON.stringify(lines)}`,
      );
      for (const l of lines) {
        const books = await booksOf(state, String(l.job), side);
        const paid = BigInt(String(l.deposit)) + BigInt(String(l.delivery));
        assertEquals([paid, BigInt(String(l.refunded))], [books.paid, books.refunded], side);
      }
    }
    const byJob = (lines: Record<string, unknown>[], id: string) =>
      lines.find((l) => l.job === id)!;
    for (const id of [honest.id, broken.id, missing.id]) {
      const [a, b] = [byJob(mine.lines, id), byJob(providerLines, id)];
      assertEquals(
        [a.deposit, a.delivery, a.refunded, a.counterparty],
        [b.deposit, b.delivery, b.refunded, info.pubkey],
      );
    }
    assert(BigInt(String(byJob(mine.lines, missing.id).refunded)) > 0n);
    assertEquals(byJob(mine.lines, missing.id).outcome, "failed");
    assertEquals(
      [byJob(mine.lines, honest.id).localVerify, byJob(mine.lines, broken.id).localVerify],
      ["passed", "failed"],
    );
    assertEquals(byJob(mine.lines, broken.id).providerVerdict, "failed");

    // `providers` shows the same trust beside the provider's listing.
    const rank = await trust();
    const listed = await alice("providers");
    assertEquals(listed.code, 0, listed.stderr + listed.stdout);
    const entry = (listed.lines[0].providers as { pubkey: string; trust: number }[])
      .find((p) => p.pubkey === info.pubkey);
    assert(Math.abs(Number(entry?.trust) - rank) <= 0.1, `${JSON.stringify(entry)} vs ${rank}`);

    // --check: all agree; then one receipt's deposit edited in the file is caught.
    const clean = await alice("receipts", "--check");
    assertEquals(clean.code, 0, clean.stderr + clean.stdout);
    const book = `${aliceState}/receipts.jsonl`;
    // The payment log keeps 30 days, the job records stay: with the log's lines gone (as after
    // its pruning), the receipts keep what was paid, and no newer one says nothing was.
    const before = await Deno.readTextFile(book);
    await Deno.remove(`${aliceState}/payment_log.jsonl`).catch(() => {});
    await Deno.remove(`${aliceState}/payment_log`, { recursive: true }).catch(() => {});
    const afterPrune = await alice("receipts", ...signing);
    assertEquals(afterPrune.code, 0, afterPrune.stderr + afterPrune.stdout);
    assertEquals(await Deno.readTextFile(book), before, "no receipt rewritten after the prune");
    const stillClean = await alice("receipts", "--check");
    assertEquals(stillClean.code, 0, stillClean.stderr + stillClean.stdout);
    const text = await Deno.readTextFile(book);
    const deposit = String(byJob(mine.lines, honest.id).deposit);
    const lines = text.trimEnd().split("\n");
    const last = lines.findLastIndex((l) => l.includes(honest.id));
    lines[last] = lines[last].replace(
      `\\"deposit\\":\\"${deposit}\\"`,
      `\\"deposit\\":\\"${BigInt(deposit) + 1n}\\"`,
    );
    assert(lines.join("\n") + "\n" !== text, "the edit changed nothing");
    await Deno.writeTextFile(book, lines.join("\n") + "\n");
    const caught = await alice("receipts", "--check");
    assertEquals(caught.code, 1, caught.stderr + caught.stdout);
    const bad = caught.lines.filter((l) => l.type === "bad-receipt");
    assertEquals(bad.map((l) => [l.index, l.reason]), [[last + 1, "signature"]]);
  } finally {
    try {
      provider.child.kill("SIGTERM");
    } catch { /* it ended already: its error is the test's */ }
    await provider.done;
    await net.stop();
    await api[Symbol.asyncDispose]();
    await Deno.remove(skills, { recursive: true }).catch(() => {});
  }
});
