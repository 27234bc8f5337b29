/**
 * `turnpike demo`, the embedded default: a whole Crosstown exchange on this machine. It starts a
 * local town and a provider (serving the shipped `skills/`) on free loopback ports, with a fresh
 * temporary state dir and throwaway identities; a requester posts a paid `ci-run` job on the
 * sample project `fixtures/projects/passing` (a tar.gz built on the fly, base64 in the input),
 * pays the town per byte and the provider's invoice, prints the progress and the CI report, then
 * stops everything it started and removes the state dir.
 *
 * @module
 */
import { generateSecretKey } from "nostr-tools";
import { startTownNode, type TownNode } from "../town/town_node.ts";
import { type ProviderNode, startProviderNode } from "../provider/provider_node.ts";
import { type JobProgress, type Requester, startRequester } from "../requester/requester_node.ts";
import type { RequesterJobRecord } from "../../state/job_record.ts";
import { decodeEventToon } from "../../protocol/toon_codec.ts";

/** Options for {@linkcode runPaidJobDemo}. */
export interface PaidJobDemoOptions {
  /** Progress lines. */
  onLine?: (line: string) => void;
  /** Project to test. Default `fixtures/projects/passing`. */
  projectDir?: string;
  /** Command the CI job runs. Default `sh test.sh`. */
  command?: string;
  /** Give up after (ms). Default 120 s. */
  timeoutMs?: number;
  /** Keep the temporary state dir (its path is in the report). */
  keepStateDir?: boolean;
}

/** What the demo did. */
export interface PaidJobDemoReport {
  jobId: string;
  status: string;
  /** The CI report (the result's content, JSON when the skill succeeded). */
  result?: unknown;
  paidToProvider: string;
  receipt?: string;
  seconds: number;
  stateDir: string;
}

/** The demo could not run (tar missing, a node did not start). */
export class PaidJobDemoError extends Error {
  override name = "PaidJobDemoError";
}

const REPO = new URL("../../", import.meta.url);

/**
 * Runs the demo.
 *
 * @example
 * ```ts
 * const report = await runPaidJobDemo({ onLine: console.log });
 * console.log(report.status);
 * ```
 * @throws {PaidJobDemoError}
 */
export async function runPaidJobDemo(options: PaidJobDemoOptions = {}): Promise<PaidJobDemoReport> {
  const say = options.onLine ?? (() => {});
  const started = performance.now();
  const root = await Deno.makeTempDir({ prefix: "turnpike-demo-" });
  const stops: (() => Promise<void>)[] = [];
  try {
    const archive = await tarGzBase64(
      options.projectDir ?? new URL("fixtures/projects/passing", REPO).pathname,
    );
    const town = await startDemoTown(root);
    stops.push(() => town.stop());
    const relayUrl = `ws://127.0.0.1:${town.httpPort}`;
    const btp = `127.0.0.1:${town.btpPort}`;
    say(`town      ${relayUrl} (NIP-01), btp+ws://${btp} (BTP), ILP ${town.ilpAddress}`);
    const provider = await startProviderNode({
      stateDir: `${root}/provider`,
      secretKey: generateSecretKey(),
      btpUrl: `btp+ws://provider:demo@${btp}`,
      btpToken: "demo",
      relayUrl,
      townPubkey: town.pubkey,
      townAddress: town.ilpAddress,
      skillsDir: new URL("skills", REPO).pathname,
      heartbeatMs: 3_600_000,
    }).catch((err) => {
      throw new PaidJobDemoError(`the provider did not start: ${(err as Error).message}`);
    });
    stops.push(() => provider.stop());
    say(`provider  ${provider.ilpAddress} serving ci-run (5600) and echo (5601)`);
    const requester = await startRequester({
      stateDir: `${root}/requester`,
      secretKey: generateSecretKey(),
      relayUrl,
      btpUrl: `btp+ws://requester:demo@${btp}`,
      btpToken: "demo",
      townPubkey: town.pubkey,
      townAddress: town.ilpAddress,
      onProgress: (p) => say(progressLine(p)),
    });
    stops.push(() => requester.close());
    say(
      `requester ${requester.town.btp.ilpAddress}, paying ${requester.town.pricePerByte}/byte to the town`,
    );
    const final = await runJob(requester, provider, archive, options);
    const report = reportOf(final, requester.stateDir, root, started);
    return report;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    if (!options.keepStateDir) await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

async function runJob(
  requester: Requester,
  provider: ProviderNode,
  archive: string,
  options: PaidJobDemoOptions,
): Promise<RequesterJobRecord> {
  const job = await requester.submit({
    kind: 5600,
    inputs: [{ data: archive, type: "text" }],
    params: [{ name: "cmd", values: [options.command ?? "sh test.sh"] }],
    bid: 10_000n,
    providers: [provider.pubkey],
    skill: "none",
    timeoutMs: options.timeoutMs ?? 120_000,
    encrypt: false,
    then: [],
  });
  return await requester.waitFor(job.id);
}

function reportOf(
  final: RequesterJobRecord,
  requesterDir: string,
  root: string,
  started: number,
): PaidJobDemoReport {
  let result: unknown;
  try {
    const toon = Deno.readTextFileSync(`${requesterDir}/callbacks/${final.id}.in.payload`);
    const content = toon ? decodeEventToon(toon, { verify: false }).content : undefined;
    try {
      result = content === undefined ? undefined : JSON.parse(content);
    } catch {
      result = content;
    }
  } catch {
    result = undefined;
  }
  const paid = final.payments.filter((p) => p.status === "paid");
  return {
    jobId: final.id,
    status: final.status,
    result,
    paidToProvider: String(paid.reduce((s, p) => s + p.amount, 0n)),
    receipt: paid[0]?.fulfillment,
    seconds: (performance.now() - started) / 1000,
    stateDir: root,
  };
}

function progressLine(p: JobProgress): string {
  return `  job ${p.jobId.slice(0, 12)}  ${p.status}${p.detail ? `  ${p.detail}` : ""}`;
}

function startDemoTown(root: string): Promise<TownNode> {
  return startTownNode({
    config: {
      host: "127.0.0.1",
      httpPort: 0,
      btpPort: 0,
      stateDir: `${root}/town`,
      network: "local",
      ilpAddress: "test.demo.town",
      peers: [],
      // Loopback only, throwaway: every local peer is welcome, named by its BTP username.
      acceptAnyToken: true,
      pricing: { pricePerByte: 10n },
      maxEventBytes: 1024 * 1024,
      assetCode: "USD",
      assetScale: 6,
    },
    secretKey: generateSecretKey(),
  }).catch((err) => {
    throw new PaidJobDemoError(`the town did not start: ${(err as Error).message}`);
  });
}

async function tarGzBase64(dir: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tar", { args: ["-czf", "-", "-C", dir, "."], stderr: "piped" })
      .output();
  } catch (err) {
    throw new PaidJobDemoError(`cannot run tar: ${(err as Error).message}`);
  }
  if (!out.success) {
    throw new PaidJobDemoError(
      `tar failed on ${dir}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  let binary = "";
  for (const b of out.stdout) binary += String.fromCharCode(b);
  return btoa(binary);
}
