import { assertEquals, assertRejects, assertStringIncludes } from "../../../harness/assert.ts";
import { editConfigFile, setTableKeys, tableHeader } from "../../../config/config_file.ts";
import { ConfigError } from "../../../config/config_error.ts";

const FILE = `# mine
relay_url = "ws://127.0.0.1:7100" # the town

[channels]
chains = [
  "evm:base:84532", # testnet
]
max_deposit = "100"

[chains."evm:base:31337"]
rpc_url = "http://127.0.0.1:1"
extra = 1

[[town.peers]]
account = "a"
token = "t"
`;

Deno.test("config file: a table's keys are set in place, the rest of the file kept", () => {
  const next = setTableKeys(FILE, ["channels"], { chains: ["evm:base:84532", "evm:base:31337"] });
  assertEquals(
    next,
    FILE.replace(
      'chains = [\n  "evm:base:84532", # testnet\n]\n',
      'chains = [ "evm:base:84532", "evm:base:31337" ]\n',
    ),
  );
  const replaced = setTableKeys(FILE, ["chains", "evm:base:31337"], { rpc_url: "http://x:2" }, {
    replace: true,
  });
  assertStringIncludes(
    replaced,
    '[chains."evm:base:31337"]\nrpc_url = "http://x:2"\n\n[[town.peers]]',
  );
});

Deno.test("config file: top-level keys after the leading comments; missing tables appended", () => {
  const top = setTableKeys(FILE, [], { role: "requester", relay_url: "ws://h:1" });
  assertEquals(top.split("\n").slice(0, 4), [
    "# mine",
    'role = "requester"',
    'relay_url = "ws://h:1"',
    "",
  ]);
  assertEquals(setTableKeys("", [], { role: "town" }), 'role = "town"\n');
  assertEquals(
    setTableKeys("a = 1", ["town"], { peers: [{ account: "al", token: "x y" }] }),
    'a = 1\n\n[town]\npeers = [{ account = "al", token = "x y" }]\n',
  );
  assertEquals(tableHeader(["chains", "evm:base:1"]), '[chains."evm:base:1"]');
});

Deno.test("config file: an edit that would not parse is refused and nothing is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/config.toml`;
    await Deno.writeTextFile(path, FILE);
    await assertRejects(
      () => editConfigFile(path, (t) => `relay_url = "ws://127.0.0.1:2"\n${t}`),
      ConfigError,
    );
    assertEquals(await Deno.readTextFile(path), FILE);
    const parsed = await editConfigFile(path, (t) => setTableKeys(t, [], { role: "town" }));
    assertEquals(parsed.top.role, "town");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config file: a table given as a value stays a key of its table (inline), keys after it kept", () => {
  const text = setTableKeys("[town.payouts]\nthreshold = 5\n\n[chains]\n", ["town", "payouts"], {
    addresses: { beta: "0xabc", "two words": "0xdef" },
  });
  assertEquals(
    text,
    '[town.payouts]\naddresses = { beta = "0xabc", "two words" = "0xdef" }\nthreshold = 5\n\n[chains]\n',
  );
});
