/**
 * The dashboard's reading of a state dir (job records, a low channel, a provider status file) and
 * its frames: 80x24 at most however many jobs there are, the selection scrolled into view, the
 * warning and the mainnet banner. Also the pure parts of `turnpike providers`.
 */
import { renderToString } from "ink";
import { openJobRepository } from "../../../state/jobs/job_repository.ts";
import { saveChannel } from "../../../state/channels/channel_file.ts";
import { writeProviderStatus } from "../../../roles/provider/provider_status.ts";
import { formatProviderJobRecord } from "../../../state/jobs/provider_job_record.ts";
import { jobPhase, readLocalView } from "../../../cli/dash_model.ts";
import { LocalViewCache } from "../../../cli/dash_local_cache.ts";
import { dashFrame, type DashFrameProps } from "../../../cli/dash_view.ts";
import { networkField } from "../../../cli/network_line.ts";
import { agoText, providersCsv, providersServing } from "../../../cli/providers_command.ts";
import type { ProviderListing } from "../../../roles/requester/provider_directory.ts";
import { makeJobRecord } from "../../../harness/job_record_factory.ts";
import { fixtureChannelRecord } from "../../support/channel_record_fixture.ts";
import { withTempDir } from "../../support/temp_dir.ts";
import { openPaymentLog } from "../../../state/payments/payment_log.ts";
import { readTownWrites, withWrites } from "../../../cli/dash_towns.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "../../../harness/assert.ts";

const STATUSES = ["sent", "payment-required", "processing", "done", "error"] as const;

async function stateWithJobs(dir: string, n: number): Promise<void> {
  const repo = await openJobRepository({ stateDir: dir, durable: false });
  for (let i = 1; i <= n; i++) {
    await repo.create(makeJobRecord(i, { status: STATUSES[i % STATUSES.length] }));
  }
  await repo.create(makeJobRecord(n + 1, { id: "f".repeat(64) }));
  repo.close();
  // A corrupt row (by hand: the repository writes none).
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(`${dir}/index.sqlite`);
  db.prepare("UPDATE jobs SET text = 'not toml [' WHERE id = ?").run("f".repeat(64));
  db.close();
}

function frame(p: Partial<DashFrameProps> & Pick<DashFrameProps, "local">): string {
  return renderToString(
    dashFrame({
      network: networkField("local"),
      town: { relayUrl: "ws://127.0.0.1:7100", state: "connected" },
      window: "1h",
      selected: 0,
      ...p,
    }),
    { columns: 80 },
  );
}

Deno.test("dash: jobs by phase, newest first; a corrupt file is skipped", async () => {
  await withTempDir(async (dir) => {
    await stateWithJobs(dir, 20);
    const view = await readLocalView(dir);
    assertEquals(view.jobs.length, 20);
    assertEquals(view.jobs[0].record.id, makeJobRecord(20).id);
    assertEquals(view.counts, { posted: 4, waiting: 4, running: 4, done: 4, failed: 4 });
    assertEquals(
      STATUSES.map(jobPhase),
      ["posted", "waiting", "running", "done", "failed"],
    );
  });
});

Deno.test("dash: a frame fits 80x24 and scrolls to the selected job", async () => {
  await withTempDir(async (dir) => {
    await stateWithJobs(dir, 40);
    const local = await readLocalView(dir);
    const text = frame({ local, selected: 30 });
    const lines = text.split("\n");
    assert(lines.length <= 24 && lines.every((l) => l.length <= 80), text);
    assertMatch(text, new RegExp(`^> ${local.jobs[30].record.id.slice(0, 12)} `, "m"));
  });
});

Deno.test("dash: a channel below its warning share, a dead provider, mainnet in the banner", async () => {
  await withTempDir(async (dir) => {
    const record = fixtureChannelRecord(
      { selfAddress: `0x${"01".repeat(20)}`, peerAddress: `0x${"02".repeat(20)}` },
      { sent: 950_000n },
    );
    await saveChannel(record, { stateDir: dir, action: "open" });
    const now = new Date().toISOString();
    await writeProviderStatus(dir, {
      pid: 2 ** 22 + 1,
      state: "serving",
      startedAt: now,
      updatedAt: now,
      pubkey: "ab".repeat(32),
      ilpAddress: "g.town.beta",
      relayUrl: "ws://127.0.0.1:7100",
      btpUrl: "btp+ws://127.0.0.1:3000",
      skills: [{ name: "echo", kinds: [5601], price: "100" }],
      lastError: "the feed of requests ended: no new jobs come in",
      inFlight: 0,
      running: 0,
      openInvoices: 0,
      counters: {
        admitted: 3,
        paid: 3,
        published: 3,
        errors: 0,
        cancelled: 0,
        earned: "300",
        spentOnWrites: "40",
        dropped: {},
      },
    });
    await Deno.mkdir(`${dir}/provider-jobs`);
    for (const [n, status] of [["a", "running"], ["b", "published"]] as const) {
      await Deno.writeTextFile(
        `${dir}/provider-jobs/${n.repeat(64)}.toml`,
        formatProviderJobRecord({
          id: n.repeat(64),
          kind: 5601,
          customer: "c".repeat(64),
          skill: "echo",
          status,
          price: "100",
          requestToon: "",
          encrypted: false,
          admittedAt: now,
          updatedAt: now,
          attempts: 1,
        }),
      );
    }
    const local = await readLocalView(dir);
    assertEquals(local.providerJobs.map((j) => [j.id[0], j.status]), [["a", "running"]]);
    assertEquals(local.channels.map((c) => [c.low, c.remaining]), [[true, "0.05"]]);
    assertEquals(local.provider?.alive, false);
    const text = frame({ local, network: networkField("mainnet") });
    assertStringIncludes(text, "Network: MAINNET (real funds)");
    assertMatch(text, /^channel {2}0xabababab… open {2}0\.05 of 1 M2M {2}below 10%: top up$/m);
    assertMatch(text, /^provider not running .*skills echo$/m);
    assertMatch(text, /earned 300 base units {2}paid 3/);
    assertMatch(text, /^ +last error: the feed of requests ended: no new jobs come in$/m);
    assertMatch(text, /^ {2}job {4}aaaaaaaaaaaa 5601 {2}running {9}echo$/m);

    // Several towns: a row each (state, latency, writes paid), still within 80x24.
    await stateWithJobs(dir, 40);
    const towns = [
      { relayUrl: "ws://127.0.0.1:7100", state: "connected" as const, latencyMs: 4 },
      { relayUrl: "ws://127.0.0.1:7200", state: "connected" as const, latencyMs: 12 },
      { relayUrl: "ws://127.0.0.1:7300", state: "unreachable" as const, detail: "refused" },
      { relayUrl: "ws://127.0.0.1:7400", state: "connecting" as const },
      { relayUrl: "ws://127.0.0.1:7500", state: "connecting" as const },
    ].map((t, i) => i === 1 ? { ...t, writesPaid: "0.0012 USD" } : t);
    const many = frame({ local: await readLocalView(dir), towns, selected: 39 });
    const lines = many.split("\n");
    assert(lines.length <= 24 && lines.every((l) => l.length <= 80), many);
    assertMatch(many, /2\/5 towns connected$/m);
    assertMatch(many, /^town {5}connected {3}127\.0\.0\.1:7100 +4 ms {2}writes 0$/m);
    assertMatch(many, /^ {9}connected {3}127\.0\.0\.1:7200 +12 ms {2}writes 0\.0012 USD$/m);
    assertMatch(many, /^ {9}unreachable 127\.0\.0\.1:7300 +- {2}refused$/m);
    assertMatch(many, /^ {9}connecting {2}127\.0\.0\.1:7400 .*\(\+1 more\)$/m);
    assert(!many.includes("7500"), many);
    // The selected (last) job is still in view.
    assertMatch(many, /^> /m);
  });
});

Deno.test("dash: what this node paid each town, by its ILP address, from the payment log", async () => {
  await withTempDir(async (dir) => {
    const log = await openPaymentLog({ stateDir: dir });
    const entry = (peer: string, amount: string, category: string, event = "fulfilled") => ({
      ts: new Date().toISOString(),
      direction: "out" as const,
      event: event as "fulfilled",
      jobId: "j",
      invoiceId: `${peer}-${amount}`,
      amount,
      asset: "USD",
      scale: 6,
      peer,
      category: category as "town-write",
    });
    await log.append(entry("test.a", "1000", "town-write"));
    await log.append(entry("test.a", "500", "town-blob"));
    await log.append(entry("test.a", "9999", "job"));
    await log.append(entry("test.b", "700", "town-write", "rejected"));
    await log.append(entry("test.b", "20", "town-write"));
    await log.flush();
    const writes = await readTownWrites(dir);
    assertEquals(Object.fromEntries(writes), { "test.a": "0.0015 USD", "test.b": "0.00002 USD" });
    const rows = withWrites([
      { relayUrl: "ws://a", state: "connected", address: "test.a" },
      { relayUrl: "ws://c", state: "connected", address: "test.c" },
    ], writes);
    assertEquals(rows.map((r) => r.writesPaid), ["0.0015 USD", undefined]);
  });
});

Deno.test("providers: --kind by number or skill name; csv quotes names", () => {
  const listing: ProviderListing = {
    pubkey: "ab".repeat(32),
    name: 'beta, "the builder"',
    skills: [
      { name: "echo", kinds: [5601], price: "100" },
      { name: "ci-run", kinds: [5600, 5602], price: "9000" },
    ],
    assetCode: "M2M",
    assetScale: 6,
    online: true,
    lastSeen: 1_800_000_000,
  };
  assertEquals(providersServing([listing], "5602")[0].skills.map((s) => s.name), ["ci-run"]);
  assertEquals(providersServing([listing], "echo")[0].skills.map((s) => s.name), ["echo"]);
  assertEquals(providersServing([listing], "5777"), []);
  assertEquals(
    providersCsv([listing])[2],
    `"beta, ""the builder""",${listing.pubkey},ci-run,5600 5602,9000,M2M,6,true,1800000000`,
  );
  assertEquals([agoText(undefined, 10), agoText(1, 91), agoText(0, 7200)], ["never", "1m", "2h"]);
});

Deno.test("dash: the cache re-reads only the job rows written since its last read", async () => {
  await withTempDir(async (dir) => {
    await stateWithJobs(dir, 3);
    const cache = await LocalViewCache.open(dir);
    const first = makeJobRecord(1);
    const repo = await openJobRepository({ stateDir: dir, durable: false });
    await repo.update(first.id, (j) => ({ ...j, status: "done" }));
    const added = makeJobRecord(9, { status: "processing" });
    await repo.create(added);
    assertEquals(await cache.apply([`${dir}/.git/index`]), false);
    assertEquals(cache.view().jobs.length, 3, "unnamed changes are not read");
    assertEquals(await cache.apply([`${dir}/index.sqlite-wal`]), true);
    const view = cache.view();
    assertEquals(view.jobs.map((j) => j.record.status).slice(0, 1), ["processing"]);
    assertEquals(view.jobs.find((j) => j.record.id === first.id)?.record.status, "done");
    assertEquals(await cache.apply([`${dir}/index.sqlite-wal`]), false, "nothing new");
    await repo.remove(first.id);
    repo.close();
    await cache.apply([`${dir}/index.sqlite-wal`]);
    assertEquals(cache.view().jobs.some((j) => j.record.id === first.id), false);
  });
});
