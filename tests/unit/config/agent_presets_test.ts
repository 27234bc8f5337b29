/**
 * config/agent_presets.ts: `[agents.<name>]` tables read into presets, the key from the variable
 * or file named, and every bad table refused naming the preset and the key at fault.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { AgentPresetsError, parseAgentPresets } from "../../../config/agent_presets.ts";
import { ConfigError } from "../../../config/config_error.ts";

const env = (name: string) => name === "MODEL_KEY" ? " sk-from-env\n" : undefined;

Deno.test("agent presets: a table read with its defaults, the key from the environment or a file", () => {
  const presets = parseAgentPresets({
    claude: {
      command: "claude -p x",
      price: 20000,
      timeout: 1800,
      budget: "500000",
      upstream: "https://api.anthropic.com",
      api_key_env: "MODEL_KEY",
      input_per_million: 3000000,
      headers: { "anthropic-version": "2023-06-01" },
    },
    codex: {
      command: "codex exec x",
      budget: 1,
      flavor: "openai",
      upstream: "https://api.openai.com",
      api_key_file: "/keys/openai",
    },
  }, { env, readFile: (path) => path === "/keys/openai" ? "sk-from-file\n" : "" });
  assertEquals(presets.claude, {
    name: "claude",
    command: "claude -p x",
    price: 20000n,
    timeoutMs: 1_800_000,
    budget: 500000n,
    flavor: "anthropic",
    upstream: "https://api.anthropic.com",
    apiKey: "sk-from-env",
    inputPerMillion: 3000000n,
    outputPerMillion: 0n,
    headers: { "anthropic-version": "2023-06-01" },
  });
  assertEquals([presets.codex.flavor, presets.codex.apiKey, presets.codex.price], [
    "openai",
    "sk-from-file",
    0n,
  ]);
  assertEquals(parseAgentPresets(undefined), {});
});

Deno.test("agent presets: a bad table is a ConfigError naming the preset and the key", () => {
  const good = { command: "x", budget: 1, upstream: "http://u", api_key_env: "MODEL_KEY" };
  const cases: [unknown, string][] = [
    [[good], "[agents] must be a table"],
    [{ "Bad Name": good }, "[agents.Bad Name]"],
    [{ a: { ...good, command: "" } }, "[agents.a] command"],
    [{ a: { ...good, budget: -1 } }, "[agents.a] budget"],
    [{ a: { ...good, flavor: "gemini" } }, "[agents.a] flavor"],
    [{ a: { ...good, timeout: 0 } }, "[agents.a] timeout"],
    [{ a: { ...good, headers: { x: 1 } } }, "[agents.a] headers"],
    [{ a: { ...good, api_key_env: "NOT_SET" } }, "no API key in $NOT_SET"],
    [{ a: { ...good, api_key_file: "/k" } }, "give one of api_key_env and api_key_file"],
  ];
  for (const [table, why] of cases) {
    assertThrows(() => parseAgentPresets(table, { env }), ConfigError, why);
  }
});

Deno.test("agent presets: a host preset is an absolute path to an executable, with args and env, no key", () => {
  const isExecutable = (path: string) => path === "/opt/gt-bridge";
  const presets = parseAgentPresets({
    gastown: {
      host: true,
      command: "/opt/gt-bridge",
      args: ["--rig", "r"],
      env: { GT_TOWN_ROOT: "/srv/gt" },
      price: 5,
      timeout: 60,
    },
  }, { env, isExecutable });
  assertEquals(
    [presets.gastown.host, presets.gastown.args, presets.gastown.env, presets.gastown.timeoutMs],
    [true, ["--rig", "r"], { GT_TOWN_ROOT: "/srv/gt" }, 60_000],
  );
  assertEquals([presets.gastown.apiKey, presets.gastown.budget], ["", 0n]);
  const cases: [unknown, string][] = [
    [{ a: { host: "yes", command: "/opt/gt-bridge" } }, "[agents.a] host: true or false"],
    [{ a: { host: true, command: "gt-bridge --rig r" } }, "the absolute path of an executable"],
    [{ a: { host: true, command: "/opt/missing" } }, "the absolute path of an executable"],
    [{ a: { host: true, command: "/opt/gt-bridge", args: "--rig" } }, "[agents.a] args"],
    [{ a: { host: true, command: "/opt/gt-bridge", env: { X: 1 } } }, "[agents.a] env"],
  ];
  for (const [table, why] of cases) {
    assertThrows(() => parseAgentPresets(table, { env, isExecutable }), ConfigError, why);
  }
  // The default check: a real file with an execute bit.
  assertEquals(parseAgentPresets({ sh: { host: true, command: "/bin/sh" } }).sh.host, true);
  const plain = Deno.makeTempFileSync();
  Deno.chmodSync(plain, 0o644);
  assertThrows(
    () => parseAgentPresets({ p: { host: true, command: plain } }),
    ConfigError,
    "executable",
  );
  Deno.removeSync(plain);
});

Deno.test("agent presets: every problem of every preset at once, each naming its preset and key; a preset with only a command has no model, no key and a budget of 0", () => {
  const err = assertThrows(
    () =>
      parseAgentPresets({
        a: { command: "x", price: -1, timeout: 0 },
        b: { command: "missing-agent", upstream: "http://u", flavor: "gemini" },
        c: { command: "x", api_key_env: "MODEL_KEY" },
        tool: { command: "x" },
      }, { env, checkCommand: (c) => c === "missing-agent" ? "not in the sandbox" : undefined }),
    AgentPresetsError,
  );
  assertEquals(err.problems, [
    "[agents.a] timeout: seconds in (0, 86400]",
    "[agents.a] price: a whole number of base units >= 0 is required",
    '[agents.b] flavor: anthropic or openai, not "gemini"',
    "[agents.b] command: not in the sandbox",
    "[agents.b] budget: a whole number of base units >= 0 is required",
    "[agents.b]: give one of api_key_env and api_key_file (the upstream's key)",
    "[agents.c] api_key_env: no upstream to send a key to (give upstream, or no key)",
  ]);
  assertEquals(err.message.split("\n")[0], "7 problems in [agents]:");
  const { tool } = parseAgentPresets({ tool: { command: "sh tool.sh" } });
  assertEquals([tool.upstream, tool.apiKey, tool.budget, tool.price], [undefined, "", 0n, 0n]);
});
