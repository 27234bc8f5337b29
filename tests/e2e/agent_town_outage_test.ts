/**
 * What an agent following docs/AGENTS.md meets when the town goes away and comes back, and what
 * it reads on stdout, driven as an agent drives the CLI: every command its own process, stdout
 * parsed as NDJSON line by line (each line one object with a `type`), exit codes checked. On real
 * peers: `chain up`, `town up`, a provider's `node up` with the built-in echo skill, and alice's
 * profile with an automatic payment channel (harness/auto_channel_network.ts).
 *
 * - a `--max-per-job` below the provider's price is refused `bid-below-price` before anything
 *   is paid: no node, no channel, no job;
 * - `job list`, `job cancel`, `channel list` print one typed object per line;
 * - `job wait` prints `waiting` lines naming what the job waits for: the provider, then the town
 *   while it is stopped, then the provider again once it is back;
 * - `job submit` while the town is stopped fails `town-unreachable` in seconds, with the
 *   profile's node running and without it, and posts nothing; once the town is back a job is
 *   done;
 * - a town whose relay answers but whose BTP link went away under the running node (a proxy cut):
 *   `job submit` fails `town-unreachable` in seconds naming the job, which is on record `error`.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { spawnCli } from "../../harness/cli_process.ts";
import { runCli } from "../../harness/run_cli.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { editConfigFile, setTableKeys } from "../../config/config_file.ts";

/** Every stdout line parsed; each must be one JSON object with a string `type`. */
function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((l) => l !== "").map((line) => {
    const parsed = JSON.parse(line);
    assert(
      typeof parsed === "object" && parsed !== null && !Array.isArray(parsed),
      `not one object: ${line}`,
    );
    assertEquals(typeof parsed.type, "string", `no type: ${line}`);
    return parsed as Record<string, unknown>;
  });
}

/**
 * Tells the refusal from the waits it replaces: the node's start wait (120 s) or the job's own
 * timeout. Quiet, the refusals came in 0.4-4.1 s with a 3 s wait for the link (now 7 s, longer than
 * the link's 5 s reconnect backoff: roles/requester/town_down.ts);
 * a loaded machine stretches a command's start and that wait, so the bound is generous.
 */
const UNREACHABLE_WITHIN_MS = 30_000;

Deno.test("agent: caps before paying, one typed line each, waiting lines, town-unreachable in seconds through a town restart (anvil)", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "agent_town_outage_", provider: true });
  await providerOnline(net.env, "echo");
  // The passphrase flags go to the commands that pay (`job submit|wait|cancel`), as SKILL.md says.
  const alice = async (...args: string[]) => {
    const pays = args[0] === "job" && ["submit", "wait", "cancel"].includes(args[1]);
    const started = performance.now();
    const out = await runCli(
      ["--profile", "alice", "--json", ...args, ...(pays ? net.secret : [])],
      {
        env: net.env,
      },
    );
    return { ...out, lines: ndjson(out.stdout), ms: performance.now() - started };
  };
  const listing = await alice("providers", "--kind", "echo");
  const providers = listing.lines[0].providers as { skills: { price: string }[] }[];
  const price = BigInt(providers[0].skills[0].price);

  // A spend cap below the price: refused before anything is paid (no node, no channel, no job).
  const capped = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:capped",
    "--bid",
    String(price * 10n),
    "--max-per-job",
    String(price - 1n),
  );
  assertEquals(capped.code, 1, capped.stderr);
  assertEquals(capped.lines.length, 1, capped.stdout);
  assertEquals(capped.lines[0].type, "error");
  assertEquals(capped.lines[0].code, "bid-below-price");
  assertEquals(capped.lines[0].maxPerJob, String(price - 1n));
  assertEquals(capped.lines[0].price, String(price));
  assertEquals((await alice("job", "list")).lines, [], "no job recorded");
  assertEquals((await alice("channel", "list")).lines, [], "no channel opened");

  // A paid job, then the lists: one typed object per line.
  const done = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:hi",
    "--bid",
    "100000",
    "--wait",
  );
  assertEquals(done.code, 0, done.stderr);
  assertEquals(done.lines.at(-1)?.type, "result");
  assertEquals(done.lines.at(-1)?.status, "done");
  const channels = await alice("channel", "list");
  assertEquals(channels.code, 0, channels.stderr);
  assertEquals(channels.lines.map((l) => l.type), ["channel"]);
  assertEquals(channels.lines[0].status, "open");

  // A job nobody serves (--force), followed by `job wait` in its own process.
  const nobody = "ab".repeat(32);
  const posted = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:for nobody",
    "--bid",
    "100000",
    "--provider",
    nobody,
    "--force",
  );
  assertEquals(posted.code, 0, posted.stderr);
  const job = String(posted.lines[0].id);
  const listed = await alice("job", "list");
  assertEquals(listed.lines.map((l) => l.type), ["job", "job"]);
  assertEquals(listed.lines[0].id, job, "newest first");
  const waiter = spawnCli(["--profile", "alice", "--json", "job", "wait", job, ...net.secret], {
    env: net.env,
  });
  const waitingFor = async (what: string) =>
    JSON.parse(
      await waiter.waitForLine((l) => {
        const line = JSON.parse(l);
        return line.type === "waiting" && line.job === job && line.for === what;
      }),
    );
  const first = await waitingFor("provider");
  assertEquals(first.status, "sent");

  // The town stops: the wait says so; a submit fails town-unreachable at once, nothing posted.
  await net.stopTown();
  await waitingFor("town");
  const down = await alice("job", "submit", "echo", "--input", "text:down", "--bid", "100000");
  assertEquals(down.code, 1, down.stderr);
  assertEquals(down.lines.map((l) => l.code), ["town-unreachable"]);
  assert(down.ms < UNREACHABLE_WITHIN_MS, `town-unreachable after ${down.ms} ms (node running)`);
  const downWait = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:down",
    "--bid",
    "100000",
    "--wait",
  );
  assertEquals(downWait.lines.map((l) => l.code), ["town-unreachable"]);
  assert(downWait.ms < UNREACHABLE_WITHIN_MS, `after ${downWait.ms} ms (--wait)`);
  console.log(`town-unreachable with the node running: ${Math.round(down.ms)} ms`);

  // Back: the wait sees the provider awaited again, a cancel ends it, a new job is done.
  await net.restartTown();
  await waitingFor("provider");
  const cancelled = await alice("job", "cancel", job);
  assertEquals(cancelled.code, 0, cancelled.stderr);
  assertEquals(cancelled.lines.map((l) => [l.type, l.status]), [["job", "cancelled"]]);
  assertEquals((await waiter.done).code, 1);
  const waited = ndjson(waiter.stdout());
  assertEquals(waited.at(-1)?.type, "result");
  assertEquals(waited.at(-1)?.status, "cancelled");
  const again = await alice(
    "job",
    "submit",
    "echo",
    "--input",
    "text:back",
    "--bid",
    "100000",
    "--wait",
  );
  assertEquals(again.code, 0, again.stderr);
  assertEquals(again.lines.at(-1)?.status, "done");
  console.log(`after the restart, a job done in ${Math.round(again.ms)} ms`);
  assertEquals((await alice("job", "list")).lines.length, 3, "the refused submits posted nothing");

  // No node: the same code, as fast.
  assertEquals((await runCli(["--profile", "alice", "node", "stop"], { env: net.env })).code, 0);
  await net.stopTown();
  const cold = await alice("job", "submit", "echo", "--input", "text:cold", "--bid", "100000");
  assertEquals(cold.lines.map((l) => l.code), ["town-unreachable"]);
  assert(cold.ms < UNREACHABLE_WITHIN_MS, `town-unreachable after ${cold.ms} ms (no node)`);
  console.log(`town-unreachable with no node: ${Math.round(cold.ms)} ms`);
});

Deno.test("agent: the town's BTP gone under the running node: town-unreachable in seconds, the job on record error (anvil)", async () => {
  await using net = await startAutoChannelNetwork({ prefix: "agent_btp_gone_", provider: true });
  // Alice reaches the town's BTP port through a proxy the test can cut; its relay stays up.
  const config = `${net.aliceState}/config.toml`;
  const btpPort = Number(
    (await Deno.readTextFile(config)).match(/btp\+ws:\/\/127\.0\.0\.1:(\d+)/)![1],
  );
  await using proxy = startTcpProxy(btpPort);
  await editConfigFile(
    config,
    (text) => setTableKeys(text, [], { connector_btp_url: `btp+ws://127.0.0.1:${proxy.port}` }),
  );
  await providerOnline(net.env, "echo");
  const submit = async (text: string) => {
    const started = performance.now();
    const out = await runCli([
      "--profile",
      "alice",
      "--json",
      "job",
      "submit",
      "echo",
      "--input",
      `text:${text}`,
      "--bid",
      "100000",
      "--wait",
      ...net.secret,
    ], { env: net.env });
    return { ...out, lines: ndjson(out.stdout), ms: performance.now() - started };
  };
  const done = await submit("through the proxy");
  assertEquals(done.code, 0, done.stderr);

  await proxy.cut();
  const gone = await submit("btp gone");
  assertEquals(gone.code, 1, gone.stderr);
  // The node waited a moment for the link, then ended the job: its last line says so.
  const error = gone.lines.at(-1)!;
  assertEquals([error.type, error.code, error.status], ["error", "town-unreachable", "error"]);
  assert(gone.ms < UNREACHABLE_WITHIN_MS, `town-unreachable after ${gone.ms} ms`);
  console.log(`town-unreachable with the BTP link gone under the node: ${Math.round(gone.ms)} ms`);
  const status = await runCli(
    ["--profile", "alice", "--json", "job", "status", String(error.job)],
    {
      env: net.env,
    },
  );
  const record = ndjson(status.stdout)[0];
  assertEquals([record.type, record.id, record.status], ["job", error.job, "error"]);
  assertEquals(record.payments, []);
});
