/**
 * A payer never loses a job to its own top-up's timing (docs/OPERATIONS.md "A payment past the
 * deposit"), end to end with real processes on anvil: alice's profile runs its channel by itself
 * (harness/auto_channel_network.ts) and pays a provider, beta, with the built-in echo skill.
 * Anvil's automatic mining is turned off while jobs run side by side, so the top-up that
 * `topup_below` starts stays unmined: a claim that crosses the deposit meanwhile waits for it
 * (the node says so, `alert: topup-wait`); once a block is mined every job is done, one top-up
 * for the crossing, and after a cooperative close the books equal the chain. With the daily cap
 * spent, a claim past the deposit still fails, naming the cap.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { readChannelLog } from "../../state/channels/channel_log.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

/** One JSON-RPC call to anvil. */
async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

Deno.test("top-up wait: jobs side by side cross the deposit while the top-up is unmined, all done, one top-up, books = chain (anvil)", async () => {
  // An echo job costs about 0.029 M2M (0.0249 to beta, the rest the town's writes). After the
  // first, 0.07 of 0.1 is left; the next four need about 0.117: their claims go below
  // topup_below (0.06) first, which starts a top-up of 0.2, then past the deposit. The daily cap
  // allows that one top-up only.
  await using net = await startAutoChannelNetwork({
    prefix: "channel_topup_wait_",
    provider: true,
    channels: {
      deposit: "0.1",
      topup_below: "0.06",
      topup_amount: "0.2",
      topup_daily_cap: "0.2",
    },
  });
  await providerOnline(net.env);
  const submit = (text: string) =>
    net.alice("job", "submit", "echo", "--input", `text:${text}`, "--bid", "50000", "--wait");
  const first = await submit("the first job opens the channel");
  assertEquals(first.code, 0, first.stderr);
  const [opened] = await listChannels(net.aliceState);
  const id = opened.channelId;
  assert(opened.deposit - opened.sent >= 60_000n, `${opened.sent} of ${opened.deposit} sent`);
  const nodeLog = () => Deno.readTextFile(`${net.aliceState}/node.log`);

  // No block is mined from now on until a payment waits for the top-up.
  await rpc(net.chain.rpcUrl, "evm_setAutomine", [false]);
  const jobs = [1, 2, 3, 4].map((i) => submit(`job ${i} of four side by side`));
  for (let i = 0; i < 1200 && !(await nodeLog()).includes("alert: topup-wait:"); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const waiting = await nodeLog();
  assertStringIncludes(waiting, "alert: low-balance: channel");
  assertStringIncludes(waiting, "waits for the top-up under way");
  const pending = (await rpc(net.chain.rpcUrl, "txpool_status")) as { pending: string };
  assertEquals(Number(pending.pending), 1, "the top-up's transaction, not mined");
  await rpc(net.chain.rpcUrl, "evm_setAutomine", [true]);
  await rpc(net.chain.rpcUrl, "evm_mine");

  for (const done of await Promise.all(jobs)) {
    assertEquals(done.code, 0, done.stderr);
    assert(!done.stdout.includes("would exceed the deposit"), done.stdout);
  }
  let log = (await readChannelLog(net.aliceState)).filter((e) => e.channelId === id);
  assertEquals(
    log.filter((e) => e.action === "topup").map((e) => [e.amount, e.auto]),
    [["200000", true]],
    "one top-up for the crossing",
  );
  const [toppedUp] = await listChannels(net.aliceState);
  assert(toppedUp.sent > 100_000n, `the jobs paid past the first deposit: ${toppedUp.sent}`);
  const reader = net.chainReader();
  const self = opened.selfAddress.toLowerCase();
  assertEquals((await reader.getChannel(id)).participants[self].deposit, 300_000n);

  // The daily cap is spent: jobs go on until one's claim would pass the deposit, refused with
  // the reason.
  let refused: string | undefined;
  for (let i = 0; i < 12 && refused === undefined; i++) {
    const next = await submit(`job ${i} after the top-up`);
    if (next.code !== 0) refused = next.stdout + next.stderr;
  }
  assert(refused !== undefined, "the channel ran dry within 12 jobs");
  assertStringIncludes(refused, "would exceed the deposit 300000, and no top-up covers it:");
  assertStringIncludes(refused, "the daily cap of 0.2 M2M is reached");
  log = (await readChannelLog(net.aliceState)).filter((e) => e.channelId === id);
  assertEquals(log.filter((e) => e.action === "topup").length, 1, "no top-up past the cap");

  // Books = chain after a cooperative close.
  const closed = await net.alice("channel", "close", id);
  assertEquals(closed.code, 0, closed.stderr);
  assertStringIncludes(closed.stdout, "cooperatively");
  const payments = await openPaymentLog({ stateDir: net.aliceState });
  const paid = payments.entries()
    .filter((e) => e.event === "fulfilled" && e.direction === "out")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
  const after = (await listChannels(net.aliceState)).find((c) => c.channelId === id)!;
  assertEquals(after.status, "settled");
  assertEquals(after.sent, paid, "the channel paid what the payment log says");
  assertEquals(log.reduce((n, e) => n + BigInt(e.amount), 0n), 300_000n, "the log's deposits");
  assertEquals((await reader.getChannel(id)).state, "none");
  // The node, started again after the close (it follows jobs), may have opened a new channel.
  const reopened = (await listChannels(net.aliceState)).filter((c) => c.status === "open");
  const newDeposits = reopened.reduce((n, c) => n + c.deposit, 0n);
  assertEquals(
    await reader.tokenBalance(opened.selfAddress),
    100_000_000n - paid - newDeposits,
  );
});
