/**
 * What counting a channel-less peer's credit costs a packet (roles/town/btp/peer_credit_gate.ts):
 * PREPAREs answered FULFILL by a router that does nothing else, 64 in flight, through no gate
 * (the obvious alternative: a town that moves no money counts nothing), the gate over the
 * one-process file (state/payments/peer_credit.ts: one fsynced line per packet, group-committed) and,
 * when `--postgres` is given, over PostgreSQL (state/postgres/postgres_peer_credit.ts: one statement per
 * packet); each also on a line learned from the peer's history (state/payments/credit_line.ts: the
 * line decided with its standing, a transaction per batch on PostgreSQL). Prints packets/s and
 * the ratio to no gate.
 *
 * Run: deno run -A bench/peer_credit_bench_script.ts [packets=4000] [--postgres]
 */
import postgres from "postgres";
import { peerCreditGate } from "../roles/town/btp/peer_credit_gate.ts";
import { openFilePeerCredit, type PeerCredit } from "../state/payments/peer_credit.ts";
import { openPostgresPeerCredit } from "../state/postgres/postgres_peer_credit.ts";
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { encodeIlpFulfill, encodeIlpPrepare } from "../protocol/ilp_packet.ts";

const PACKETS = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 4000);
const IN_FLIGHT = 64;
const packet = encodeIlpPrepare({
  amount: "2500",
  executionCondition: new Uint8Array(32).fill(7),
  expiresAt: new Date(Date.now() + 600_000),
  destination: "g.town.relay",
  data: new Uint8Array(1024),
});
const fulfill = encodeIlpFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(0) });
const next = () => Promise.resolve(fulfill);

/** A learned line that never binds: what deciding it costs, not a refusal. */
const learned = () => ({
  owed: 0n,
  terms: { floor: 10n ** 30n, ceiling: 10n ** 31n, graceMs: 3_600_000 },
  now: Date.now(),
});

async function run(credit: PeerCredit | undefined, line = false): Promise<number> {
  const gate = credit && peerCreditGate("child", undefined, {
    credit,
    limitOf: () => line ? learned() : 10n ** 30n,
    hasChannel: () => false,
    triggeredBy: () => "g.town",
  })!;
  let sent = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (sent < PACKETS) {
      sent++;
      await (gate ? gate.handle(packet, undefined, next) : next());
    }
  }));
  return PACKETS / ((performance.now() - start) / 1000);
}

const rows: [string, number][] = [["no gate (nothing counted)", await run(undefined)]];
const file = await openFilePeerCredit({ stateDir: await Deno.makeTempDir() });
rows.push(["gate, file (fsync, group commit)", await run(file)]);
await file.close();
const fileLine = await openFilePeerCredit({ stateDir: await Deno.makeTempDir() });
rows.push(["gate, file, learned line", await run(fileLine, true)]);
await fileLine.close();
if (Deno.args.includes("--postgres")) {
  await using pg = await startPostgresServer();
  const sql = postgres(await freshDatabase(pg.url), { max: 8, onnotice: () => {} });
  rows.push(["gate, PostgreSQL", await run(await openPostgresPeerCredit(sql))]);
  const sqlLine = postgres(await freshDatabase(pg.url), { max: 8, onnotice: () => {} });
  rows.push([
    "gate, PostgreSQL, learned line",
    await run(await openPostgresPeerCredit(sqlLine), true),
  ]);
  await sqlLine.end({ timeout: 1 });
  await sql.end({ timeout: 1 });
}
console.log(`${PACKETS} claimless PREPAREs of 2,500, ${IN_FLIGHT} in flight`);
for (const [name, rate] of rows) {
  console.log(
    `${name.padEnd(34)} ${rate.toFixed(0).padStart(9)} packets/s  ${
      (rate / rows[0][1]).toFixed(3)
    }x`,
  );
}
