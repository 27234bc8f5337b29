/**
 * Many jobs at once from one profile (docs/ARCHITECTURE.md "The profile's node"), on real
 * peers: a town, a provider with the built-in echo skill, anvil with the project's contracts
 * and an automatic payment channel. Every command is its own process, as an agent runs them:
 * 20 `job submit --wait --json` started together while `job list`, `dash --once` and the
 * `job cancel` of a 21st job run beside them, all served by the one node the first of them
 * started in the background. Each job is done and paid once, the 21st cancelled, and after
 * `channel close` the chain says what the books say. Then a job submitted without `--wait`
 * is followed and paid by the node after its command has exited, and `job wait` reads it with
 * no passphrase; a node killed with SIGKILL is replaced by the next command, nothing paid
 * twice.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import {
  type AutoChannelNetwork,
  providerOnline,
  startAutoChannelNetwork,
} from "../../harness/auto_channel_network.ts";
import { runCli } from "../../harness/run_cli.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { nodeSocketPath } from "../../roles/requester/node_wire.ts";

/** Lines of NDJSON output, parsed. */
const ndjson = (text: string) =>
  text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));

/** `job submit echo` on alice's profile, json, with the passphrase flags and a bid above the price. */
function submitEcho(
  net: AutoChannelNetwork,
  text: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  return runCli([
    "--profile",
    "alice",
    "--output",
    "json",
    "job",
    "submit",
    "echo",
    "--input",
    `text:${text}`,
    "--bid",
    "100000",
    ...extra,
    ...net.secret,
  ], { env: { ...net.env, ...env } });
}

Deno.test("profile node: 20 jobs at once on one profile beside list, dash and cancel; paid once each; chain = books (anvil)", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "profile_node_", provider: true });
  await providerOnline(net.env);
  const submit = (text: string, ...extra: string[]) => submitEcho(net, text, extra);

  // A 21st job the provider cannot answer in time: one that will be cancelled. Posted first, so
  // it is the command that starts the node.
  const target = "0".repeat(64);
  const nobody = await submit("for nobody", "--provider", target);
  assertEquals(nobody.code, 1, nobody.stderr);
  assertEquals(ndjson(nobody.stdout)[0].code, "no-provider", "no such provider: refused");
  // A bid below every price is refused even with --force (providers drop it), with the price.
  const cheap = await submitEcho(net, "too cheap", ["--bid", "1", "--force"]);
  assertEquals(cheap.code, 1, cheap.stderr);
  const refusal = ndjson(cheap.stdout)[0];
  assertEquals([refusal.code, refusal.bid], ["bid-below-price", "1"]);
  assert(BigInt(refusal.price) > 1n, cheap.stdout);
  assert(!(await Deno.stat(nodeSocketPath(net.aliceState)).catch(() => false)), "nothing paid yet");

  // Addressed to a provider that is not there (--force posts it anyway): it stays in flight.
  const posted = await submit("to be cancelled", "--provider", target, "--force");
  assertEquals(posted.code, 0, posted.stderr);
  const cancelId = ndjson(posted.stdout)[0].id as string;
  assert(/^[0-9a-f]{64}$/.test(cancelId), posted.stdout);
  await Deno.stat(nodeSocketPath(net.aliceState)); // the node serves the profile now

  const plain = (...args: string[]) => runCli(["--profile", "alice", ...args], { env: net.env });
  const runs = Array.from({ length: 20 }, (_, i) => submit(`job ${i}`, "--wait"));
  const beside = [
    plain("--output", "json", "job", "list"),
    plain("dash", "--once"),
    net.alice("--output", "json", "job", "cancel", cancelId.slice(0, 12)),
  ];
  const results = await Promise.all(runs);
  const [list, dash, cancel] = await Promise.all(beside);
  assertEquals(list.code, 0, list.stderr);
  assert(ndjson(list.stdout).every((l) => l.type === "job"), list.stdout);
  assertEquals(dash.code, 0, dash.stderr);
  assertEquals(cancel.code, 0, cancel.stderr);
  const cancelled = JSON.parse(cancel.stdout);
  assertEquals([cancelled.type, cancelled.id, cancelled.status], ["job", cancelId, "cancelled"]);

  const ids = new Set<string>();
  for (const [i, run] of results.entries()) {
    assertEquals(run.code, 0, `job ${i}: ${run.stderr}`);
    const lines = ndjson(run.stdout);
    const result = lines[lines.length - 1];
    assertEquals(result.type, "result", run.stdout);
    assertEquals(result.status, "done");
    assertEquals(result.content, `job ${i}`);
    assertEquals(result.receipts.length, 1, "one invoice paid");
    // Its own progress lines only (a job's feedback can overtake its `sent`: not asserted).
    assert(lines.some((l) => l.type === "progress"), run.stdout);
    assert(lines.every((l) => l.job === result.job), run.stdout);
    ids.add(result.job);
  }
  assertEquals(ids.size, 20);

  // Each job's invoice paid once, no payment in doubt; nothing paid for the cancelled one.
  const payments = await openPaymentLog({ stateDir: net.aliceState });
  const jobPayments = payments.entries().filter((e) =>
    e.category === "job" && e.event === "fulfilled"
  );
  assertEquals(jobPayments.length, 20);
  assertEquals(new Set(jobPayments.map((e) => e.jobId)).size, 20);
  assert(!jobPayments.some((e) => e.jobId === cancelId));

  // One channel, one writer: closed cooperatively, the chain pays what the books say.
  const channels = await listChannels(net.aliceState);
  assertEquals(channels.length, 1, "every command paid over the one channel");
  const id = channels[0].channelId;
  const closed = await net.alice("channel", "close", id);
  assertEquals(closed.code, 0, closed.stderr);
  assertStringIncludes(closed.stdout, "cooperatively");
  const [after] = await listChannels(net.aliceState);
  assertEquals(after.status, "settled");
  const paid = (await openPaymentLog({ stateDir: net.aliceState })).entries()
    .filter((e) => e.event === "fulfilled" && e.direction === "out")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
  assertEquals(after.sent, paid, "the channel paid what the payment log says");
  assertEquals(await net.chainReader().tokenBalance(channels[0].selfAddress), 100_000_000n - paid);
});

Deno.test("profile node: a job submitted without --wait is paid after its command exits; job wait reads it with no passphrase; a killed node is replaced (anvil)", async () => {
  await using net = await startAutoChannelNetwork({
    prefix: "profile_node_nowait_",
    provider: true,
  });
  await providerOnline(net.env);
  const sent = await submitEcho(net, "followed by the node");
  assertEquals(sent.code, 0, sent.stderr);
  const [job] = ndjson(sent.stdout);
  // Posted; how far it got before this line was printed depends on the provider's speed.
  assertEquals(job.type, "job");
  assert(job.status !== "error" && job.status !== "pending-send", sent.stdout);

  // No passphrase, no node needed once the job has ended: wait reads its record.
  const plain = (...args: string[]) => runCli(["--profile", "alice", ...args], { env: net.env });
  let waited = await plain("--output", "json", "--non-interactive", "job", "wait", job.id);
  for (let i = 0; i < 300 && waited.code !== 0; i++) {
    // Still in flight: `job wait` attaches to the node (which needs no passphrase: it runs).
    await new Promise((r) => setTimeout(r, 100));
    waited = await plain("--output", "json", "--non-interactive", "job", "wait", job.id);
  }
  assertEquals(waited.code, 0, waited.stderr);
  const result = ndjson(waited.stdout).pop();
  assertEquals([result.status, result.content], ["done", "followed by the node"]);
  assertEquals(result.receipts.length, 1);

  const stopped = await plain("node", "stop");
  assertEquals(stopped.code, 0, stopped.stderr);
  assertStringIncludes(stopped.stdout, "node stopped");
  const again = await plain("--output", "json", "--non-interactive", "job", "wait", job.id);
  assertEquals(again.code, 0, `no node, no passphrase: ${again.stderr}`);
  assertEquals(ndjson(again.stdout).pop().status, "done");

  // SIGKILL the node with a job in flight: the next command brings it back, paid once.
  const second = await submitEcho(net, "survives a SIGKILL");
  assertEquals(second.code, 0, second.stderr);
  const secondId = ndjson(second.stdout)[0].id as string;
  const hello = JSON.parse(
    (await plain("--output", "json", "node", "status")).stdout || "{}",
  );
  const pid = hello.node?.pid as number | undefined;
  if (pid !== undefined) Deno.kill(pid, "SIGKILL");
  const resumed = await net.alice("--output", "json", "job", "wait", secondId);
  assertEquals(resumed.code, 0, resumed.stderr);
  const last = ndjson(resumed.stdout).pop();
  assertEquals([last.status, last.content], ["done", "survives a SIGKILL"]);
  const payments = (await openPaymentLog({ stateDir: net.aliceState })).entries()
    .filter((e) => e.category === "job" && e.event === "fulfilled");
  assertEquals(payments.filter((e) => e.jobId === job.id).length, 1);
  assertEquals(payments.filter((e) => e.jobId === secondId).length, 1);

  // A node with nothing in flight and no command connected stops by itself (idle 1 s here).
  assertEquals((await plain("node", "stop")).code, 0);
  const idle = await submitEcho(net, "then idle", ["--wait"], { TURNPIKE_NODE_IDLE_TIMEOUT: "1" });
  assertEquals(idle.code, 0, idle.stderr);
  let running = true;
  for (let i = 0; i < 300 && running; i++) {
    await new Promise((r) => setTimeout(r, 100));
    running = (await plain("node", "status")).stdout.startsWith("requester node running");
  }
  assert(!running, "the idle node stopped by itself");
  assertStringIncludes(
    await Deno.readTextFile(`${net.aliceState}/node.log`),
    "requester: stopping (idle)",
  );
});
