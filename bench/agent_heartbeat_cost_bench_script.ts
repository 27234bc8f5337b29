/**
 * What an agent-task's heartbeat costs per worker per hour (docs/PROTOCOL.md "Agent heartbeat",
 * docs/AGENTS.md "The Witness"), measured on real writes: a town and the provider node in this
 * process (the town's default price, 10 base units per TOON byte), the real sandbox and gateway,
 * and an agent that only sleeps (`--seconds`, default 20) while its provider beats every
 * `--beat` seconds (default 1). The beats are the job's `processing` feedback on the town; what
 * each cost is the provider's payment log line for that event (`town-write`). Prints the beats
 * counted, their mean bytes and cost, and the cost per worker per hour at a 60 s beat (the
 * default) and at 20 s, beside what the provider's own kind 30315 heartbeat at a 20 s period
 * costs (a Witness on the provider heartbeat would need that period) per hour.
 *
 * Run: deno run -A bench/agent_heartbeat_cost_bench_script.ts [--seconds 20] [--beat 1]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startRequesterNetwork } from "../harness/requester_network.ts";
import { agentSkillsDir, requesterProfile, scriptedPreset } from "../harness/agent_task_kit.ts";
import { tempGitRepo } from "../harness/temp_git_repo.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { queryRelays } from "../transport/relay_query_many.ts";
import { JOB_FEEDBACK_KIND } from "../protocol/nip90_kinds.ts";
import { encodeEventToon } from "../protocol/toon_codec.ts";
import { HEARTBEAT_KIND } from "../protocol/provider_heartbeat.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "20" }, beat: { type: "string", default: "1" } },
});
const seconds = Number(values.seconds), beatS = Number(values.beat);
const skills = await agentSkillsDir({
  "sleep.sh": [
    `sleep ${seconds}`,
    "echo slept > slept.txt",
    "git add slept.txt",
    "git commit -qm slept",
  ]
    .join("\n"),
});
const net = await startRequesterNetwork({
  providerSkillsDir: skills,
  providerOptions: {
    agentHeartbeatMs: beatS * 1000,
    heartbeatMs: 20_000,
    agents: {
      sleep: scriptedPreset(skills, "sleep", { inputPerMillion: 1000n, outputPerMillion: 5000n }),
    },
  },
});
try {
  const alice = await requesterProfile(net);
  const repo = await tempGitRepo(`${net.root}/repo`);
  await repo.commit("a file", { "README.md": "bench\n" });
  const done = await alice(
    "job",
    "submit",
    "agent-task",
    "--repo",
    repo.dir,
    "--title",
    "bench: sleep",
    "--accept",
    "true",
    "--agent",
    "sleep",
    "--bid",
    "10000000",
    "--provider",
    net.providerPubkey!,
    "--wait",
  );
  if (done.code !== 0) throw new Error(`submit: ${done.stderr}`);
  const job = String(done.lines.find((l) => l.type === "result")!.job);
  const { events } = await queryRelays([net.relayUrl], [{
    kinds: [JOB_FEEDBACK_KIND],
    "#e": [job],
    limit: 500,
  }]);
  const beats = events.filter((e) =>
    e.tags.some((t) => t[0] === "status" && t[1] === "processing") &&
    e.tags.some((t) => t[0] === "heartbeat")
  );
  const paid = new Map(
    (await openPaymentLog({ stateDir: `${net.root}/provider` })).entries()
      .filter((l) => l.direction === "out" && l.event === "fulfilled")
      .map((l) => [l.invoiceId, BigInt(l.amount)]),
  );
  const costs = beats.map((e) => paid.get(e.id)).filter((c) => c !== undefined) as bigint[];
  if (costs.length === 0) throw new Error("no beat found paid in the provider's payment log");
  const mean = costs.reduce((a, b) => a + b, 0n) / BigInt(costs.length);
  const bytes = Math.round(
    beats.reduce((n, e) => n + new TextEncoder().encode(encodeEventToon(e)).byteLength, 0) /
      beats.length,
  );
  // The provider's own heartbeat (kind 30315), its latest as the town holds it, paid as logged.
  const { events: own } = await queryRelays([net.relayUrl], [{
    kinds: [HEARTBEAT_KIND],
    authors: [net.providerPubkey!],
    limit: 1,
  }]);
  const ownCost = own[0] === undefined ? undefined : paid.get(own[0].id);
  const providerPerHour = ownCost === undefined ? undefined : String(ownCost * 180n);
  console.log(JSON.stringify({
    agentSeconds: seconds,
    beatSeconds: beatS,
    beats: beats.length,
    beatsPaid: costs.length,
    meanBeatBytes: bytes,
    meanBeatCost: String(mean),
    perWorkerHourAt60s: String(mean * 60n),
    perWorkerHourAt20s: String(mean * 180n),
    providerHeartbeatPerHourAt20s: providerPerHour,
  }));
} finally {
  await net.stop();
  await Deno.remove(skills, { recursive: true }).catch(() => {});
}
