/**
 * Both Gas Towns in one run (docs/OPERATIONS.md "Gas Town presets", "Both Gas Towns in one run"):
 * Gas Town A slings a bead to a polecat whose agent command is
 * integrations/gastown/turnpike-polecat; the polecat ships it as an agent-task (docs/PROTOCOL.md
 * "agent-task (kind 5603)") on town 1, where its requester profile lives; the provider lives on
 * town 2, a child of town 1 (docs/OPERATIONS.md "Peering towns"), follows town 1 too and serves a
 * host preset running integrations/gastown/turnpike-gastown-provider: Gas Town B files the task as
 * a bead, its polecat commits the fix and closes it. The requester pays the provider across both
 * towns (town 1 -> town 2 -> provider); the branch comes back to A's polecat, which fast-forwards
 * its branch and ends with `gt done`; A's Refinery merges the branch into the rig's `main` through
 * `turnpike refinery` (docs/AGENTS.md "The refinery"), reading its NDJSON.
 *
 * Gas Town's `gt`, beads' `bd` and a Refinery cannot be installed here: tests/support/stand_in_gt,
 * harness/stand_in_bd and tests/support/stand_in_refinery stand in for them (mocks, named
 * so), one set of state per Gas Town; B's polecat is a scripted one (a shell script, no model).
 * Everything else is real: both towns (each its own process), the provider node and its sandbox
 * (the gate), the requester's profile and node, git.
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { generateSecretKey, getPublicKey } from "nostr-tools";
import {
  agentSkillsDir,
  commitAgentSample,
  requesterProfile,
} from "../../harness/agent_task_kit.ts";
import { tempGitRepo } from "../../harness/temp_git_repo.ts";
import { startSharedTownProcess } from "../../harness/shared_town_process.ts";
import { btpOf, paymentLog, relayOf, townPubkeyOf } from "../support/town_network_kit.ts";
import { startProviderNode } from "../../roles/provider/provider_node.ts";
import { openPeerLedger } from "../../state/payments/peer_ledger.ts";
import type { AgentPreset } from "../../config/agent_presets.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;
const POLECAT = root("integrations/gastown/turnpike-polecat");
const BRIDGE = root("integrations/gastown/turnpike-gastown-provider");
const REFINERY = root("tests/support/stand_in_refinery");

/** One stand-in Gas Town: its home, its beads, and `gt`/`bd` on PATH. */
interface StandInGasTown {
  home: string;
  beads: string;
  env: Record<string, string>;
  /** Runs a command in the town's environment. */
  run(cmd: string, args: string[], cwd?: string): Promise<
    { code: number; stdout: string; stderr: string }
  >;
  bead(id: string): Promise<{ status: string; title: string; description: string }>;
  doneLog(): Promise<string[]>;
}

async function standInGasTown(
  dir: string,
  extraEnv: Record<string, string> = {},
): Promise<StandInGasTown> {
  const home = `${dir}/gt`;
  const beads = `${dir}/beads`;
  const bin = `${dir}/bin`;
  await Deno.mkdir(beads, { recursive: true });
  await Deno.mkdir(bin, { recursive: true });
  await Deno.symlink(root("tests/support/stand_in_gt"), `${bin}/gt`);
  await Deno.symlink(root("harness/stand_in_bd"), `${bin}/bd`);
  const env = {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    STAND_IN_GT_HOME: home,
    STAND_IN_BD_DIR: beads,
    ...extraEnv,
  };
  const town: StandInGasTown = {
    home,
    beads,
    env,
    run: async (cmd, args, cwd = dir) => {
      const out = await new Deno.Command(cmd, { args, cwd, env }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    },
    bead: async (id) => JSON.parse(await Deno.readTextFile(`${beads}/${id}.json`)),
    doneLog: async () =>
      (await Deno.readTextFile(`${home}/done.log`).catch(() => "")).split("\n")
        .filter((l) => l !== ""),
  };
  return town;
}

Deno.test("gastown two towns: A's bead slung to a remote polecat, worked by B's polecat behind another town, paid across both towns, comes back, gt done once, merged by A's Refinery", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "turnpike-two-gastowns-" });
  const skills = await agentSkillsDir({});
  const stops: (() => Promise<unknown>)[] = [];
  try {
    // Two towns, each its own process: town 2 takes town 1 as its parent (BTP account `town2`).
    const town1 = await startSharedTownProcess({
      secretKey: generateSecretKey(),
      stateDir: await mkdir(`${scratch}/town1`),
      blobsDir: await mkdir(`${scratch}/town1-blobs`),
    });
    stops.push(() => town1.stop());
    const town2 = await startSharedTownProcess({
      secretKey: generateSecretKey(),
      stateDir: await mkdir(`${scratch}/town2`),
      blobsDir: await mkdir(`${scratch}/town2-blobs`),
      parent: { url: btpOf(town1, "town2"), token: "t" },
    });
    stops.unshift(() => town2.stop());
    assertEquals([town1.ilpAddress, town2.ilpAddress], ["test.town", "test.town.town2"]);

    // Gas Town B: the provider's own town, a rig for turnpike's work.
    const gtB = await standInGasTown(`${scratch}/gastown-b`);
    const rigB = await tempGitRepo(`${gtB.home}/rigs/work`);
    await rigB.commit("the rig's own first commit", { "RIG.md": "the rig\n" });
    assertEquals(
      (await gtB.run("gt", [
        "config",
        "agent",
        "set",
        "default",
        [
          "set -e",
          `id=$(gt hook --json | jq -r .pinned_bead.id)`,
          `gt hook --json | jq -r .pinned_bead.description | grep -q 'add.sh subtracts'`,
          `sed -i 's/\\$1 - \\$2/$1 + $2/' add.sh`,
          "git commit -q -am 'add: add, not subtract'",
          `bd close "$id"`,
        ].join("\n"),
      ])).code,
      0,
    );
    const gastownPreset: AgentPreset = {
      name: "gastown",
      command: BRIDGE,
      host: true,
      args: ["--rig", "work", "--rig-repo", rigB.dir, "--poll", "1", "--margin", "10"],
      env: gtB.env,
      price: 0n,
      timeoutMs: 240_000,
      budget: 0n,
      flavor: "anthropic",
      upstream: "",
      apiKey: "",
      inputPerMillion: 0n,
      outputPerMillion: 0n,
      headers: {},
    };
    // The provider: home town 2, following town 1 too (the request is posted there).
    const providerKey = generateSecretKey();
    const providerDir = `${scratch}/provider`;
    const provider = await startProviderNode({
      stateDir: providerDir,
      secretKey: providerKey,
      btpUrl: btpOf(town2, "provider"),
      btpToken: "t",
      relayUrl: relayOf(town2),
      townPubkey: await townPubkeyOf(town2),
      moreTowns: [{ relayUrl: relayOf(town1) }],
      skillsDir: skills,
      agents: { gastown: gastownPreset },
      heartbeatMs: 3_600_000,
    });
    stops.unshift(() => provider.stop());
    assertEquals(provider.ilpAddress, "test.town.town2.provider");

    // Gas Town A: the requester's profile on town 1, a rig with the broken sample, a bead.
    const alice = await requesterProfile({
      root: scratch,
      relayUrl: relayOf(town1),
      btpUrl: `btp+ws://127.0.0.1:${town1.btpPort}`,
    });
    const home = `${scratch}/agent-home`;
    const gtA = await standInGasTown(`${scratch}/gastown-a`, {
      TURNPIKE: `${Deno.execPath()} run -A ${root("cli.ts")}`,
      TURNPIKE_HOME: home,
      TURNPIKE_NODE_IDLE_TIMEOUT: "2",
      TURNPIKE_PROFILE: "alice",
      NO_COLOR: "1",
    });
    const rigA = await tempGitRepo(`${gtA.home}/rigs/myrig`);
    const base = await commitAgentSample(rigA);
    await Deno.writeTextFile(
      `${gtA.beads}/gt-1.json`,
      JSON.stringify({
        id: "gt-1",
        title: "Fix add",
        description: "add.sh subtracts; test.sh fails.",
        acceptance_criteria: "sh test.sh exits 0",
        status: "open",
        priority: 1,
        issue_type: "bug",
      }),
    );
    const agent = `${POLECAT} --agent gastown --accept "sh test.sh" --bid 1000000 ` +
      `--provider ${getPublicKey(providerKey)} --timeout 240 --profile alice ` +
      `--passphrase-file ${home}/pw`;
    assertEquals(
      (await gtA.run("gt", ["config", "agent", "set", "turnpike-remote", agent])).code,
      0,
    );

    // 1. A slings its bead: the remote polecat ends with gt done, its branch at B's commit.
    const slung = await gtA.run("gt", ["sling", "gt-1", "myrig", "--agent", "turnpike-remote"]);
    assertEquals(slung.code, 0, slung.stderr + slung.stdout);
    assertStringIncludes(slung.stderr, "turnpike-polecat: result done");
    assertStringIncludes(slung.stderr, "turnpike-polecat: bead gt-1 on polecat/p1/gt-1");
    const tip = await rigA.git("rev-parse", "polecat/p1/gt-1");
    assertEquals(await rigA.git("rev-parse", `${tip}~1`), base);
    assertEquals(await rigA.git("log", "-1", "--format=%s", tip), "add: add, not subtract");
    assertEquals(await gtA.doneLog(), [`myrig/polecats/p1 polecat/p1/gt-1 ${tip} COMPLETED`]);

    // B's side: the bead its bridge filed, closed by its polecat; the bridge removed its polecat's
    // branch after the job. A's tip is B's commit with the requester's provenance trailers.
    const beadB = await gtB.bead("gt-1");
    assertEquals([beadB.title, beadB.status], ["Fix add", "closed"]);
    assertStringIncludes(beadB.description, "add.sh subtracts");
    assertEquals(await rigB.git("branch", "--list", "polecat/p1/gt-1"), "");
    assertStringIncludes(await rigA.git("log", "-1", "--format=%B", tip), "Bead: gt-1");
    assertEquals(await gtB.doneLog(), []);

    // 2. A's Refinery: the remote polecat's branch (its tip names its turnpike job) goes through
    // `turnpike refinery`, whose NDJSON it reads: merged into the rig's main, gated there, A's
    // bead closed.
    const refined = await gtA.run(REFINERY, ["myrig"]);
    assertEquals(refined.code, 0, refined.stderr);
    assertStringIncludes(refined.stdout, "Merged polecat/p1/gt-1 into myrig main");
    const job = await rigA.git("log", "-1", "--format=%(trailers:key=Turnpike-Job,valueonly)", tip);
    const ndjson = (await Deno.readTextFile(`${gtA.home}/refinery.myrig.ndjson`)).split("\n")
      .filter((l) => l !== "").map((l) => JSON.parse(l));
    const outcome = ndjson.find((l) => l.type === "outcome");
    assertEquals([outcome?.job, outcome?.outcome], [job, "merged"], JSON.stringify(ndjson));
    assertEquals(ndjson.find((l) => l.type === "gate")?.verdict, "pass", JSON.stringify(ndjson));
    assertEquals(ndjson.at(-1)?.type, "refinery");
    assertEquals(ndjson.at(-1)?.merged, 1);
    assertEquals(await rigA.git("rev-parse", "main"), outcome.tip);
    assertStringIncludes(
      await rigA.git("log", "-1", "--format=%B", "main"),
      `Turnpike-Job: ${job}`,
    );
    assertStringIncludes(await rigA.git("show", "main:add.sh"), "$1 + $2");
    const gate = await new Deno.Command("sh", { args: ["test.sh"], cwd: rigA.dir }).output();
    assertEquals(gate.code, 0, new TextDecoder().decode(gate.stdout));
    assertEquals((await gtA.bead("gt-1")).status, "closed");
    // A second patrol finds nothing to merge.
    assertEquals((await gtA.run(REFINERY, ["myrig"])).stdout, "");

    // 3. One job, paid once, routed town 1 -> town 2 -> provider: every hop's books agree.
    const jobs = (await alice("job", "list")).lines.filter((l) => l.type === "job");
    assertEquals(jobs.length, 1, JSON.stringify(jobs));
    assertEquals(String(jobs[0].id), job);
    const fulfilled = <T extends { event: string; jobId: string }>(es: T[]) =>
      es.filter((e) => e.event === "fulfilled" && e.jobId === job);
    const paid = fulfilled(await paymentLog(`${home}/alice`)).filter((e) => e.category === "job");
    const earned = fulfilled(await paymentLog(providerDir)).filter((e) => e.direction === "in");
    // Its two invoices (the deposit, the delivery) each paid once, and earned once by the provider.
    assertEquals(paid.length, 2, JSON.stringify(paid));
    assertEquals(new Set(paid.map((e) => e.invoiceId)).size, 2, JSON.stringify(paid));
    assertEquals(
      earned.map((e) => [e.invoiceId, e.amount]).sort(),
      paid.map((e) => [e.invoiceId, e.amount]).sort(),
    );
    const sum = (es: { amount: string }[]) => es.reduce((n, e) => n + BigInt(e.amount), 0n);
    const total = sum(paid);
    assert(total > 0n, "a paid job");
    // Town 1 forwarded the payments to its child town 2, which forwarded them to the provider:
    // each owes its child what it forwarded (packets fulfilled, nothing in flight).
    const owed1 = (await openPeerLedger({ stateDir: `${scratch}/town1` })).balance("town2");
    const owed2 = (await openPeerLedger({ stateDir: `${scratch}/town2` })).balance("provider");
    assertEquals([owed2.owed, owed2.packets, owed2.inFlight + owed2.inDoubt], [
      total,
      paid.length,
      0n,
    ]);
    assertEquals(owed1.inFlight + owed1.inDoubt, 0n);
    assertEquals(owed1.owed, total);
    // The other way, the provider paid town 1 through town 2 for its writes there and for the
    // result's blobs (the bundle and the transcript: on a town the requester reads), and town 1's
    // income from its child town 2 is exactly that.
    const provOut = (await paymentLog(providerDir)).filter((e) =>
      e.event === "fulfilled" && e.direction === "out"
    );
    assertEquals(
      provOut.filter((e) => e.jobId === job && e.category === "town-blob").map((e) => e.peer),
      ["test.town", "test.town"],
    );
    const town1Income = await paymentLog(`${scratch}/town1`);
    assertEquals(
      sum(town1Income.filter((e) => e.peer === "town2")),
      sum(provOut.filter((e) => e.peer === "test.town")),
    );
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await Deno.remove(skills, { recursive: true }).catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

async function mkdir(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  return path;
}
