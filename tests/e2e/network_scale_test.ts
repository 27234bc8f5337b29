/**
 * The scale harness's small run (docs/SCALE.md): 30 agents on 3 towns joined by the reference
 * connector (town 0 two processes on one PostgreSQL store), a fifth of the pairs across towns,
 * the providers in 3 host processes and the requesters in 2, every requester paying over its own
 * payment channel on anvil, under chaos (town processes, requester and provider hosts SIGKILLed
 * and started again on their state; PostgreSQL restarted when the run reaches that round) lose no
 * job, pay none twice and run none twice, counted from the requesters' records on disk; every job
 * offered ends, done or failed with a reason; every channel is settled at the end and the chain
 * equals both sides' books. The towns pay their providers over payout channels (during the run
 * past the threshold, the rest at the end); every payout channel is settled, and each provider's
 * payout equals what its town's books say it forwarded (town 0: both processes' books, paid over
 * one channel from the shared store) and what the provider's payment log says it earned. Each
 * requester host runs its own adaptive job bound, and the report carries each one's over time.
 */
import { assert, assertEquals } from "../../harness/assert.ts";
import type { PayeeFigures } from "../../bench/scale_payouts.ts";

const script = new URL("../../bench/network_scale_bench_script.ts", import.meta.url).pathname;
/** A hang guard, not a time limit: the run itself takes about 60-100 s on a loaded machine. */
const HANG_GUARD_MS = 400_000;

interface ScaleReport {
  jobs: {
    offered: number;
    done: number;
    failed: number;
    lost: number;
    paidTwice: number;
    ranTwice: number;
    failedReasons: Record<string, number>;
  };
  load: {
    drained: boolean;
    crossPairs: number;
    providerHosts: number;
    connector: boolean;
    postgresTownProcesses: number;
    requesterHostBounds?: { host: number; boundPerS: (number | null)[] }[];
  };
  offerWindow: { perS: number; perMinute: number[] };
  chainEqualsBooks: boolean;
  channels: {
    channels: number;
    settled: number;
    failures: string[];
    differing: number;
    differences: unknown[];
    unansweredClaims: { channels: number; amount: string };
    claims: number;
    transactions: { opens: Record<string, number>; closes: Record<string, number> };
  };
  payoutChainEqualsBooks: boolean;
  payouts: {
    payoutChainEqualsBooks: boolean;
    channelsOpened: number;
    claimsSent: number;
    claimsAtEnd: number;
    settled: number;
    failures: string[];
    channelsWithoutClaim: string[];
    /** Late FULFILLs (the receiver's risk), counted apart from chain = books. */
    lateFulfills: { count: number; amount: string; providers: number };
    towns: { town: number; processes: number; payoutChainEqualsBooks: boolean }[];
    differences: PayeeFigures[];
    /** Who settled each payout channel, from the chain's logs (bench/payout_settles.ts). */
    settles: {
      byHarness: number;
      byProvider: number;
      byTown: number;
      byOther: number;
      unexplained: unknown[];
    };
    payoutChainEqualsBooksWhy: string;
  };
  postgresTownWhileOneDown?: { kills: number; tries: number; answered: number };
  chaosEvents: { atMs: number; what: string }[];
  towns: unknown[];
  agents: { requesterHosts: number };
}

Deno.test("network scale: 30 agents, 3 towns, channels, chaos: none lost, paid twice or run twice, chain = books", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp-scale-test-" });
  const report = `${dir}/report.json`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      script,
      ...["--agents", "30", "--towns", "3", "--seconds", "15", "--rate", "2"],
      ...["--chaos", "--chaos-every", "5", "--job-timeout", "30", "--idle-seconds", "1"],
      ...["--cross", "0.2", "--provider-hosts", "5", "--requester-hosts", "2"],
      // A payout claim past 0.02 M2M owed: after each job (0.025 M2M), so during the run.
      ...["--channels", "--postgres", "--payout-threshold", "0.02"],
      // Each requester host its own adaptive bound, which it says every second.
      ...["--max-in-flight", "auto"],
      ...["--report", report],
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
  }, HANG_GUARD_MS);
  try {
    const { code, stderr } = await child.output();
    const log = new TextDecoder().decode(stderr).slice(-4000);
    assertEquals(code, 0, `harness failed (killed after ${HANG_GUARD_MS} ms if 137): ${log}`);
    const r = JSON.parse(await Deno.readTextFile(report)) as ScaleReport;
    assert(r.load.drained, "every offered job ended before the harness gave up waiting");
    assertEquals(
      { lost: r.jobs.lost, paidTwice: r.jobs.paidTwice, ranTwice: r.jobs.ranTwice },
      { lost: 0, paidTwice: 0, ranTwice: 0 },
      JSON.stringify(r.jobs),
    );
    assertEquals(r.jobs.done + r.jobs.failed, r.jobs.offered);
    assert(r.jobs.done > 0, JSON.stringify(r.jobs));
    // Jobs were done while the offers ran (a 15 s window: no whole minute in it).
    assert(r.offerWindow.perS > 0, JSON.stringify(r.offerWindow));
    assertEquals(r.offerWindow.perMinute, []);
    const reasons = Object.values(r.jobs.failedReasons).reduce((a, b) => a + b, 0);
    assertEquals(reasons, r.jobs.failed, "every failed job has its reason");
    assert(
      r.chaosEvents.some((e) => e.what.endsWith("SIGKILL")) &&
        r.chaosEvents.some((e) => e.what.endsWith("restarted")),
      `a town was killed and restarted during the run: ${JSON.stringify(r.chaosEvents)}`,
    );
    assert(
      r.chaosEvents.some((e) => /^requester host \d+ restarted$/.test(e.what)),
      `a requester host was killed and restarted: ${JSON.stringify(r.chaosEvents)}`,
    );
    assertEquals(r.agents.requesterHosts, 2);
    // Each host's bound recorded over the run, as the host said it (bench/scale_host_bounds.ts).
    const bounds = r.load.requesterHostBounds ?? [];
    assertEquals(bounds.map((b) => b.host), [0, 1], JSON.stringify(bounds));
    for (const b of bounds) {
      const said = b.boundPerS.filter((n) => n !== null);
      assert(said.length > 0 && said.every((n) => n >= 1), JSON.stringify(b));
    }
    assertEquals(r.towns.length, 3);
    assertEquals(
      { connector: r.load.connector, crossPairs: r.load.crossPairs, hosts: r.load.providerHosts },
      { connector: true, crossPairs: 3, hosts: 3 },
    );
    // Every requester opened its channel, and every channel was closed and settled on chain
    // with the chain's payouts equal to both sides' books.
    const c = r.channels;
    assertEquals(c.channels, 15);
    assertEquals(c.transactions.opens["openChannel"], 15, JSON.stringify(c.transactions));
    assertEquals({ settled: c.settled, failures: c.failures }, { settled: 15, failures: [] });
    // No channel differs from the books. A requester's last paid packet may have got no answer
    // (in flight when a town process died: the requester recorded the claim, the town never
    // took it): its settle books that claim back (an unanswered claim), and that job has failed.
    assertEquals(c.differing, 0, JSON.stringify(c.differences));
    assert(c.unansweredClaims.channels <= r.jobs.failed, JSON.stringify(c));
    assertEquals(r.chainEqualsBooks, true, JSON.stringify(c));
    assert(c.claims > 0, JSON.stringify(c));
    // The towns paid their providers: every payout channel settled, and each provider's payout
    // equals what its town's books owe it (town 0: both processes' books, paid over the one
    // channel in the shared store) and its own payment log.
    const p = r.payouts;
    assert(p.channelsOpened > 0 && p.claimsSent > p.claimsAtEnd, JSON.stringify(p));
    assertEquals({ settled: p.settled, failures: p.failures }, {
      settled: p.channelsOpened,
      failures: [],
    });
    assertEquals(p.differences, []);
    for (const t of p.towns) assert(t.payoutChainEqualsBooks, JSON.stringify(t));
    assertEquals(p.channelsWithoutClaim, []);
    // Each settle named by the chain: the harness, the provider's node or the town, one each.
    const s = p.settles;
    assertEquals(s.unexplained, []);
    assertEquals(s.byHarness + s.byProvider + s.byTown + s.byOther, p.channelsOpened);
    assertEquals(p.payoutChainEqualsBooksWhy, "");
    assert(r.payoutChainEqualsBooks, JSON.stringify(p));
    // Late FULFILLs, when any, are counted and summed, never hidden in a bare false.
    assert(p.lateFulfills.count >= 0 && BigInt(p.lateFulfills.amount) >= 0n, JSON.stringify(p));
    // Town 0: two processes; while one was SIGKILLed (the first chaos round) the other answered.
    assertEquals(r.load.postgresTownProcesses, 2);
    const down = r.postgresTownWhileOneDown;
    assert(down !== undefined && down.kills > 0 && down.answered === down.tries, `${down}`);
    assert((await Deno.readTextFile(`${report}.svg`)).startsWith("<svg"));
    assert((await Deno.readTextFile(`${report}.md`)).includes("| lost / paid twice / ran twice |"));
  } finally {
    clearTimeout(guard);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
