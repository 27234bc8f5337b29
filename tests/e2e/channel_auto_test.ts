/**
 * Settlement that runs itself, end to end on anvil with the real contracts and real processes:
 * a fresh requester (`init`, `chain up --config` sets `[channels] auto = true`) submits jobs with
 * no `--channel`. The first opens one channel with the town (chain from its kind 10032, the
 * configured deposit) and says so; every later run uses it; when what is left falls below
 * `topup_below` the deposit is raised on chain, within `topup_daily_cap` (then a `topup-failed`
 * alert). A webhook (a local HTTP server) receives the low-balance alert as JSON. After a
 * cooperative close the books agree with the chain: the channel log's deposits are the
 * on-chain deposit, the payment log's fulfilled town writes are what the channel paid, and the
 * wallet holds what it started with minus that.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { readChannelLog } from "../../state/channels/channel_log.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";

Deno.test("auto channel: opened on the first paid write, reused, topped up within the daily cap, books = chain (anvil)", async () => {
  const alerts: Record<string, unknown>[] = [];
  const hook = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    alerts.push(await req.json());
    return new Response("ok");
  });
  try {
    // Each echo request costs about 0.0043 M2M at the default 10 units per byte: a 0.01 M2M
    // channel runs low (below 0.006) on the first write; top-ups of 0.01 are capped at 0.02 a day.
    await using net = await startAutoChannelNetwork({
      prefix: "channel_auto_",
      channels: {
        deposit: "0.01",
        topup_below: "0.006",
        topup_amount: "0.01",
        topup_daily_cap: "0.02",
      },
      tables: { alerts: { webhook: `http://127.0.0.1:${hook.addr.port}/alerts` } },
    });
    const submit = (text: string) =>
      // --force: no provider here, only the town's writes are paid.
      net.alice("job", "submit", "echo", "--input", `text:${text}`, "--bid", "50000", "--force");

    const first = await submit("first job, no channel yet");
    assertEquals(first.code, 0, first.stderr);
    assertStringIncludes(first.stderr, "channel: opened 0x");
    assertStringIncludes(first.stderr, "deposit 0.01 M2M in ");
    assertStringIncludes(first.stderr, " ms (automatic: [channels] auto");
    let channels = await listChannels(net.aliceState);
    assertEquals(channels.length, 1);
    const id = channels[0].channelId;
    // The profile's node pays and raises the alerts; its log keeps them (commands connected at
    // the time see them too).
    const nodeLog = () => Deno.readTextFile(`${net.aliceState}/node.log`);
    assertStringIncludes(await nodeLog(), "alert: low-balance: channel");
    // The top-up runs beside the write (a transaction, then its alert): the submit can return
    // first, so its line is waited for.
    for (let i = 0; i < 400 && !(await nodeLog()).includes("alert: topup: channel"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertStringIncludes(await nodeLog(), "alert: topup: channel");

    // Six writes of ~0.0043 M2M fit in 0.03: the sixth finds the daily cap reached.
    for (let i = 0; i < 5; i++) {
      const next = await submit(`job ${i} on the same channel`);
      assertEquals(next.code, 0, next.stderr);
      assert(!next.stderr.includes("channel: opened"), "no second channel");
    }
    // The cap is reached: the operator tops up by hand, and the next run pays on.
    const manual = await net.alice("channel", "topup", id, "--amount", "0.01");
    assertEquals(manual.code, 0, manual.stderr);
    assertStringIncludes(manual.stdout, `Topped up ${id} by 0.01 M2M to 0.04 M2M`);
    const more = await submit("after a manual top-up");
    assertEquals(more.code, 0, more.stderr);
    channels = await listChannels(net.aliceState);
    assertEquals(channels.map((c) => c.channelId), [id], "one channel, used by every run");
    const log = (await readChannelLog(net.aliceState)).filter((e) => e.channelId === id);
    assertEquals(log[0].action, "open");
    assertEquals(log[0].amount, "10000");
    const topUps = log.filter((e) => e.action === "topup");
    assertEquals(topUps.map((e) => [e.amount, e.auto]), [
      ["10000", true],
      ["10000", true],
      ["10000", false],
    ], "automatic ones capped at 0.02 M2M a day");
    const deposited = log.reduce((n, e) => n + BigInt(e.amount), 0n);
    assertEquals(channels[0].deposit, deposited);

    // The chain has the same deposit; the cap stopped the third top-up, with an alert.
    const reader = net.chainReader();
    const onChain = await reader.getChannel(id);
    const self = channels[0].selfAddress.toLowerCase();
    assertEquals(onChain.participants[self].deposit, deposited);
    const history = new TextDecoder().decode(
      (await new Deno.Command("git", { args: ["-C", net.aliceState, "log", "--format=%B"] })
        .output()).stdout,
    );
    assertStringIncludes(history, `turnpike: payment channel ${id} opened`);
    assertStringIncludes(history, "Auto: yes");
    assertStringIncludes(history, `turnpike: payment channel ${id} topped-up`);
    assertStringIncludes(history, `turnpike: topup channel-funds ${id}`);

    // The webhook got the alerts as JSON (low balance first).
    const kinds = alerts.map((a) => a.kind);
    assert(kinds.includes("low-balance"), JSON.stringify(kinds));
    assert(kinds.includes("topup-failed"), `${JSON.stringify(kinds)} sent ${channels[0].sent}`);
    const low = alerts.find((a) => a.kind === "low-balance")!;
    assertEquals((low.details as Record<string, string>).channelId, id);
    assertStringIncludes(String(low.message), "left (below 0.006 M2M)");

    // A town asking more per byte than the ceiling is refused before anything is paid.
    const dear = await net.alice(
      "job",
      "submit",
      "echo",
      "--input",
      "text:too dear",
      "--force",
      "--price-ceiling",
      "5",
    );
    assertEquals(dear.code, 1, dear.stderr);
    assertStringIncludes(
      dear.stderr,
      "Error: the town's price per byte (10) is above the ceiling (5)",
    );
    assertStringIncludes(dear.stderr, "Suggestion: pass --accept-price to pay it");
    const accepted = await net.alice(
      "job",
      "submit",
      "echo",
      "--input",
      "text:dear but accepted",
      "--force",
      "--price-ceiling",
      "5",
      "--accept-price",
    );
    assertEquals(accepted.code, 0, accepted.stderr);
    assertStringIncludes(accepted.stderr, "paying it (--accept-price)");
    assert(alerts.some((a) => a.kind === "price-above-ceiling"), "the webhook heard of it too");

    // Books = chain after a cooperative close.
    const closed = await net.alice("channel", "close", id);
    assertEquals(closed.code, 0, closed.stderr);
    assertStringIncludes(closed.stdout, "cooperatively");
    const payments = await openPaymentLog({ stateDir: net.aliceState });
    const paid = payments.entries()
      .filter((e) => e.event === "fulfilled" && e.direction === "out")
      .reduce((n, e) => n + BigInt(e.amount), 0n);
    const [after] = await listChannels(net.aliceState);
    assertEquals(after.status, "settled");
    assertEquals(after.sent, paid, "the channel paid what the payment log says");
    assertEquals((await reader.getChannel(id)).state, "none");
    // The node, stopped for the close and started again (it follows jobs), opened a new channel
    // at once ([channels] auto): its deposit left the wallet too.
    const reopened = (await listChannels(net.aliceState)).filter((c) => c.status === "open");
    const newDeposits = reopened.reduce((n, c) => n + c.deposit, 0n);
    assertEquals(
      await reader.tokenBalance(channels[0].selfAddress),
      100_000_000n - paid - newDeposits,
    );

    // The channel is settled: the node (stopped for the close, started again after it since it
    // follows jobs) opens a new one by itself; the command that started it says so.
    const again = await submit("after the close");
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(closed.stderr + again.stderr, "channel: opened 0x");
    const open = (await listChannels(net.aliceState)).filter((c) => c.status === "open");
    assertEquals(open.length, 1);
    assert(open[0].channelId !== id, "a new channel");
    // Today's top-ups are spent: the new 0.01 M2M channel runs dry, and says what to do.
    assertEquals((await submit("second on the new channel")).code, 0);
    const dry = await submit("one too many");
    assertEquals(dry.code, 1, dry.stderr);
    assertStringIncludes(dry.stderr, "Error: the payment channel's deposit is used up");
    assertStringIncludes(dry.stderr, "Suggestion: top it up (`turnpike channel topup <id>");
  } finally {
    await hook.shutdown();
  }
});
