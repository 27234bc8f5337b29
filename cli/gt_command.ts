/**
 * `turnpike gt ...`: a Mayor's Gas Town workers on Nostr (docs/AGENTS.md "Gas Town workers",
 * docs/PROTOCOL.md "Gas Town workers").
 *
 * - `gt whois <npub|hex|address>`: the worker's kind 0 read from the towns, its Mayor's signature
 *   checked, and whether its key is current or was retired; an address is looked up among the
 *   keys this profile introduced (`gt/introduced.json`).
 * - `gt roster list|add|remove [npub]`: the Mayor's roster, a NIP-02 follow list (kind 3) of the
 *   providers and peer towns it trusts; `add` and `remove` publish the new list (a paid write by
 *   the profile's node). `providers --roster` and `job submit --provider roster` read it.
 * - `gt rotate <address>`: the worker's key replaced by the next rotation's, the old one revoked.
 *
 * @module
 */
import type { Command } from "commander";
import { nip19 } from "nostr-tools";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { callRequesterNode } from "./job_command.ts";
import {
  addRequesterConnectionOptions,
  loadRequesterConfig,
  type RequesterCliOptions,
} from "./job_read_command.ts";
import { recipientHex } from "./dm_command.ts";
import { printJsonLine } from "./json_line.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { checkWorkerAddress } from "../identity/worker_key.ts";
import { WorkerIdentityError } from "../protocol/gt_worker_identity.ts";
import type { RequesterSettings } from "../config/requester_settings.ts";
import { readIntroducedWorkers } from "../roles/requester/worker_desk.ts";
import { lookUpWorker, readRosterList } from "../roles/requester/worker_lookup.ts";

const towns = (config: RequesterSettings) => [
  config.relayUrl,
  ...(config.moreTowns ?? []).map((t) => t.relayUrl),
];
const npub = (hex: string) => nip19.npubEncode(hex);
const json = (opts: RequesterCliOptions) => opts.output === "json";

/**
 * Registers `turnpike gt ...`.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { registerGtCommand } from "./gt_command.ts";
 *
 * registerGtCommand(new Command("turnpike"));
 * ```
 */
export function registerGtCommand(program: Command): void {
  const gt = program.command("gt").description(
    "Gas Town workers: their keys, whois, the Mayor's roster",
  );
  addRequesterConnectionOptions(
    gt.command("whois <who>")
      .description("a worker's Gas Town address, town and Mayor (checked), by npub or address"),
  ).action(async (who: string, _o: unknown, cmd: Command) => {
    await whois(who, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
  });
  const roster = gt.command("roster").description(
    "the Mayor's roster: a NIP-02 follow list (kind 3) of the providers and towns it trusts",
  );
  addRequesterConnectionOptions(roster.command("list").description("the pubkeys on the roster"))
    .action(async (_o: unknown, cmd: Command) => {
      await changeRoster("list", undefined, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
    });
  for (const change of ["add", "remove"] as const) {
    addRequesterConnectionOptions(
      roster.command(`${change} <npub>`).description(
        `${change} a pubkey and publish the roster (a paid write)`,
      ),
    ).action(async (who: string, _o: unknown, cmd: Command) => {
      await changeRoster(change, who, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
    });
  }
  addRequesterConnectionOptions(
    gt.command("rotate <address>")
      .description("replace a worker's key with a new one and revoke the old (paid writes)"),
  ).action(async (address: string, _o: unknown, cmd: Command) => {
    await rotate(address, cmd.optsWithGlobals<RequesterCliOptions>(), cmd);
  });
}

/** The pubkey `who` names: an npub or hex, or an address among the keys introduced here. */
async function workerPubkey(stateDir: string, who: string): Promise<string> {
  if (!who.includes("/") && who !== "mayor") return recipientHex(who);
  checkWorkerAddress(who);
  const known = Object.entries(await readIntroducedWorkers(stateDir))
    .filter(([, w]) => w.address === who)
    .sort(([, a], [, b]) => b.rotation - a.rotation);
  if (known.length === 0) {
    throw new CliError(`this profile introduced no worker ${who}`, {
      exitCode: ExitCode.Usage,
      suggestion: "give the worker's npub, or post a job for it first (`job submit --worker`)",
    });
  }
  return known[0][0];
}

async function whois(who: string, opts: RequesterCliOptions, cmd: Command): Promise<void> {
  const config = await loadRequesterConfig(opts, cmd);
  const pubkey = await workerPubkey(config.stateDir, who);
  let found;
  try {
    found = await lookUpWorker(towns(config), pubkey);
  } catch (err) {
    if (!(err instanceof WorkerIdentityError)) throw err;
    throw new CliError(err.message, {
      code: "not-a-worker",
      fields: { reason: err.reason },
      cause: err,
    });
  }
  if (json(opts)) {
    printJsonLine("whois", { ...found, npub: npub(pubkey), mayorVerified: true });
    return;
  }
  console.log(`worker   ${found.address} (${npub(pubkey)})`);
  console.log(`town     ${found.town}`);
  console.log(`mayor    ${npub(found.mayor)} (signature checked, rotation ${found.rotation})`);
  console.log(
    found.current
      ? "key      current"
      : `key      retired at ${new Date(found.revoked!.at * 1000).toISOString()}, ` +
        `replaced by ${npub(found.revoked!.replacedBy)}`,
  );
}

async function changeRoster(
  change: "list" | "add" | "remove",
  who: string | undefined,
  opts: RequesterCliOptions,
  cmd: Command,
): Promise<void> {
  const config = await loadRequesterConfig(opts, cmd);
  const mayor = (await readWalletFile(walletFilePath(config.stateDir))).pubkey;
  const read = await readRosterList(towns(config), mayor);
  const before = read.pubkeys;
  let roster = before;
  if (who !== undefined) {
    const pubkey = recipientHex(who);
    roster = change === "add"
      ? [...new Set([...before, pubkey])]
      : before.filter((p) => p !== pubkey);
    const action = { do: "roster" as const, pubkeys: roster, after: read.createdAt };
    for await (const _ of callRequesterNode(opts, config, cmd, { op: "gt", action })) {
      // the node's `gt` line: the roster as published
    }
  }
  if (json(opts)) printJsonLine("roster", { mayor, roster });
  else for (const p of roster) console.log(npub(p));
}

async function rotate(address: string, opts: RequesterCliOptions, cmd: Command): Promise<void> {
  checkWorkerAddress(address);
  const config = await loadRequesterConfig(opts, cmd);
  let rotated: Record<string, unknown> = {};
  const request = { op: "gt" as const, action: { do: "rotate" as const, address } };
  for await (const line of callRequesterNode(opts, config, cmd, request)) {
    if (line.type === "gt") rotated = line;
  }
  if (json(opts)) printJsonLine("rotated", { ...rotated, type: "rotated" });
  else {
    console.log(
      `${address}: key ${rotated.rotation} ${npub(String(rotated.current))} is current; ` +
        `${npub(String(rotated.retired))} retired`,
    );
  }
}
