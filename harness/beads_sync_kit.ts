/**
 * Test helper: Gas Town members for `turnpike beads sync` on one town process: each a profile
 * (its wallet, its config naming the town, its own background node) with its own
 * harness/stand_in_bd (a STAND-IN for beads' `bd`, named so: the real one does not install
 * here) in a directory of its own, hash ids as beads makes them.
 *
 * @module
 */
import { nip19 } from "nostr-tools";
import { ndjsonLines } from "./agent_cli.ts";
import { initWalletWithCli, runCli } from "./run_cli.ts";
import type { SharedTownProcess } from "./shared_town_process.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";

/**
 * The town's NIP-01 URL.
 *
 * tests/e2e/beads_sync_test.ts reads it off the town process it starts.
 */
export function townRelayUrl(town: SharedTownProcess): string {
  return `ws://127.0.0.1:${town.httpPort}`;
}

/**
 * The town's BTP URL for account `user` (token `t`: the town takes any).
 *
 * tests/e2e/beads_sync_test.ts reads it off the town process it starts.
 */
export function townBtpUrl(town: SharedTownProcess, user: string): string {
  return `btp+ws://${user}:t@127.0.0.1:${town.btpPort}`;
}

/** The stand-in `bd`. */
export const STAND_IN_BD: string = new URL("./stand_in_bd", import.meta.url).pathname;

/** A bead as the convergence checks compare it. */
export interface ComparedBead {
  id: string;
  title: string;
  description: string;
  status: string;
  priority: number;
  assignee: string;
  notes: string;
  labels: string[];
  deps: string[];
  comments: string[];
}

/** One member: its profile and its `bd`. */
export interface BeadsMember {
  name: string;
  pubkey: string;
  npub: string;
  stateDir: string;
  /** The environment its commands and its `bd` run with. */
  env: Record<string, string>;
  /** Runs its stand-in `bd`; resolves with stdout (throws on a non-zero exit). */
  bd(...args: string[]): Promise<string>;
  /** Its beads, compared fields only, by id. */
  beads(): Promise<ComparedBead[]>;
  /** `turnpike --json beads sync --rig <rig> ...more` for this profile. */
  sync(
    rig: string,
    ...more: string[]
  ): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }>;
  /** The argument list of that command (to spawn it and kill it). */
  syncArgs(rig: string, ...more: string[]): string[];
}

/**
 * A member named `name` under `root` on `town`.
 *
 * It runs `bd` against a town process, so it has no example here: tests/e2e/beads_sync_test.ts
 * syncs two members made with it.
 */
export async function beadsMember(
  root: string,
  name: string,
  town: SharedTownProcess,
): Promise<BeadsMember> {
  const home = `${root}/home`;
  const stateDir = `${home}/${name}`;
  const bdDir = `${root}/bd-${name}`;
  await Deno.mkdir(stateDir, { recursive: true });
  await Deno.mkdir(bdDir, { recursive: true });
  await Deno.writeTextFile(`${home}/pw`, "beads passphrase\n");
  await initWalletWithCli({ stateDir, passphraseFile: `${home}/pw` });
  await Deno.writeTextFile(
    `${stateDir}/config.toml`,
    `role = "requester"\nrelay_url = "${townRelayUrl(town)}"\n` +
      `connector_btp_url = "${townBtpUrl(town, name)}"\nbtp_token = "t"\n`,
  );
  const pubkey = (await readWalletFile(walletFilePath(stateDir))).pubkey;
  const env = {
    TURNPIKE_HOME: home,
    TURNPIKE_NODE_IDLE_TIMEOUT: "5",
    TURNPIKE_BD: STAND_IN_BD,
    STAND_IN_BD_DIR: bdDir,
    STAND_IN_BD_HASH_IDS: "1",
    STAND_IN_BD_PREFIX: name.slice(0, 2),
    BD_ACTOR: name,
  };
  const bd = async (...args: string[]) => {
    const out = await new Deno.Command(STAND_IN_BD, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`bd ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return text;
  };
  const syncArgs = (rig: string, ...more: string[]) => [
    "--profile",
    name,
    "--json",
    "beads",
    "sync",
    "--rig",
    rig,
    ...more,
    "--passphrase-file",
    `${home}/pw`,
    "--non-interactive",
  ];
  return {
    name,
    pubkey,
    npub: nip19.npubEncode(pubkey),
    stateDir,
    env,
    bd,
    beads: async () => {
      const list = JSON.parse(await bd("list", "--all", "--limit", "0", "--json")) as {
        id: string;
      }[];
      if (list.length === 0) return [];
      const shown = JSON.parse(await bd("show", ...list.map((i) => i.id), "--json"));
      return (shown as Record<string, unknown>[]).map(comparedBead)
        .sort((x, y) => x.id.localeCompare(y.id));
    },
    syncArgs,
    sync: async (rig, ...more) => {
      const out = await runCli(syncArgs(rig, ...more), { env });
      return { code: out.code, lines: ndjsonLines(out.stdout), stderr: out.stderr };
    },
  };
}

function comparedBead(i: Record<string, unknown>): ComparedBead {
  const deps = (i.dependencies ?? []) as { id: string; dependency_type: string }[];
  const comments = (i.comments ?? []) as { author: string; text: string }[];
  return {
    id: String(i.id),
    title: String(i.title ?? ""),
    description: String(i.description ?? ""),
    status: String(i.status),
    priority: Number(i.priority),
    assignee: String(i.assignee ?? ""),
    notes: String(i.notes ?? ""),
    labels: [...(i.labels ?? []) as string[]].sort(),
    deps: deps.map((d) => `${d.dependency_type}:${d.id}`).sort(),
    comments: comments.map((c) => `${c.author}: ${c.text}`).sort(),
  };
}
