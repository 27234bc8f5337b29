/**
 * Beads synced through towns (docs/RESEARCH.md "Q4, Q9", docs/PROTOCOL.md "Beads as events"): a
 * bead's sync latency between two members on one town and across two towns, and 1,000 beads end
 * to end (beads/s, bytes and cost per bead). Real town processes (SQLite, 10 base units a byte),
 * each member a real requester node in this process (its key, its town links, its paid writes) and
 * its own harness/stand_in_bd (a STAND-IN for beads' `bd`: jq over files, so its own time is
 * reported apart); the sync is roles/beads/bead_sync.ts, what `turnpike beads sync` runs, without
 * the CLI's start (Deno, the wallet's Argon2id unlock: seconds, measured by the e2e test apart).
 *
 * Latency: alice changes a bead in her `bd`, runs a pass (publishes), bob runs a pass (reads,
 * merges, writes into his `bd`): the time from alice's pass start to bob's `bd` showing it, as a
 * `--follow` that found the change at once would see it. Across two towns alice's profile lists
 * both (it writes to both, pays both); bob's lists only the second.
 *
 * Run: deno run -A bench/beads_sync_bench_script.ts [--beads 1000] [--rounds 10]
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { generateSecretKey } from "nostr-tools/pure";
import { startSharedTownProcess } from "../harness/shared_town_process.ts";
import type { SharedTownProcess } from "../harness/shared_town_process.ts";
import { STAND_IN_BD, townBtpUrl, townRelayUrl } from "../harness/beads_sync_kit.ts";
import { startRequester } from "../roles/requester/requester_node.ts";
import type { Requester } from "../roles/requester/requester_node.ts";
import { localNodeSigner } from "../identity/local_node_signer.ts";
import { BdCli } from "../roles/beads/bd_cli.ts";
import { syncBeadsOnce } from "../roles/beads/bead_sync.ts";
import type { PublishedBead } from "../roles/beads/bead_publish.ts";
import { readRigBeads } from "../roles/beads/rig_beads_read.ts";
import type { NostrEvent } from "../protocol/nostr_event.ts";

const flags = parseBenchFlags(Deno.args, {
  values: ["beads", "rounds"],
  switches: [],
  usage: "deno run -A bench/beads_sync_bench_script.ts [--beads 1000] [--rounds 10]",
});
const BEADS = Number(flags.values.beads ?? 1000);
const ROUNDS = Number(flags.values.rounds ?? 10);
const RIG = "benchrig";

interface Member {
  name: string;
  pubkey: string;
  req: Requester;
  bd: BdCli;
  bdDir: string;
  stateDir: string;
  relays: string[];
  signer: ReturnType<typeof localNodeSigner>;
}

/** Times of one pass, ms. */
interface PassTimes {
  total: number;
  publish: number;
  read: number;
  published: PublishedBead[];
  readBytes: number;
  bdCommands: number;
  /** Waiting for the stand-in `bd`. */
  bd: number;
}

async function member(root: string, name: string, towns: SharedTownProcess[]): Promise<Member> {
  const stateDir = `${root}/${name}`;
  const bdDir = `${root}/bd-${name}`;
  await Deno.mkdir(bdDir, { recursive: true });
  const secretKey = generateSecretKey();
  const [home, ...more] = towns;
  const req = await startRequester({
    stateDir,
    secretKey,
    relayUrl: townRelayUrl(home),
    btpUrl: townBtpUrl(home, name),
    btpToken: "t",
    moreTowns: more.map((t) => ({
      relayUrl: townRelayUrl(t),
      btpUrl: townBtpUrl(t, name),
      btpToken: "t",
    })),
    auditWindowMs: 50,
  });
  return {
    name,
    pubkey: req.pubkey,
    req,
    bdDir,
    stateDir,
    relays: towns.map(townRelayUrl),
    signer: localNodeSigner(secretKey),
    bd: new BdCli({ bd: STAND_IN_BD, env: { STAND_IN_BD_DIR: bdDir, BD_ACTOR: name } }),
  };
}

async function pass(m: Member, others: Member[]): Promise<PassTimes> {
  const times: PassTimes = {
    total: 0,
    publish: 0,
    read: 0,
    published: [],
    readBytes: 0,
    bdCommands: 0,
    bd: 0,
  };
  const start = performance.now();
  const summary = await syncBeadsOnce({
    rig: RIG,
    stateDir: m.stateDir,
    signer: m.signer,
    members: others.map((o) => o.pubkey),
    bd: m.bd,
    publish: async (events: NostrEvent[]) => {
      const t = performance.now();
      const out = await m.req.workers.answer({ do: "publish", events });
      times.publish += performance.now() - t;
      times.published.push(...out.published as PublishedBead[]);
      return out.published as PublishedBead[];
    },
    read: async (authors) => {
      const t = performance.now();
      const read = await readRigBeads({ relays: m.relays, rig: RIG, authors });
      times.read += performance.now() - t;
      return read;
    },
  });
  times.total = performance.now() - start;
  times.readBytes = summary.readBytes;
  times.bdCommands = summary.bdCommands;
  times.bd = summary.bdMs;
  return times;
}

/** Beads written straight into the stand-in's files (its own create is not what is measured). */
async function fileBeads(m: Member, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${m.name.slice(0, 2)}-${i.toString(16).padStart(5, "0")}`;
    ids.push(id);
    await Deno.writeTextFile(
      `${m.bdDir}/${id}.json`,
      JSON.stringify({
        id,
        title: `bead ${i} of ${m.name}`,
        description: `What bead ${i} is about: ${"words ".repeat(20)}`,
        status: "open",
        priority: i % 5,
        issue_type: "task",
        acceptance_criteria: "the tests pass",
        labels: ["bench"],
        dependencies: i > 0 ? [{ id: ids[i - 1], dependency_type: "blocks" }] : [],
        comments: [],
      }),
    );
  }
  return ids;
}

const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function latency(label: string, alice: Member, bob: Member): Promise<void> {
  const [id] = await fileBeads(alice, 1);
  await pass(alice, [bob]);
  await pass(bob, [alice]);
  const total: number[] = [];
  const publish: number[] = [];
  const read: number[] = [];
  const own: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const title = `title ${label} ${r}`;
    await alice.bd.writeFields(id, {
      fields: { title },
      labels: ["bench"],
      deps: [],
      comments: [],
    }, { fields: {}, labels: ["bench"], deps: [], comments: [] });
    const t0 = performance.now();
    const a = await pass(alice, [bob]);
    const b = await pass(bob, [alice]);
    total.push(performance.now() - t0);
    publish.push(a.publish);
    read.push(b.read);
    own.push(a.total + b.total - a.bd - b.bd);
    const shown = JSON.parse(await Deno.readTextFile(`${bob.bdDir}/${id}.json`));
    if (shown.title !== title) throw new Error(`bob's bd shows ${shown.title}, not ${title}`);
  }
  console.log(
    `${label}: a bead's change from alice's bd to bob's, ${ROUNDS} rounds: p50 ${
      fmt(pct(total, 0.5))
    }, p90 ${fmt(pct(total, 0.9))}; of which alice's publish p50 ${
      fmt(pct(publish, 0.5))
    }, bob's read p50 ${fmt(pct(read, 0.5))}; without the time in the stand-in bd p50 ${
      fmt(pct(own, 0.5))
    }, p90 ${fmt(pct(own, 0.9))}`,
  );
}

async function endToEnd(alice: Member, bob: Member): Promise<void> {
  await fileBeads(alice, BEADS);
  const a = await pass(alice, [bob]);
  const b = await pass(bob, [alice]);
  const bytes = a.published.reduce((s, p) => s + p.bytes, 0);
  const cost = a.published.reduce((s, p) => s + BigInt(p.cost), 0n);
  const shown =
    (await Array.fromAsync(Deno.readDir(bob.bdDir))).filter((e) => e.name.endsWith(".json")).length;
  if (shown < BEADS) throw new Error(`bob's bd has ${shown} beads, not ${BEADS}`);
  const bobRest = b.total - b.read - b.bd;
  console.log(
    `${BEADS} beads end to end: alice's pass ${fmt(a.total)} (publish ${fmt(a.publish)}: ${
      (BEADS / (a.publish / 1000)).toFixed(0)
    } beads/s; bd ${fmt(a.bd)}), bob's pass ${fmt(b.total)} (read ${fmt(b.read)}, ` +
      `${b.readBytes} bytes; ${b.bdCommands} stand-in bd commands ${fmt(b.bd)}; opening, ` +
      `merging, the sync file ${fmt(bobRest)}); ${
        (BEADS / ((a.total + b.total) / 1000)).toFixed(1)
      } beads/s in all, ${
        (BEADS / ((a.total + b.total - a.bd - b.bd) / 1000)).toFixed(0)
      } beads/s without the time in bd`,
  );
  console.log(
    `per bead: ${(bytes / BEADS).toFixed(0)} bytes, ${cost / BigInt(BEADS)} base units ` +
      `(10 per byte); ${a.published.length} events, ${bytes} bytes, ${cost} base units in all`,
  );
  const again = await pass(alice, [bob]);
  const idle = await pass(bob, [alice]);
  console.log(
    `a pass with nothing new: alice ${fmt(again.total)} (${again.published.length} published), ` +
      `bob ${fmt(idle.total)} (${idle.bdCommands} bd commands)`,
  );
}

const root = await Deno.makeTempDir({ prefix: "beads-bench-" });
const towns = [
  await startSharedTownProcess({ secretKey: generateSecretKey() }),
  await startSharedTownProcess({ secretKey: generateSecretKey() }),
];
const members: Member[] = [];
try {
  const one = [await member(root, "alice1", [towns[0]]), await member(root, "bob1", [towns[0]])];
  members.push(...one);
  await latency("one town", one[0], one[1]);
  const two = [await member(root, "alice2", towns), await member(root, "bob2", [towns[1]])];
  members.push(...two);
  await latency("two towns", two[0], two[1]);
  const big = [await member(root, "alice3", [towns[0]]), await member(root, "bob3", [towns[0]])];
  members.push(...big);
  await endToEnd(big[0], big[1]);
} finally {
  for (const m of members) {
    await m.req.close().catch(() => {});
    m.signer.close();
  }
  for (const t of towns) await t.stop().catch(() => {});
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
