/**
 * A requester process for crash tests: resumes the state dir's jobs, submits echo jobs until
 * `TP_JOBS` exist, waits until none is in flight, prints `all-terminal` and exits 0. The harness
 * SIGKILLs it at random instants and starts it again.
 *
 * Environment: TP_STATE_DIR, TP_SECRET_KEY (hex), TP_RELAY_URL, TP_BTP_URL, TP_TOWN_PUBKEY,
 * TP_TOWN_ADDRESS, TP_SKILLS_DIR, TP_JOBS, TP_TIMEOUT_MS.
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
});
const jobs = Number(env("TP_JOBS"));
const timeoutMs = Number(env("TP_TIMEOUT_MS"));
while (req.repo.count() < jobs) {
  await req.submit(echoSpec(`crash job ${req.repo.count()}`, { timeoutMs })).catch(() => {});
}
while (req.repo.listInFlight().length > 0) await new Promise((r) => setTimeout(r, 25));
console.log("all-terminal");
await req.close();
