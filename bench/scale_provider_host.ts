/**
 * A provider host for the scale harness (docs/SCALE.md): one child process holding the
 * providers the harness hands it, so a provider crash in the chaos schedule is a real SIGKILL of
 * their process. Started by `bench/network_scale_bench_script.ts --provider-hosts`:
 *
 *     deno run -A bench/scale_provider_host.ts HOST.json
 *
 * `HOST.json` is a {@linkcode ProviderHostPlan}. Each provider runs the `sh` no-op skill through
 * the real sandbox; every completed run appends its job id to `runsFile` (one line, O_APPEND), so
 * the harness can count a job run twice across processes and restarts. Prints `ready` on stdout
 * once every provider is up; SIGTERM stops them in order.
 *
 * @module
 */
import { startProviderNode } from "../roles/provider/provider_node.ts";
import type { ProviderNode } from "../roles/provider/provider_node.ts";
import { createSkillSandbox, type SkillSandbox } from "../roles/provider/sandbox/skill_sandbox.ts";
import { startInLanes } from "./start_lanes.ts";

/** One provider of a host. */
export interface HostedProvider {
  index: number;
  /** Secret key, 64 hex. */
  secretKeyHex: string;
  relayUrl: string;
  btpUrl: string;
  townPubkey: string;
  townAddress?: string;
  /** More towns it reads and writes (a cross-town pair's requester town). */
  moreTowns?: { relayUrl: string }[];
}

/** What a host runs (the JSON file it is given). */
export interface ProviderHostPlan {
  /** The run's root: state dirs are `${root}/p<index>`. */
  root: string;
  skillsDir: string;
  /** Where completed runs are appended (job id per line). */
  runsFile: string;
  auditWindowMs: number;
  addressedOnly: boolean;
  /** `[chains]`: the providers keep their town's payout claims (they open no channel). */
  chains?: Record<string, Record<string, string>>;
  /** Each provider's bound on paid jobs in flight (its default, 32, when not given). */
  maxInFlight?: number;
  providers: HostedProvider[];
}

if (import.meta.main) {
  const plan = JSON.parse(await Deno.readTextFile(Deno.args[0])) as ProviderHostPlan;
  const runs = await Deno.open(plan.runsFile, { append: true, create: true });
  const inner = await createSkillSandbox({
    jobsRoot: `${plan.root}/work-host-${Deno.pid}`,
    hiddenPaths: [plan.root],
  });
  const encoder = new TextEncoder();
  const sandbox: SkillSandbox = {
    mode: inner.mode,
    modeReason: inner.modeReason,
    setup: inner.setup,
    limits: inner.limits,
    memoryLimits: inner.memoryLimits,
    run: async (job) => {
      const out = await inner.run(job);
      if (out.status === "ok") await runs.write(encoder.encode(`${job.jobId}\n`));
      return out;
    },
  };
  const nodes: ProviderNode[] = [];
  // A start refused by a busy town (an SPSP handshake not answered in time under load) is tried
  // again, as a supervisor would: 5 tries, 2 s apart.
  const start = async (p: HostedProvider) => {
    for (let attempt = 1;; attempt++) {
      try {
        return await startOne(p);
      } catch (err) {
        if (attempt >= 5) throw err;
        console.error(`provider ${p.index}: start failed (${(err as Error).message}); again`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  const startOne = async (p: HostedProvider) => {
    nodes.push(
      await startProviderNode({
        stateDir: `${plan.root}/p${p.index}`,
        secretKey: Uint8Array.from(p.secretKeyHex.match(/../g)!.map((b) => parseInt(b, 16))),
        btpUrl: p.btpUrl,
        btpToken: "p",
        relayUrl: p.relayUrl,
        townPubkey: p.townPubkey,
        townAddress: p.townAddress,
        moreTowns: p.moreTowns,
        skillsDir: plan.skillsDir,
        sandbox,
        feedMode: "inline",
        heartbeatMs: 3_600_000,
        auditWindowMs: plan.auditWindowMs,
        addressedOnly: plan.addressedOnly,
        chains: plan.chains,
        maxInFlight: plan.maxInFlight,
      }),
    );
  };
  // A few at once, in lanes: a start is mostly waiting (git init, connects, auth).
  await startInLanes(plan.providers, 8, start);
  console.log("ready");
  Deno.addSignalListener("SIGTERM", async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await inner.close?.().catch(() => {});
    Deno.exit(0);
  });
}
