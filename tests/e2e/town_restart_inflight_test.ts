/**
 * Jobs in flight while their town is stopped and started again (docs/OPERATIONS.md "Stopping a
 * town"), on real processes: `chain up`, `town up` (stopped with SIGINT, started again on its
 * ports), a provider's `node up` paid out on chain, alice's profile node paying over an automatic
 * channel. Five jobs are posted at once (one with a file input: a blob the provider fetches) and
 * the town is stopped at once. Each job must end once, followed to `done`, or `error` with no
 * money moved; none may wait out its timeout (before: a provider's invoice written while the town
 * stopped was lost and the job expired unpaid) and none may end with its payment cut off (before:
 * "payment failed: connection ... lost", the town closed the socket the answer was due on). No
 * job is paid twice.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import { providerOnline, startAutoChannelNetwork } from "../../harness/auto_channel_network.ts";
import { agentCli } from "../../harness/agent_cli.ts";

Deno.test("town restart: jobs in flight end once, none timed out, no payment cut off, none paid twice (anvil)", async () => {
  await using net = await startAutoChannelNetwork({
    prefix: "town_restart_inflight_",
    provider: true,
    payProvider: { threshold: 1, deposit: 5_000_000 },
  });
  await providerOnline(net.env);
  const alice = agentCli({ profile: "alice", env: net.env, secret: net.secret });
  const file = `${net.home}/notes.txt`;
  await Deno.writeTextFile(file, "a line of notes\n".repeat(2048));
  const posts = await Promise.all([0, 1, 2, 3, 4].map((i) =>
    alice(
      "job",
      "submit",
      "echo",
      "--input",
      `text:job ${i}`,
      ...(i === 0 ? ["--file", file] : []),
      "--bid",
      "100000",
      "--timeout",
      "90",
    )
  ));
  const ids = posts.map((p) => {
    assertEquals(p.code, 0, p.stderr);
    return String(p.lines[0].id);
  });
  await net.stopTown();
  await net.restartTown();
  const ends: string[] = [];
  for (const id of ids) {
    const waited = await alice("job", "wait", id);
    const result = waited.lines.at(-1)!;
    assertEquals(result.type, "result", waited.stdout);
    const status = String(result.status);
    const error = String(result.error ?? "");
    ends.push(`${status} ${error}`.trim());
    if (status !== "done" && status !== "error") {
      // How far it got (paid? processing? a result?): alice's node log, and the provider's.
      const log = await Deno.readTextFile(`${net.aliceState}/node.log`).catch(() => "");
      const mine = (lines: string[]) => lines.filter((l) => l.includes(id.slice(0, 20)));
      throw new Error(
        `${id.slice(0, 12)}: ${status} ${error}\nalice:\n${
          mine(log.split("\n")).join("\n")
        }\nprovider (its lines of this job and of its relay feed):\n${
          (net.provider?.stderr ?? []).filter((l) =>
            l.includes(id.slice(0, 20)) || l.startsWith("relay ")
          )
            .join("\n")
        }`,
      );
    }
    assert(!/connection .* lost/.test(error), `a payment cut off by the stop: ${error}`);
    if (status === "error") {
      const costs = result.costs as { provider: string }[];
      assertEquals(costs[0].provider, "0", `an error after paying the provider: ${error}`);
    }
  }
  // One provider invoice paid per job at most.
  const history = await alice("wallet", "history");
  const invoices = history.lines.filter((l) =>
    l.type === "payment" && l.category === "job" && l.state === "paid"
  );
  const perJob = new Map<string, number>();
  for (const p of invoices) perJob.set(String(p.jobId), (perJob.get(String(p.jobId)) ?? 0) + 1);
  assert([...perJob.values()].every((n) => n === 1), JSON.stringify([...perJob]));
  assertEquals(perJob.size, ends.filter((e) => e === "done").length, ends.join("; "));
});
