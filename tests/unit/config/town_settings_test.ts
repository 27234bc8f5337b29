/**
 * The town's settings resolved in config/town_settings.ts: each of the `[town]` table, the
 * environment and the flag wins over the one before it, and a bad value is a ConfigError that
 * names the setting.
 */
import { assertEquals, assertStringIncludes } from "../../../harness/assert.ts";
import { configErrorOf, loadedFromToml } from "../../support/config_file_kit.ts";
import {
  DEFAULT_MAX_EVENT_BYTES,
  resolveTownSettings,
  type TownFlags,
} from "../../../config/town_settings.ts";

const TOML = `[town]
ilp_address = "test.from-file"
blob_price_per_mib = 11
owner_pubkey = "${"aa".repeat(32)}"
max_event_bytes = 4096
private_kinds = [4, 30078]
[[town.peers]]
account = "alice"
token = "alice-token"
`;

async function settingsWith(
  toml: string,
  env: Record<string, string> = {},
  flags: TownFlags = {},
) {
  const loaded = await loadedFromToml(toml);
  return resolveTownSettings({ loaded, flags, env: (name) => env[name], envNames: [] });
}

Deno.test("town settings: the file, then the environment, then the flag", async () => {
  const fromFile = await settingsWith(TOML);
  assertEquals(fromFile.ilpAddress, "test.from-file");
  assertEquals(fromFile.blobs?.pricePerMiB, 11n);
  assertEquals(fromFile.pricing.ownerPubkey, "aa".repeat(32));
  assertEquals(fromFile.maxEventBytes, 4096);
  assertEquals(fromFile.privateKinds, [4, 30078]);
  assertEquals(fromFile.peers, [{ account: "alice", token: "alice-token" }]);

  const env = {
    TURNPIKE_TOWN_ILP_ADDRESS: "test.from-env",
    TURNPIKE_TOWN_BLOB_PRICE_PER_MIB: "22",
    TURNPIKE_TOWN_OWNER: "bb".repeat(32),
    TURNPIKE_TOWN_PRIVATE_KINDS: "14, 4",
  };
  const fromEnv = await settingsWith(TOML, env);
  assertEquals(fromEnv.ilpAddress, "test.from-env");
  assertEquals(fromEnv.blobs?.pricePerMiB, 22n);
  assertEquals(fromEnv.pricing.ownerPubkey, "bb".repeat(32));
  assertEquals(fromEnv.privateKinds, [4, 14]);

  const fromFlags = await settingsWith(TOML, env, {
    ilpAddress: "test.from-flag",
    blobPricePerMib: "33",
    owner: "cc".repeat(32),
    maxEventBytes: "8192",
    peer: ["bob:bob-token:500"],
    privateKinds: "5",
  });
  assertEquals(fromFlags.ilpAddress, "test.from-flag");
  assertEquals(fromFlags.blobs?.pricePerMiB, 33n);
  assertEquals(fromFlags.pricing.ownerPubkey, "cc".repeat(32));
  assertEquals(fromFlags.maxEventBytes, 8192);
  assertEquals(fromFlags.privateKinds, [5]);
  // --peer flags replace the tables' peers.
  assertEquals(fromFlags.peers, [{ account: "bob", token: "bob-token", maxPacketAmount: 500n }]);

  // An empty variable is no value: the file's stands.
  const emptyEnv = await settingsWith(TOML, { TURNPIKE_TOWN_ILP_ADDRESS: "" });
  assertEquals(emptyEnv.ilpAddress, "test.from-file");
  // Nothing given: the defaults.
  const defaults = await settingsWith("");
  assertEquals(defaults.ilpAddress, "test.turnpike.town");
  assertEquals(defaults.maxEventBytes, DEFAULT_MAX_EVENT_BYTES);
  assertEquals(defaults.peers, []);
  assertEquals(defaults.privateKinds, []);
  assertEquals(defaults.publicRelayUrls, []);
});

Deno.test("town settings: public_relay_url takes a URL, a comma-separated list or a TOML list of ws:// and wss:// URLs", async () => {
  const fromFile = await settingsWith(
    '[town]\npublic_relay_url = ["wss://town.example", "ws://203.0.113.7:7100"]\n',
  );
  assertEquals(fromFile.publicRelayUrls, ["wss://town.example", "ws://203.0.113.7:7100"]);
  const fromFlag = await settingsWith("", {}, {
    publicRelayUrl: "wss://a.example, wss://b.example",
  });
  assertEquals(fromFlag.publicRelayUrls, ["wss://a.example", "wss://b.example"]);
  const fromEnv = await settingsWith("", { TURNPIKE_TOWN_PUBLIC_RELAY_URL: "wss://c.example" });
  assertEquals(fromEnv.publicRelayUrls, ["wss://c.example"]);
});

Deno.test("town settings: a bad value is a ConfigError naming the setting", async () => {
  const cases: [string, Record<string, string>, TownFlags, string, string][] = [
    ["[town]\nmax_event_bytes = 0\n", {}, {}, "maxEventBytes", "max event bytes"],
    ["", {}, { maxPacketAmount: "-1" }, "maxPacketAmount", "max packet amount"],
    ["", { TURNPIKE_TOWN_BLOB_QUOTA_BYTES: "lots" }, {}, "blobs.quotaBytes", "blob quota"],
    ["", { TURNPIKE_TOWN_OWNER: "AB" }, {}, "ownerPubkey", "owner must be"],
    ["", {}, { ilpAddress: "not an address" }, "ilpAddress", "invalid ILP address"],
    ["", {}, { peer: ["relay:token"] }, "peers", 'peer account "relay" is not usable'],
    ["", {}, { peer: ["alice"] }, "peers", "--peer must be account:token"],
    ["", {}, { peerChannel: ["alice:0x12"] }, "peerChannels", "must be a 0x channel id"],
    ["[town.payouts]\nthreshold = 5\nmax_owed = 1\n", {}, {}, "payouts", "below the threshold"],
    ["[town]\nkind_prices = { 99999 = 1 }\n", {}, {}, "kindPrices", "bad kind"],
    ["[town]\nprivate_kinds = 4\n", {}, {}, "privateKinds", "must be a list of event kinds"],
    ["", { TURNPIKE_TOWN_PRIVATE_KINDS: "4,dm" }, {}, "privateKinds", '"dm" is not an event kind'],
    ["", {}, { privateKinds: "70000" }, "privateKinds", "(0 to 65535)"],
    ["", {}, { publicRelayUrl: "https://town.example" }, "publicRelayUrls", "scheme must be"],
    ["[channels]\nchains = [1]\n", {}, {}, "channels.chains", "channels.chains must be"],
    ["", { TURNPIKE_STORE_URL: "mysql://x" }, {}, "storeUrl", "PostgreSQL URL"],
  ];
  for (const [toml, env, flags, key, text] of cases) {
    const err = await configErrorOf(settingsWith(toml, env, flags), key);
    assertEquals(err.key, key, err.message);
    assertStringIncludes(err.message, text);
  }
});

Deno.test("town settings: credit without a channel is 0 on a town that pays on chain, else none", async () => {
  // A town that moves no money grants any; one that pays its peers on chain grants none.
  assertEquals((await settingsWith(TOML)).peerCreditLimit, undefined);
  const paying = `${TOML}[town.payouts.addresses]\nalice = "0x${"11".repeat(20)}"\n`;
  assertEquals((await settingsWith(paying)).peerCreditLimit, 0n);
  assertEquals(
    (await settingsWith(paying, { TURNPIKE_TOWN_PEER_CREDIT_LIMIT: "5000" })).peerCreditLimit,
    5000n,
  );
  assertEquals(
    (await settingsWith(paying.replace("[town]\n", '[town]\npeer_credit_limit = "none"\n')))
      .peerCreditLimit,
    undefined,
  );
  // A peer's own credit_limit, on a peer without a channel.
  const own = await settingsWith(
    TOML.replace('token = "alice-token"', 'token = "alice-token"\ncredit_limit = "700"'),
  );
  assertEquals(own.peers, [{ account: "alice", token: "alice-token", creditLimit: 700n }]);
});

Deno.test("town settings: peer_credit_ceiling makes the credit line learned, with its grace; absent, the line is fixed", async () => {
  assertEquals((await settingsWith(TOML)).peerCreditLine, undefined);
  const learned = TOML.replace("[town]\n", '[town]\npeer_credit_ceiling = "50000"\n');
  assertEquals((await settingsWith(learned)).peerCreditLine, {
    ceiling: 50_000n,
    graceMs: 3_600_000,
  });
  assertEquals(
    (await settingsWith(learned, { TURNPIKE_TOWN_PEER_CREDIT_GRACE: "90" })).peerCreditLine,
    { ceiling: 50_000n, graceMs: 90_000 },
  );
  const err = await configErrorOf(
    settingsWith(TOML, { TURNPIKE_TOWN_PEER_CREDIT_CEILING: "lots" }),
    "peerCreditLine",
  );
  assertStringIncludes(err.message, "peer_credit_ceiling");
});
