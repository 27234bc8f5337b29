/**
 * A requester process for crash tests: resumes the state dir's jobs, submits echo jobs until
 * `TP_JOBS` exist, waits until none is in flight, prints `all-terminal` and exits 0. The harness
 * SIGKILLs it at random instants and starts it again.
 *
 * Environment: TP_STATE_DIR, TP_SECRET_KEY (hex), TP_RELAY_URL, TP_BTP_URL, TP_TOWN_PUBKEY,
 * TP_TOWN_ADDRESS, TP_SKILLS_DIR, TP_JOBS, TP_TIMEOUT_MS. Optional: TP_KILL_AFTER_FULFILLED=1, the
 * process SIGKILLs itself once a job payment's `fulfilled` line is on disk in its payment log,
 * before the job's record takes it (the window state/payments/payment_log.ts names 5);
 * TP_PROGRESS=1, each progress line printed (`progress <job id> <status> <detail>`).
 *
 * @module
 */
import { startRequester } from "../../roles/requester/requester_node.ts";
import { echoSpec } from "../../harness/requester_network.ts";

const env = (name: string): string => {
  const v = Deno.env.get(name);
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const hex = env("TP_SECRET_KEY");
const secretKey = new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
const req = await startRequester({
  stateDir: env("TP_STATE_DIR"),
  secretKey,
  relayUrl: env("TP_RELAY_URL"),
  btpUrl: env("TP_BTP_URL"),
  btpToken: "r",
  townPubkey: env("TP_TOWN_PUBKEY"),
  townAddress: env("TP_TOWN_ADDRESS"),
  skillsDir: env("TP_SKILLS_DIR"),
  auditWindowMs: 20,
  onProgress: Deno.env.get("TP_PROGRESS") === "1"
    ? (p) => console.log(`progress ${p.jobId} ${p.status} ${p.detail ?? ""}`)
    : undefined,
});
if (Deno.env.get("TP_KILL_AFTER_FULFILLED") === "1") {
  const log = req.payments;
  const append = log.append.bind(log);
  log.append = async (entry) => {
    await append(entry);
    if (entry.direction === "out" && entry.category === "job" && entry.event === "fulfilled") {
      Deno.kill(Deno.pid, "SIGKILL");
    }
  };
}
const jobs = Number(env("TP_JOBS"));
const timeoutMs = Number(env("TP_TIMEOUT_MS"));
while (req.repo.count() < jobs) {
  await req.submit(echoSpec(`crash job ${req.repo.count()}`, { timeoutMs })).catch(() => {});
}
while (req.repo.listInFlight().length > 0) await new Promise((r) => setTimeout(r, 25));
console.log("all-terminal");
await req.close();
