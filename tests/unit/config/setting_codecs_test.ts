/**
 * The one table of setting codecs (config/setting_codecs.ts): every word a switch takes, every
 * refusal of each kind with its message naming the setting, and no module of the settings code
 * (config/, cli/, roles/) reading a switch's words itself.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { ConfigError, InsecureUrlError } from "../../../config/config_error.ts";
import {
  BOOLEAN_WORDS,
  booleanSetting,
  durationSetting,
  kindListSetting,
  positiveIntegerSetting,
  pubkeySetting,
  settingOr,
  uint64Setting,
  urlSetting,
} from "../../../config/setting_codecs.ts";

Deno.test("setting codecs: a switch takes each word of its list, in any case, spaces around", () => {
  assertEquals(BOOLEAN_WORDS, {
    true: ["true", "yes", "on", "1"],
    false: ["false", "no", "off", "0"],
  });
  for (const [want, words] of [[true, BOOLEAN_WORDS.true], [false, BOOLEAN_WORDS.false]] as const) {
    for (const word of words) {
      for (const text of [word, word.toUpperCase(), ` ${word}\n`]) {
        assertEquals(booleanSetting(text, "allowInsecure"), want, JSON.stringify(text));
      }
    }
  }
  assertEquals([booleanSetting(true, "k"), booleanSetting(false, "k")], [true, false]);
  // A TOML integer is its text.
  assertEquals([booleanSetting(1, "k"), booleanSetting(0, "k"), booleanSetting(1n, "k")], [
    true,
    false,
    true,
  ]);
});

Deno.test("setting codecs: a switch refuses anything else, naming the setting and its source", () => {
  for (const value of ["maybe", "", "y", "2", 2, "enabled", null, ["true"]]) {
    const err = assertThrows(
      () =>
        booleanSetting(value, "acceptAnyToken", "dev_accept_any_token", {
          kind: "env",
          name: "TURNPIKE_TOWN_DEV_ACCEPT_ANY_TOKEN",
        }),
      ConfigError,
      "dev_accept_any_token must be true or false (or yes/no, on/off, 1/0), got ",
    );
    assertEquals(err.key, "acceptAnyToken");
    assertEquals(
      err.message.endsWith("(acceptAnyToken from env TURNPIKE_TOWN_DEV_ACCEPT_ANY_TOKEN)"),
      true,
      err.message,
    );
  }
});

Deno.test("setting codecs: an amount is a uint64 of base units, as text or a TOML integer", () => {
  assertEquals(uint64Setting("0", "k"), 0n);
  assertEquals(uint64Setting(" 5000 ", "k"), 5000n);
  assertEquals(uint64Setting(42, "k"), 42n);
  assertEquals(uint64Setting(18446744073709551615n, "k"), 18446744073709551615n);
  assertEquals(uint64Setting("18446744073709551615", "k"), 18446744073709551615n);
  for (
    const value of ["18446744073709551616", "-1", "1.5", "1e3", "", "ten", -1, 1.5, 2 ** 60, -1n]
  ) {
    assertThrows(
      () => uint64Setting(value, "maxTownDebt", "max_town_debt"),
      ConfigError,
      "max_town_debt must be an amount in base units (a whole number, 0 to 2^64-1), got ",
    );
  }
});

Deno.test("setting codecs: a count is a positive integer", () => {
  assertEquals([positiveIntegerSetting("7", "k"), positiveIntegerSetting(3, "k")], [7, 3]);
  for (const value of ["0", "-2", "1.5", "", " ", "many", 0, 2.5, true]) {
    assertThrows(
      () => positiveIntegerSetting(value, "maxUnpaid", "--max-unpaid"),
      ConfigError,
      "--max-unpaid must be a positive integer, got ",
    );
  }
  assertEquals(settingOr(undefined, 64, positiveIntegerSetting, "k"), 64);
});

Deno.test("setting codecs: a duration is seconds, its milliseconds returned, within its range", () => {
  assertEquals(durationSetting("15", "k"), 15_000);
  assertEquals(durationSetting("0.5", "k"), 500);
  assertEquals(durationSetting(2, "k"), 2000);
  assertEquals(durationSetting(0.25, "k"), 250);
  assertEquals(
    durationSetting("604800", "k", "k", undefined, { min: 1, max: 604_800 }),
    604_800_000,
  );
  const refused = (value: unknown, range: { min?: number; max?: number }, says: string) =>
    assertThrows(
      () => durationSetting(value, "nodeIdleTimeoutS", "node_idle_timeout", undefined, range),
      ConfigError,
      `node_idle_timeout must be a number of seconds ${says}, got `,
    );
  for (const value of ["0", 0, "-1", "soon", "", "1e3", "0x10", Infinity]) {
    refused(value, {}, "above 0");
  }
  refused("0.5", { min: 1 }, "at least 1");
  refused("604801", { min: 1, max: 604_800 }, "1 to 604800");
  refused("11", { max: 10 }, "above 0, at most 10");
});

Deno.test("setting codecs: a URL of its schemes; plain to a host not loopback only when allowed", () => {
  const relay = { schemes: ["ws:", "wss:"] };
  assertEquals(
    urlSetting(" wss://relay.example.com ", "relayUrl", "relay_url", undefined, relay),
    "wss://relay.example.com",
  );
  assertEquals(
    urlSetting("ws://127.0.0.1:7100", "relayUrl", "relay_url", undefined, relay),
    "ws://127.0.0.1:7100",
  );
  assertEquals(
    urlSetting("ws://[::1]:7100", "relayUrl", "relay_url", undefined, relay),
    "ws://[::1]:7100",
  );
  assertEquals(
    urlSetting("ws://10.0.0.7:7100", "relayUrl", "relay_url", undefined, {
      ...relay,
      allowInsecure: true,
    }),
    "ws://10.0.0.7:7100",
  );
  assertThrows(
    () => urlSetting("not a url", "relayUrl", "relay_url", undefined, relay),
    ConfigError,
    'relay_url is not a valid URL: "not a url"',
  );
  assertThrows(
    () => urlSetting(7100, "relayUrl", "relay_url", undefined, relay),
    ConfigError,
    "relay_url is not a valid URL: 7100",
  );
  assertThrows(
    () => urlSetting("http://127.0.0.1", "relayUrl", "relay_url", undefined, relay),
    ConfigError,
    "relay_url scheme must be ws: or wss:, got http:",
  );
  assertThrows(
    () =>
      urlSetting("https://x", "btpUrl", "btp_url", undefined, {
        schemes: ["btp+ws:", "btp+wss:", "ws:", "wss:"],
      }),
    ConfigError,
    "btp_url scheme must be btp+ws:, btp+wss:, ws: or wss:, got https:",
  );
  for (
    const [url, secure] of [["ws://10.0.0.7:7100", "wss"], ["btp+ws://town.example", "btp+wss"]]
  ) {
    assertThrows(
      () =>
        urlSetting(url, "k", "parent", undefined, {
          schemes: ["ws:", "wss:", "btp+ws:", "btp+wss:"],
        }),
      InsecureUrlError,
      `is not loopback and ${
        url.split("//")[0]
      }// is unencrypted: use ${secure}:// or set allow_insecure`,
    );
  }
});

Deno.test("setting codecs: a pubkey is 64 lowercase hex", () => {
  assertEquals(pubkeySetting("ab".repeat(32), "k"), "ab".repeat(32));
  for (const value of ["AB".repeat(32), "ab", 7]) {
    assertThrows(
      () => pubkeySetting(value, "townPubkey", "town pubkey"),
      ConfigError,
      "is not a 64-hex pubkey",
    );
  }
});

Deno.test("setting codecs: a list of kinds, as a TOML array or comma-separated text", () => {
  assertEquals(kindListSetting("1059, 4,4", "k"), [4, 1059]);
  assertEquals(kindListSetting([30078, 0, 65535], "k"), [0, 30078, 65535]);
  assertEquals(kindListSetting("", "k"), []);
  for (const value of [4, "4;5", "-1", [65536], [1.5], ["x"], true]) {
    assertThrows(() => kindListSetting(value, "privateKinds", "private_kinds"), ConfigError);
  }
});

/** The ways a module read a switch's words itself before the codecs (each found then). */
const OWN_SWITCH_PARSERS = [
  /\[\s*"(?:1|true|yes|on|0|false|no|off)"\s*,\s*"(?:1|true|yes|on|0|false|no|off)"[^\]]*\]\s*\.includes/,
  /(?:value|text|raw|v|t)\s*===\s*"(?:true|yes|on|false|no|off)"/,
];

async function* settingsModules(dir: URL, prefix: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) yield* settingsModules(new URL(`${entry.name}/`, dir), `${path}/`);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("setting codecs: no module of config/, cli/ or roles/ reads a switch's words itself", async () => {
  const root = new URL("../../../", import.meta.url);
  const offenders: string[] = [];
  for (const folder of ["config", "cli", "roles"]) {
    for await (const path of settingsModules(new URL(`${folder}/`, root), `${folder}/`)) {
      if (path === "config/setting_codecs.ts") continue;
      const text = await Deno.readTextFile(new URL(path, root));
      if (OWN_SWITCH_PARSERS.some((pattern) => pattern.test(text))) offenders.push(path);
    }
  }
  assertEquals(offenders, []);
  // The scan finds what it is for: the parsers it replaced.
  const before = 'if (["1", "true", "yes", "on"].includes(t)) return true;';
  assertEquals(OWN_SWITCH_PARSERS.some((pattern) => pattern.test(before)), true);
  assertEquals(
    OWN_SWITCH_PARSERS.some((p) => p.test('if (value === "1" || value === "true")')),
    true,
  );
});
