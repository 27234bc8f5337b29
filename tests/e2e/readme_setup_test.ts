/**
 * The README's setup as a newcomer and an agent run it, every command its own process on real
 * peers (`init` x3, `chain up --config` x3 with anvil, `town up`, `node up`, `job submit`):
 *
 * - `chain up` makes the town pay the provider on chain (`[town.payouts.addresses]` from the
 *   provider's wallet, `chain-ready`'s `payouts`); after the jobs the provider closes the payout
 *   channel and the chain pays it what its payment log says it earned (docs/OPERATIONS.md
 *   "Paying providers").
 * - The passphrase is checked on every paying command while the profile's node runs: a wrong
 *   passphrase file, or none, fails `passphrase` within seconds and nothing is posted or paid; a
 *   request on the node's socket without the proof is refused the same way (docs/AGENTS.md
 *   "The profile's node").
 * - Closing a channel as docs/AGENTS.md says: `channel close`, chain = books, and the next
 *   paying command opens a new channel and locks a new deposit.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { type CliProcess, spawnCli } from "../../harness/cli_process.ts";
import { type CliResult, runCli } from "../../harness/run_cli.ts";
import { freePort } from "../../harness/free_port.ts";
import { parseUnits } from "viem";
import { increaseTime } from "../../chain/anvil.ts";
import { resolveChainConfig } from "../../config/chain_config.ts";
import { TokenNetworkClient } from "../../chain/token_network_client.ts";
import { localEvmAccount } from "../../identity/local_evm_account.ts";
import { readWalletFile, walletFilePath } from "../../identity/wallet_file.ts";
import { listChannels } from "../../state/channels/channel_file.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { PAYOUT_CHANNEL_LABEL } from "../../roles/channels/payout_receiver.ts";
import { encodeNodeLine, nodeSocketPath, readNodeLines } from "../../roles/requester/node_wire.ts";

/** Every stdout line parsed as JSON (a line that is not JSON fails the test). */
const ndjson = (text: string): Record<string, unknown>[] =>
  text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));

/** A whole-token amount as `channel list` and `wallet balance` print it, in base units. */
const units = (amount: unknown): bigint => parseUnits(String(amount), 6);

/** The channel objects of `channel list|close --json`: one per line. */
function channelObjects(stdout: string): Record<string, unknown>[] {
  let lines: unknown[];
  try {
    lines = [JSON.parse(stdout)]; // one object, or an array of them
  } catch {
    lines = ndjson(stdout);
  }
  return lines.flatMap((l) => Array.isArray(l) ? l : [l] as Record<string, unknown>[])
    .filter((l) => l.type === undefined || l.type === "channel");
}

/** The wallet's token on the (one) chain, from `wallet balance --json` (base units). */
function walletToken(balance: { onChain: { token?: string }[] }): bigint {
  return BigInt(balance.onChain[0].token ?? "");
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hang guard: timed out waiting for ${what}`);
}

/** What alice's payment log says left her wallet (fulfilled payments out). */
async function alicePaid(stateDir: string): Promise<bigint> {
  return (await openPaymentLog({ stateDir })).entries()
    .filter((e) => e.event === "fulfilled" && e.direction === "out")
    .reduce((n, e) => n + BigInt(e.amount), 0n);
}

Deno.test("README setup: the town pays the provider on chain; the passphrase is checked while the node runs; close, chain = books, a new channel (anvil)", async (t) => {
  const home = await Deno.makeTempDir({ prefix: "readme_setup_" });
  const pass = `${home}/pass`;
  const wrong = `${home}/wrong-pass`;
  await Deno.writeTextFile(pass, "a long passphrase of your own\n", { mode: 0o600 });
  await Deno.writeTextFile(wrong, "not the passphrase\n", { mode: 0o600 });
  const env = { TURNPIKE_HOME: home };
  const secret = ["--passphrase-file", pass, "--non-interactive"];
  const [townPort, btpPort] = [freePort(), freePort()];
  const town = `ws://127.0.0.1:${townPort}`;
  const btp = `btp+ws://127.0.0.1:${btpPort}`;
  const cli = (...args: string[]) => runCli(args, { env });
  const alice = (...args: string[]) => cli("--profile", "alice", "--json", ...args);
  const processes: CliProcess[] = [];
  try {
    // The README's setup, with free ports.
    const inits: string[][] = [
      ["town", "--role", "town", "--town-port", String(townPort), "--btp-port", String(btpPort)],
      ["beta", "--role", "provider", "--town", town, "--btp-url", btp, "--btp-token", "beta-token"],
      [
        "alice",
        "--role",
        "requester",
        "--town",
        town,
        "--btp-url",
        btp,
        "--btp-token",
        "alice-token",
      ],
    ];
    inits[0].push("--peer", "beta:beta-token", "--peer", "alice:alice-token");
    for (const [profile, ...rest] of inits) {
      const init = await cli("--profile", profile, "init", ...rest, ...secret);
      assertEquals(init.code, 0, init.stderr);
    }
    const chain = spawnCli([
      "--json",
      "chain",
      "up",
      "--port",
      "0",
      "--config",
      `${home}/town`,
      "--config",
      `${home}/alice`,
      "--config",
      `${home}/beta`,
    ], { env });
    processes.push(chain);
    const ready = JSON.parse(await chain.waitForLine((l) => l.includes('"chain-ready"')));
    const beta = await readWalletFile(walletFilePath(`${home}/beta`));
    assertEquals(ready.payouts, [{
      config: `${home}/town/config.toml`,
      account: "beta",
      address: beta.evmAddress,
    }]);
    const townUp = spawnCli(["--profile", "town", "town", "up", ...secret], { env });
    processes.push(townUp);
    await townUp.waitForLine((l) => l.startsWith("  learns"));
    const node = spawnCli(["--profile", "beta", "node", "up", ...secret], { env });
    processes.push(node);
    await node.waitForLine((l) => l === "provider up");
    await until("beta online", async () => {
      const out = await alice("providers", "--kind", "echo");
      const listed = out.code === 0 ? JSON.parse(out.stdout).providers : [];
      return listed.some((p: { online: boolean }) => p.online) ? true : undefined;
    });
    const reader = new TokenNetworkClient({
      chain: resolveChainConfig("evm:base:31337", {
        section: { rpc_url: ready.rpcUrl, token_network: ready.tokenNetwork, token: ready.token },
      }),
      account: localEvmAccount(crypto.getRandomValues(new Uint8Array(32))),
    });
    const submit = (text: string, ...extra: string[]) =>
      alice("job", "submit", "echo", "--input", `text:${text}`, "--bid", "100000", ...extra);
    const done = (run: CliResult) => {
      assertEquals(run.code, 0, run.stderr + run.stdout);
      const lines = ndjson(run.stdout);
      const result = lines[lines.length - 1];
      assertEquals([result.type, result.status], ["result", "done"], run.stdout);
      return result;
    };

    await t.step(
      "a paying command without the passphrase fails `passphrase` while the node runs",
      async () => {
        done(await submit("first", "--wait", ...secret));
        assert((await Deno.stat(nodeSocketPath(`${home}/alice`))).isSocket, "the node runs");
        // A job in flight (addressed to nobody) for `job wait` and `job cancel` to name.
        const post = await submit("in flight", "--provider", "0".repeat(64), "--force", ...secret);
        assertEquals(post.code, 0, post.stderr);
        const id = String(ndjson(post.stdout)[0].id);
        const jobs = async () => ndjson((await alice("job", "list")).stdout).length;
        const before = { jobs: await jobs(), paid: await alicePaid(`${home}/alice`) };
        const job = ["job", "submit", "echo", "--input", "text:x", "--bid", "100000", "--wait"];
        const wrongFlags = ["--passphrase-file", wrong, "--non-interactive"];
        const cases: [string, string[]][] = [
          ["submit, wrong file", [...job, ...wrongFlags]],
          ["submit, none", [...job, "--non-interactive"]],
          ["job cancel, none", ["job", "cancel", id, "--non-interactive"]],
          ["dm send, wrong file", ["dm", "send", beta.npub, "--text", "hi", ...wrongFlags]],
        ];
        for (const [what, args] of cases) {
          const run = await alice(...args);
          assertEquals(run.code, 1, `${what}: ${run.stderr}`);
          const lines = ndjson(run.stdout);
          assertEquals(lines.length, 1, `${what}: ${run.stdout}`);
          assertEquals([lines[0].type, lines[0].code], ["error", "passphrase"], what);
        }
        // A process that skips the CLI and asks the node's socket without the proof.
        const conn = await Deno.connect({
          transport: "unix",
          path: nodeSocketPath(`${home}/alice`),
        });
        const writer = conn.writable.getWriter();
        await writer.write(new TextEncoder().encode(encodeNodeLine({ op: "cancel", id })));
        const answer: Record<string, unknown>[] = [];
        for await (const line of readNodeLines(conn.readable)) answer.push(line);
        try {
          conn.close();
        } catch {
          // closed by the node
        }
        assertEquals(answer.length, 1, JSON.stringify(answer));
        assertEquals((answer[0].error as Record<string, unknown>).code, "passphrase");
        assertEquals(await jobs(), before.jobs, "nothing posted");
        assertEquals(await alicePaid(`${home}/alice`), before.paid, "nothing paid");
        const status = JSON.parse((await alice("job", "status", id)).stdout);
        assert(status.status !== "cancelled", "the job was not cancelled");
        // With the passphrase, the same node serves it.
        const cancel = await alice("job", "cancel", id, ...secret);
        assertEquals(cancel.code, 0, cancel.stderr);
        done(await submit("second", "--wait", ...secret));
      },
    );

    await t.step(
      "the README's town pays beta on chain what beta earned less what it spent",
      async () => {
        // Beta has no channel: its writes are paid on the town's credit, netted out of payouts.
        let [earned, spent] = [0n, 0n];
        let row: Record<string, string> = {};
        const kept = await until("beta keeps the town's newest claim", async () => {
          const payments = (await openPaymentLog({ stateDir: `${home}/beta` })).entries()
            .filter((e) => e.event === "fulfilled");
          const sum = (f: (e: (typeof payments)[number]) => boolean) =>
            payments.filter(f).reduce((n, e) => n + BigInt(e.amount), 0n);
          earned = sum((e) => e.direction === "in" && e.category === "job");
          spent = sum((e) => e.direction === "out" && e.category !== "job");
          const r = (await listChannels(`${home}/beta`))
            .find((c) => c.peerLabel === PAYOUT_CHANNEL_LABEL);
          const balances = await cli("--profile", "town", "--json", "town", "balances");
          assertEquals(balances.code, 0, balances.stderr);
          row = JSON.parse(balances.stdout).peers.find((p: { account: string }) =>
            p.account === "beta"
          );
          const agreed = row.owed === String(earned) && row.spent === String(spent);
          return agreed && r !== undefined && String(r.received) === row.claimed ? r : undefined;
        });
        assert(earned > 0n, "beta earned");
        const claimed = BigInt(row.claimed);
        assert(claimed > 0n && claimed + spent <= earned + 1_000_000n, JSON.stringify(row));
        const before = await reader.tokenBalance(beta.evmAddress as `0x${string}`);
        const close = await cli("--profile", "beta", "channel", "close", kept.channelId, ...secret);
        assertEquals(close.code, 0, close.stderr);
        // The town never co-signs its own payout channel's close: closed with its claim, no Error.
        assert(!close.stderr.includes("Error:"), close.stderr);
        assertStringIncludes(close.stdout, `Closed ${kept.channelId} (unilateral)`);
        let [record] = (await listChannels(`${home}/beta`)).filter((c) =>
          c.channelId === kept.channelId
        );
        if (record.status !== "settled") {
          // Closed alone with the town's newest claim: settled after the settle timeout.
          await increaseTime(ready.rpcUrl, Number(kept.settleTimeout) + 1);
          const settle = await cli(
            "--profile",
            "beta",
            "channel",
            "close",
            kept.channelId,
            ...secret,
          );
          assertEquals(settle.code, 0, settle.stderr);
          [record] = (await listChannels(`${home}/beta`)).filter((c) =>
            c.channelId === kept.channelId
          );
        }
        assertEquals(record.status, "settled", close.stderr);
        const after = await reader.tokenBalance(beta.evmAddress as `0x${string}`);
        assertEquals(after - before, claimed, "chain = books for the provider");
        const wallet = await cli("--profile", "beta", "--json", "wallet", "balance");
        assertEquals(wallet.code, 0, wallet.stderr);
        const { payouts } = JSON.parse(wallet.stdout);
        assertEquals([payouts.earned, payouts.claimed, payouts.settled], [
          String(earned),
          String(claimed),
          String(claimed),
        ]);
      },
    );

    await t.step(
      "channel close, chain = books, and the next paying command opens a new channel",
      async () => {
        const list = await alice("channel", "list");
        assertEquals(list.code, 0, list.stderr);
        const [open] = channelObjects(list.stdout);
        assertEquals(open.status, "open", list.stdout);
        // Open, the channel's `sent` is the books' already (docs/AGENTS.md "A channel's figures").
        assertEquals(units(open.sent), await alicePaid(`${home}/alice`), list.stdout);
        const deposit = units(open.deposit);
        // Stopped first: a node `channel close` restarts would open the next channel at once.
        const stop = await cli("--profile", "alice", "node", "stop");
        assertEquals(stop.code, 0, stop.stderr);
        const close = await alice("channel", "close", String(open.channelId), ...secret);
        assertEquals(close.code, 0, close.stderr);
        assertStringIncludes(close.stderr, "cooperatively");
        const [closed] = channelObjects(close.stdout);
        assertEquals(closed.status, "settled", close.stdout);
        // chain = books: the wallet holds what it was funded with less what the payment log paid.
        const paid = await alicePaid(`${home}/alice`);
        const balance = await alice("wallet", "balance");
        assertEquals(balance.code, 0, balance.stderr);
        const chainToken = walletToken(JSON.parse(balance.stdout));
        assertEquals(chainToken, 100_000_000n - paid, balance.stdout);
        assertEquals(units(closed.sent), paid, "the channel paid what the payment log says");
        const none = channelObjects((await alice("channel", "list")).stdout);
        assert(!none.some((c) => c.status === "open"), "no channel open until the next payment");
        // The next paying command opens a new channel and locks a new deposit.
        const next = await submit("after the close", "--wait", ...secret);
        done(next);
        assertStringIncludes(next.stderr, "channel: opened");
        const again = channelObjects((await alice("channel", "list")).stdout);
        const fresh = again.find((c) => c.status === "open");
        assert(fresh && fresh.channelId !== open.channelId, JSON.stringify(again));
        assertEquals(units(fresh.deposit), deposit);
        const after = walletToken(JSON.parse((await alice("wallet", "balance")).stdout));
        assertEquals(after, chainToken - deposit, "the new deposit is locked on chain");
      },
    );
  } finally {
    await cli("--profile", "alice", "node", "stop");
    for (const p of processes.reverse()) {
      try {
        p.child.kill("SIGINT");
      } catch {
        // exited already
      }
      await p.done;
    }
    await Deno.remove(home, { recursive: true });
  }
});
