/**
 * Which code a command line needs (docs/SCALE.md "A command's start"). `cli.ts` builds the root
 * command and registers only what the command line names: one command group (`job`, `town`...)
 * from its own module, loaded then; for the commands that only read (`job list`, `job status`,
 * `job wait`, `node status`) only that subcommand, from a module that loads no role's code; and
 * for the root's own help and `--version` no group at all, the root's list of commands coming
 * from {@linkcode COMMAND_INDEX} (tests/unit/cli/command_index_test.ts checks that it prints what the
 * full tree, cli/program.ts, prints).
 *
 * @module
 */
import { type Command, Help } from "commander";
import { lazyImport } from "./lazy_import.ts";

/** A top-level command as the root's help lists it, and how to register it. */
export interface CommandEntry {
  /** Its name (`job`). */
  name: string;
  /** Its term in the root's help (`stage <name> [flags...]`, `init [options]`). */
  term: string;
  /** Its description in the root's help. */
  description: string;
  /** The module (relative to cli/) whose code `register` loads. */
  module: string;
  /** Loads its module and registers the command (and its subcommands) on the program. */
  register(program: Command): Promise<void>;
}

/** A subcommand registered from a module of its own, without the rest of its group. */
export interface SubcommandEntry {
  /** The group's name (`job`). */
  group: string;
  /** The subcommand's name (`list`). */
  name: string;
  /** The module (relative to cli/) whose code `register` loads. */
  module: string;
  /** Loads its module and adds the subcommand to the group's command. */
  register(group: Command): Promise<void>;
}

/**
 * Every top-level command, in the root help's order.
 *
 * @example
 * ```ts
 * import { COMMAND_INDEX } from "./command_index.ts";
 *
 * console.log(COMMAND_INDEX.map((c) => c.name).join(" "));
 * ```
 */
export const COMMAND_INDEX: readonly CommandEntry[] = [
  {
    name: "init",
    term: "init [options]",
    description: "make this profile ready for a role: wallet (if none) and config.toml",
    module: "./init_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./init_command.ts")>(
        new URL("./init_command.ts", import.meta.url),
      )).registerInitCommand(p),
  },
  {
    name: "demo",
    term: "demo [options]",
    description: "run the embedded default: a paid ci-run (or --skill docker-build) job " +
      "through a local town and provider",
    module: "./demo_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./demo_command.ts")>(
        new URL("./demo_command.ts", import.meta.url),
      )).registerDemoCommand(p),
  },
  {
    name: "wallet",
    term: "wallet",
    description: "the node's identity: one key for Nostr and EVM, encrypted at rest",
    module: "./wallet_command.ts",
    register: async (p) => {
      const [{ registerWalletCommand }, { registerWalletBooks }] = await Promise.all([
        lazyImport<typeof import("./wallet_command.ts")>(
          new URL("./wallet_command.ts", import.meta.url),
        ),
        lazyImport<typeof import("./wallet_books_command.ts")>(
          new URL("./wallet_books_command.ts", import.meta.url),
        ),
      ]);
      registerWalletBooks(registerWalletCommand(p));
    },
  },
  {
    name: "stage",
    term: "stage <name> [flags...]",
    description: "run one pipeline stage alone on stdin/stdout (see docs/PROTOCOL.md framing)",
    module: "./stage_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./stage_command.ts")>(
        new URL("./stage_command.ts", import.meta.url),
      )).registerStageCommand(p),
  },
  {
    name: "town",
    term: "town",
    description: "run a town (ILP-gated relay)",
    module: "./town_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./town_command.ts")>(
        new URL("./town_command.ts", import.meta.url),
      )).registerTownCommand(p),
  },
  {
    name: "channel",
    term: "channel",
    description:
      "EVM payment channels with the BTP peer (open, balances, withdraw, close, recover)",
    module: "./channel_command.ts",
    register: async (p) => {
      (await lazyImport<typeof import("./channel_command.ts")>(
        new URL("./channel_command.ts", import.meta.url),
      )).registerChannelCommand(p);
    },
  },
  {
    name: "chain",
    term: "chain",
    description:
      "chains for payment channels: a local one (anvil + the contracts), or deploy to one",
    module: "./chain_command.ts",
    register: async (p) => {
      (await lazyImport<typeof import("./chain_command.ts")>(
        new URL("./chain_command.ts", import.meta.url),
      )).registerChainCommand(p);
    },
  },
  {
    name: "db",
    term: "db",
    description: "the PostgreSQL store several town processes share",
    module: "./db_command.ts",
    register: async (p) => {
      (await lazyImport<typeof import("./db_command.ts")>(
        new URL("./db_command.ts", import.meta.url),
      )).registerDbCommand(p);
    },
  },
  {
    name: "job",
    term: "job",
    description: "post paid NIP-90 jobs and follow them",
    module: "./job_command.ts",
    register: async (p) => {
      const [{ registerJobCommand }, { registerPruneCommands }] = await Promise.all([
        lazyImport<typeof import("./job_command.ts")>(new URL("./job_command.ts", import.meta.url)),
        lazyImport<typeof import("./prune_command.ts")>(
          new URL("./prune_command.ts", import.meta.url),
        ),
      ]);
      registerJobCommand(p);
      registerPruneCommands(p);
    },
  },
  {
    name: "witness",
    term: "witness [options]",
    description: "follow the profile's remote agent workers; sling a stalled one's task again",
    module: "./witness_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./witness_command.ts")>(
        new URL("./witness_command.ts", import.meta.url),
      )).registerWitnessCommand(p),
  },
  {
    name: "refinery",
    term: "refinery [options] [jobs...]",
    description: "merge the profile's delivered agent tasks into a branch: ordered, checked, " +
      "gated; a conflict slung again once",
    module: "./refinery_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./refinery_command.ts")>(
        new URL("./refinery_command.ts", import.meta.url),
      )).registerRefineryCommand(p),
  },
  {
    name: "requester",
    term: "requester [options]",
    description: "run the profile's node in the foreground: follow and pay its jobs, serve its " +
      "commands (Ctrl-C stops it)",
    module: "./requester_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./requester_command.ts")>(
        new URL("./requester_command.ts", import.meta.url),
      )).registerRequesterCommand(p),
  },
  {
    name: "dm",
    term: "dm",
    description: "private messages (NIP-17 gift wraps) to a node",
    module: "./dm_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./dm_command.ts")>(
        new URL("./dm_command.ts", import.meta.url),
      )).registerDmCommand(p),
  },
  {
    name: "gt",
    term: "gt",
    description: "Gas Town workers: their keys, whois, the Mayor's roster",
    module: "./gt_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./gt_command.ts")>(
        new URL("./gt_command.ts", import.meta.url),
      )).registerGtCommand(p),
  },
  {
    name: "beads",
    term: "beads",
    description: "Gas Town beads shared through the towns, encrypted to the rig's members",
    module: "./beads_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./beads_command.ts")>(
        new URL("./beads_command.ts", import.meta.url),
      )).registerBeadsCommand(p),
  },
  {
    name: "skill",
    term: "skill",
    description: "write and try skills (docs/SKILLS.md)",
    module: "./skill_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./skill_command.ts")>(
        new URL("./skill_command.ts", import.meta.url),
      )).registerSkillCommand(p),
  },
  {
    name: "node",
    term: "node",
    description: "run a provider node (sell compute)",
    module: "./node_command.ts",
    register: async (p) => {
      const [{ registerNodeCommand }, { registerPruneCommands }] = await Promise.all([
        lazyImport<typeof import("./node_command.ts")>(
          new URL("./node_command.ts", import.meta.url),
        ),
        lazyImport<typeof import("./prune_command.ts")>(
          new URL("./prune_command.ts", import.meta.url),
        ),
      ]);
      registerNodeCommand(p);
      registerPruneCommands(p);
    },
  },
  {
    name: "doctor",
    term: "doctor [options]",
    description: "check this machine and config (sandbox, Docker, state, wallet, endpoints)",
    module: "./doctor_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./doctor_command.ts")>(
        new URL("./doctor_command.ts", import.meta.url),
      )).registerDoctorCommand(p),
  },
  {
    name: "relay",
    term: "relay",
    description: "the town's relay as this node sees it",
    module: "./relay_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./relay_command.ts")>(
        new URL("./relay_command.ts", import.meta.url),
      )).registerRelayCommand(p),
  },
  {
    name: "providers",
    term: "providers [options]",
    description: "who serves what kind (skill), at what price, online or not",
    module: "./providers_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./providers_command.ts")>(
        new URL("./providers_command.ts", import.meta.url),
      )).registerProvidersCommand(p),
  },
  {
    name: "dash",
    term: "dash [options]",
    description: "live dashboard: town, channel, jobs, provider, network (q quits)",
    module: "./dash_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./dash_command.ts")>(
        new URL("./dash_command.ts", import.meta.url),
      )).registerDashCommand(p),
  },
  {
    name: "towns",
    term: "towns",
    description: "the more towns of this profile: followed, announced on, posted on",
    module: "./towns_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./towns_command.ts")>(
        new URL("./towns_command.ts", import.meta.url),
      )).registerTownsCommand(p),
  },
  {
    name: "stats",
    term: "stats [options]",
    description: "spent, earned and net by category, per day and per job; jobs by status",
    module: "./stats_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./stats_command.ts")>(
        new URL("./stats_command.ts", import.meta.url),
      )).registerStatsCommand(p),
  },
  {
    name: "export",
    term: "export [options]",
    description: "export the payment log as CSV (default) or JSON (--output json)",
    module: "./export_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./export_command.ts")>(
        new URL("./export_command.ts", import.meta.url),
      )).registerExportCommand(p),
  },
  {
    name: "receipts",
    term: "receipts [options]",
    description: "this profile's signed receipts of its ended jobs (--check: against the books)",
    module: "./receipts_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./receipts_command.ts")>(
        new URL("./receipts_command.ts", import.meta.url),
      )).registerReceiptsCommand(p),
  },
  {
    name: "trust",
    term: "trust [options] [npub]",
    description: "a counterparty's trust from this profile's receipts and its roster's assertions",
    module: "./trust_command.ts",
    register: async (p) =>
      (await lazyImport<typeof import("./trust_command.ts")>(
        new URL("./trust_command.ts", import.meta.url),
      )).registerTrustCommand(p),
  },
  {
    name: "completions",
    term: "completions <shell>",
    description: "print a shell completion script (bash, zsh, fish, powershell)",
    module: "./program.ts",
    // Completions are generated from the whole tree: every group is registered.
    register: async (p) =>
      (await lazyImport<typeof import("./program.ts")>(new URL("./program.ts", import.meta.url)))
        .registerEveryCommand(p),
  },
];

/**
 * The subcommands that only read, each registered alone from a module that loads no role's
 * code and no transport (a test walks their imports: tests/unit/cli/command_index_test.ts).
 *
 * @example
 * ```ts
 * import { READ_SUBCOMMANDS } from "./command_index.ts";
 *
 * console.log(READ_SUBCOMMANDS.map((s) => `${s.group} ${s.name}`));
 * ```
 */
export const READ_SUBCOMMANDS: readonly SubcommandEntry[] = [
  {
    group: "job",
    name: "status",
    module: "./job_read_command.ts",
    register: async (g) =>
      (await lazyImport<typeof import("./job_read_command.ts")>(
        new URL("./job_read_command.ts", import.meta.url),
      )).addJobStatusCommand(g),
  },
  {
    group: "job",
    name: "wait",
    module: "./job_read_command.ts",
    register: async (g) =>
      (await lazyImport<typeof import("./job_read_command.ts")>(
        new URL("./job_read_command.ts", import.meta.url),
      )).addJobWaitCommand(g),
  },
  {
    group: "job",
    name: "list",
    module: "./job_read_command.ts",
    register: async (g) =>
      (await lazyImport<typeof import("./job_read_command.ts")>(
        new URL("./job_read_command.ts", import.meta.url),
      )).addJobListCommand(g),
  },
  {
    group: "node",
    name: "status",
    module: "./node_status_command.ts",
    register: async (g) =>
      (await lazyImport<typeof import("./node_status_command.ts")>(
        new URL("./node_status_command.ts", import.meta.url),
      )).addNodeStatusCommand(g),
  },
];

/** Global options that take a value (cli/root_command.ts). */
const VALUED_GLOBALS = new Set(["--state-dir", "--profile", "--output"]);

/** What a command line needs registered on the root command. */
export type CommandNeed =
  /** The root's own help or version (or a name no command has): the index, no group. */
  | { kind: "index" }
  /** One group, whole. */
  | { kind: "group"; entry: CommandEntry }
  /** One subcommand of a group, alone. */
  | { kind: "subcommand"; group: CommandEntry; entry: SubcommandEntry };

/**
 * What a command line (without the program name) needs: its first two words that are not
 * options name a group and a subcommand; `help <group>` needs that group, and tab's hidden
 * `complete` (the completion scripts call it) the tree `completions` registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commandNeed } from "./command_index.ts";
 *
 * assert.equal(commandNeed(["--json", "job", "list"]).kind, "subcommand");
 * assert.equal(commandNeed(["--version"]).kind, "index");
 * assert.equal(commandNeed(["town", "up"]).kind, "group");
 * ```
 */
export function commandNeed(args: readonly string[]): CommandNeed {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    if (args[i] === "--") break;
    if (VALUED_GLOBALS.has(args[i])) i++;
    else if (!args[i].startsWith("-")) words.push(args[i]);
  }
  const named = (name: string | undefined) =>
    COMMAND_INDEX.find((c) => c.name === (name === "complete" ? "completions" : name));
  if (words[0] === "help") {
    const group = named(words[1]);
    return group === undefined ? { kind: "index" } : { kind: "group", entry: group };
  }
  const group = named(words[0]);
  if (group === undefined) return { kind: "index" };
  const sub = READ_SUBCOMMANDS.find((s) => s.group === group.name && s.name === words[1]);
  return sub === undefined
    ? { kind: "group", entry: group }
    : { kind: "subcommand", group, entry: sub };
}

/**
 * Registers on `program` what `need` names: for the index, every top-level command as a
 * stand-in with its name and description (the root's help lists them; running one is never
 * asked of a stand-in, as a command line naming a group registers the group itself).
 *
 * @example
 * ```ts
 * import { commandNeed, registerNeed } from "./command_index.ts";
 * import { createRootCommand } from "./root_command.ts";
 *
 * const program = createRootCommand();
 * await registerNeed(program, commandNeed(["--help"]));
 * ```
 */
export async function registerNeed(program: Command, need: CommandNeed): Promise<void> {
  switch (need.kind) {
    case "index": {
      const terms = new Map(COMMAND_INDEX.map((c) => [c.name, c.term]));
      const standard = new Help();
      program.configureHelp({
        ...program.configureHelp(),
        subcommandTerm: (cmd) => terms.get(cmd.name()) ?? standard.subcommandTerm(cmd),
      });
      for (const c of COMMAND_INDEX) program.command(c.name).description(c.description);
      return;
    }
    case "group":
      return await need.entry.register(program);
    case "subcommand": {
      const group = program.command(need.group.name).description(need.group.description);
      return await need.entry.register(group);
    }
  }
}
