/**
 * docs/OPERATIONS.md's walk-through "A Mayor on machine A, a polecat on machine B" pastes and runs
 * as it is: every fenced block marked `sh walkthrough` is taken from the doc, in order, and pasted
 * into one `bash` (the blocks marked `sh walkthrough background` each command in the background,
 * as in a terminal of its own), in a fresh HOME whose `~/turnpike` is this checkout and an empty
 * directory. Real processes throughout: the CLI's `init`, `town up`, `node up` (the sandbox, the
 * model gateway), `job submit`, `job results --apply`, git; Gas Town's `gt` and beads' `bd` are
 * tests/support/stand_in_gt and harness/stand_in_bd (mocks, named so: the real ones do not install here),
 * so the doc's `TURNPIKE` example runs `turnpike-polecat` in a polecat's worktree.
 *
 * What the test adds to the doc's text, and only that: free ports for the town in place of the
 * defaults another test may hold (`TURNPIKE_TOWN_PORT`, `TURNPIKE_BTP_PORT`, and the URLs the other
 * roles read, `TURNPIKE_RELAY_URL`, `TURNPIKE_CONNECTOR_BTP_URL`, which win over what `init`
 * wrote), the machine's Deno cache (`DENO_DIR`: a fresh HOME would fetch every module again), and
 * a wait after each long-running command until it is up ({@linkcode UP}: a person waits for its
 * terminal to say so).
 */
import { assert, assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { freePorts } from "../../harness/free_port.ts";
import { parse as parseToml } from "smol-toml";
import { parseAgentPresets } from "../../config/agent_presets.ts";

const root = (path: string) => new URL(`../../${path}`, import.meta.url).pathname;

/**
 * What the test waits for after each background command, in order: the town answering its NIP-11
 * document, then the requester seeing the provider's preset.
 */
const UP = [
  'curl -sf -H "Accept: application/nostr+json" "http://127.0.0.1:$TURNPIKE_TOWN_PORT/" > /dev/null',
  "turnpike --profile mayor --json providers 2> /dev/null | grep -q '\"scripted\"'",
];

/** A fenced block of the doc: its info string's words after the language, and its text. */
interface DocBlock {
  marks: string[];
  text: string;
}

/** The fenced `sh walkthrough` blocks of `doc`, in order. */
function walkthroughBlocks(doc: string): DocBlock[] {
  return [...doc.matchAll(/^```sh walkthrough([^\n]*)\n([\s\S]*?)^```$/gm)]
    .map((m) => ({ marks: m[1].trim().split(/\s+/).filter((w) => w !== ""), text: m[2] }));
}

/** A block's commands, a line ending in `\` joined with the next. */
function commandsOf(text: string): string[] {
  return text.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim() !== "");
}

/**
 * The script a reader's pasting amounts to: the blocks in order, each background command in its
 * own process group (killed at the end), then the wait for the provider.
 */
function pasted(blocks: DocBlock[]): string {
  const lines = [
    "set -eu -o pipefail",
    "set -m", // each background job in its own process group, so that the end stops all of it
    "pids=''",
    "trap 'for p in $pids; do kill -TERM -- -$p 2> /dev/null || true; done; wait' EXIT",
  ];
  let background = 0;
  for (const block of blocks) {
    if (!block.marks.includes("background")) {
      lines.push(block.text);
      continue;
    }
    for (const command of commandsOf(block.text)) {
      const up = UP[background++];
      assert(up !== undefined, `no wait known for the background command ${command}`);
      lines.push(
        `${command} > background-${background}.log 2>&1 &`,
        'pids="$pids $!"',
        `until ${up}; do`,
        '  for p in $pids; do kill -0 "$p" || { tail -n 20 background-*.log; exit 1; }; done',
        "  sleep 1",
        "done",
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** The Deno cache this process uses (`deno info --json`'s `denoDir`). */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

Deno.test("docs/OPERATIONS.md walk-through: its blocks pasted into one bash in a fresh HOME run a town, a provider with the scripted preset and a requester; the Mayor's applied branch and a polecat's branch through turnpike-polecat both pass the gate", async () => {
  const doc = await Deno.readTextFile(root("docs/OPERATIONS.md"));
  const blocks = walkthroughBlocks(doc);
  assertEquals(blocks.map((b) => b.marks.join(" ")), ["", "", "background", "", ""]);
  const home = await Deno.makeTempDir({ prefix: "turnpike-walkthrough-" });
  try {
    await Deno.symlink(root("").replace(/\/$/, ""), `${home}/turnpike`);
    const here = `${home}/here`;
    await Deno.mkdir(here);
    // The Mayor's Gas Town: the stand-ins on PATH, their state in the HOME.
    const bin = `${home}/stand-ins`;
    await Deno.mkdir(bin);
    await Deno.symlink(root("tests/support/stand_in_gt"), `${bin}/gt`);
    await Deno.symlink(root("harness/stand_in_bd"), `${bin}/bd`);
    await Deno.mkdir(`${home}/beads`);
    const [townPort, btpPort] = freePorts(2);
    const script = pasted(blocks);
    await Deno.writeTextFile(`${home}/pasted.sh`, script);
    const run = await new Deno.Command("bash", {
      args: [`${home}/pasted.sh`],
      cwd: here,
      env: {
        HOME: home,
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        TURNPIKE_TOWN_PORT: String(townPort),
        TURNPIKE_BTP_PORT: String(btpPort),
        TURNPIKE_RELAY_URL: `ws://127.0.0.1:${townPort}`,
        TURNPIKE_CONNECTOR_BTP_URL: `btp+ws://127.0.0.1:${btpPort}`,
        DENO_DIR: await denoDir(),
        STAND_IN_GT_HOME: `${home}/gt`,
        STAND_IN_BD_DIR: `${home}/beads`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const [stdout, stderr] = [run.stdout, run.stderr].map((b) => new TextDecoder().decode(b));
    assertEquals(run.code, 0, `${stderr}\n${stdout}`);
    // The Mayor's own job: the result applied as a branch whose gate passes.
    assertStringIncludes(stdout, "ok - add 2 3 = 5");
    const applied = JSON.parse(await Deno.readTextFile(`${here}/applied.json`));
    assertEquals([applied.type, applied.verdict], ["applied", "passed"]);
    // The polecat's: its branch fast-forwarded to the provider's commit, its gate passing there,
    // and `gt done` called once from it.
    const done = (await Deno.readTextFile(`${home}/gt/done.log`)).trim().split("\n");
    assertEquals(done.length, 1, done.join("\n"));
    const [actor, branch, , status] = done[0].split(" ");
    assertEquals([actor, status], ["myrig/polecats/p1", "COMPLETED"]);
    assert(branch.startsWith("polecat/p1/"), branch);
    const gate = await new Deno.Command("sh", {
      args: ["test.sh"],
      cwd: `${home}/gt/myrig/polecats/p1`,
    }).output();
    assertEquals(gate.code, 0, new TextDecoder().decode(gate.stdout));
    assertStringIncludes(new TextDecoder().decode(gate.stdout), "ok - add 2 3 = 5");
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("docs/OPERATIONS.md presets: every [agents] table it shows, fenced or written by a quoted heredoc, is read by the provider's preset reader with no problem", async () => {
  const doc = await Deno.readTextFile(root("docs/OPERATIONS.md"));
  const fenced = [...doc.matchAll(/^ *```toml\n([\s\S]*?)^ *```$/gm)]
    .map((m) => m[1].replace(/^ {2}/gm, ""));
  const heredocs = [...doc.matchAll(/<<'TOML'\n([\s\S]*?)^TOML$/gm)].map((m) => m[1]);
  const names: string[] = [];
  for (const text of [...fenced, ...heredocs]) {
    const agents = (parseToml(text) as { agents?: unknown }).agents;
    if (agents === undefined) continue;
    // The reader's own paths and keys: a host command is the operator's file, the key its own.
    const presets = parseAgentPresets(agents, { env: () => "sk-yours", isExecutable: () => true });
    names.push(...Object.keys(presets));
  }
  assertEquals(names.sort(), ["claude", "codex", "gastown", "gastown"]);
});
