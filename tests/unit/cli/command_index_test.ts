/**
 * cli/command_index.ts: a command line registers only what it names (docs/SCALE.md "A command's
 * start"), and nothing is lost by it: the root's help from the index is the full tree's, each
 * command that only reads has the help it has in its group, and what those commands load before
 * they answer holds no module of roles/ or transport/, and `job submit`, which the profile's node
 * serves, none of chain/ and only the few of roles/ and transport/ it uses itself: the modules
 * `deno run` reads before the program starts are every one it can name from cli.ts and from the
 * module the index names, dynamic `import("...")`s included (from `deno info --json`;
 * cli/lazy_import.ts).
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import type { Command } from "commander";
import { createProgram } from "../../../cli/program.ts";
import { createRootCommand } from "../../../cli/root_command.ts";
import {
  COMMAND_INDEX,
  commandNeed,
  READ_SUBCOMMANDS,
  registerNeed,
} from "../../../cli/command_index.ts";

const root = new URL("../../../", import.meta.url);

/** A command's help text, with the program's output width fixed. */
function helpOf(cmd: Command): string {
  cmd.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  return cmd.helpInformation();
}

function find(program: Command, path: readonly string[]): Command {
  let cmd = program;
  for (const name of path) {
    const next = cmd.commands.find((c) => c.name() === name);
    assert(next !== undefined, `no command ${path.join(" ")}`);
    cmd = next;
  }
  return cmd;
}

Deno.test("command index: the root's help from the index is the full tree's", async () => {
  const light = createRootCommand();
  await registerNeed(light, commandNeed(["--help"]));
  assertEquals(helpOf(light), helpOf(createProgram()));
});

Deno.test("command index: every top-level command is in the index, in order", () => {
  const visible = createProgram().commands.filter((c) =>
    !(c as Command & { _hidden: boolean })._hidden
  );
  assertEquals(COMMAND_INDEX.map((c) => c.name), visible.map((c) => c.name()));
});

Deno.test("command index: a group registered alone has the help it has in the full tree", async () => {
  const full = createProgram();
  for (const entry of COMMAND_INDEX) {
    const alone = createRootCommand();
    await registerNeed(alone, commandNeed([entry.name]));
    assertEquals(helpOf(find(alone, [entry.name])), helpOf(find(full, [entry.name])), entry.name);
  }
});

Deno.test("command index: a read subcommand registered alone has its full-tree help", async () => {
  const full = createProgram();
  for (const sub of READ_SUBCOMMANDS) {
    const need = commandNeed(["--json", sub.group, sub.name, "x"]);
    assertEquals(need.kind, "subcommand");
    const alone = createRootCommand();
    await registerNeed(alone, need);
    const path = [sub.group, sub.name];
    assertEquals(helpOf(find(alone, path)), helpOf(find(full, path)), path.join(" "));
  }
});

Deno.test("command index: what a command line needs", () => {
  const kind = (...args: string[]) => {
    const need = commandNeed(args);
    return need.kind === "index"
      ? "index"
      : need.kind === "group"
      ? `group ${need.entry.name}`
      : `${need.group.name} ${need.entry.name} alone`;
  };
  assertEquals(kind("--version"), "index");
  assertEquals(kind("--help"), "index");
  assertEquals(kind(), "index");
  assertEquals(kind("jbo"), "index");
  assertEquals(kind("--profile", "job", "--json", "job", "list"), "job list alone");
  assertEquals(kind("--output", "json", "node", "status"), "node status alone");
  assertEquals(kind("job", "submit", "echo"), "group job");
  assertEquals(kind("job", "--help"), "group job");
  assertEquals(kind("help", "town"), "group town");
  assertEquals(kind("complete", "--", "job"), "group completions");
});

Deno.test("command index: each entry's module is the one its register function imports", () => {
  for (const entry of [...COMMAND_INDEX, ...READ_SUBCOMMANDS]) {
    const source = String(entry.register);
    assert(
      source.includes(`new URL("${entry.module}", import.meta.url)`),
      `${entry.name}: ${source}`,
    );
  }
});

/**
 * The repository paths of the modules `deno run` reads for `file`: its imports' code, static or
 * dynamic (a dynamic `import("./x.ts")` is read at start too; type-only imports are not).
 */
async function staticClosure(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    redirects: Record<string, string>;
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string } }[];
    }[];
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [info.roots[0]];
  while (todo.length > 0) {
    const next = todo.pop()!;
    const specifier = info.redirects[next] ?? next;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (dep.code?.specifier) todo.push(dep.code.specifier);
    }
  }
  return [...seen].filter((s) => s.startsWith(root.href)).map((s) => s.slice(root.href.length));
}

/** What the command line loads before it answers: cli.ts's imports and its need's module's. */
async function loadedBy(args: string[]): Promise<string[]> {
  const need = commandNeed(args);
  const modules = need.kind === "index" ? [] : [need.entry.module];
  const closures = await Promise.all(
    ["cli.ts", ...modules.map((m) => `cli/${m.replace("./", "")}`)].map(staticClosure),
  );
  return [...new Set(closures.flat())].sort();
}

const heavy = (path: string) => path.startsWith("roles/") || path.startsWith("transport/");

Deno.test("command index: --version, --help and the job commands that read load no roles/ or transport/", async () => {
  for (
    const args of [
      ["--version"],
      ["--help"],
      ["--json", "job", "list"],
      ["job", "status", "abc"],
      ["job", "wait", "abc"],
    ]
  ) {
    const loaded = await loadedBy(args);
    // The walk saw the modules (job list's readers are dozens), so an empty list means something.
    assert(loaded.includes("cli.ts") && loaded.length > 3, `${args.join(" ")}: ${loaded}`);
    assertEquals(loaded.filter(heavy), [], args.join(" "));
  }
  const version = await loadedBy(["--version"]);
  // And the root of the error classes, which CliError extends (docs/ARCHITECTURE.md "Errors"):
  // one class, no imports.
  const errorRoot = "protocol/turnpike_error.ts";
  assertEquals(
    version.filter((p) => !p.startsWith("cli") && p !== errorRoot),
    [],
    "--version loads only cli/",
  );
});

Deno.test("command index: node status loads only the two readers it needs from roles/", async () => {
  const loaded = await loadedBy(["--json", "node", "status"]);
  assertEquals(loaded.filter(heavy), [
    // The provider's status file, and the profile node's socket lines (docs/SCALE.md).
    "roles/provider/provider_status.ts",
    "roles/requester/node_wire.ts",
    // The remote workers as the Witness last saw them (docs/AGENTS.md "The Witness").
    "roles/requester/witness_book.ts",
    // Their errors' base (docs/ARCHITECTURE.md "Errors"): one class, importing only the root.
    "roles/role_error.ts",
  ]);
});

Deno.test("command index: job submit loads no chain/ and, of roles/ and transport/, only what it uses", async () => {
  const loaded = await loadedBy(["--json", "job", "submit", "echo"]);
  assert(loaded.includes("cli/job_command.ts"), `${loaded}`);
  // The requester, the channels, BTP and the chain are the profile's node's: the command proves
  // the passphrase and talks to the node over its socket (docs/SCALE.md "A command's start"); its
  // error table names their classes by name (cli/job_errors.ts).
  assertEquals(loaded.filter((p) => p.startsWith("chain/")), []);
  assertEquals(loaded.filter(heavy), [
    // An agent task's names on the wire: a small module (the bundling and sealing load only for
    // an agent task, cli/agent_task_command.ts).
    "roles/agent_work/agent_task_wire.ts",
    // The job's spec, checked against the town's providers before anything is paid.
    "roles/requester/job_precheck.ts",
    "roles/requester/job_spec.ts",
    // Files handed to the node (staged in the profile's uploads/), and the node's socket lines.
    "roles/requester/node_uploads.ts",
    "roles/requester/node_wire.ts",
    // The town's providers, read from its relay.
    "roles/requester/provider_directory.ts",
    // Their errors' base (docs/ARCHITECTURE.md "Errors"): one class, importing only the root.
    "roles/role_error.ts",
    // The relay reader the providers are read with.
    "transport/nip01_client.ts",
    "transport/nip42_answer.ts",
    "transport/relay_event_check.ts",
    "transport/relay_query.ts",
    "transport/relay_query_many.ts",
    // The CAs of ca_file the relay reader trusts (a town on TLS, docs/OPERATIONS.md).
    "transport/tls_trust.ts",
    "transport/transport_error.ts",
  ]);
});
