import { assertEquals, assertRejects, assertStringIncludes } from "../../../harness/assert.ts";
import { isLoopbackHost, loadSettings, settingsTomlEntries } from "../../../config/settings.ts";
import { ConfigError, InsecureUrlError } from "../../../config/config_error.ts";

async function withStateDir(toml: string | undefined, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    if (toml !== undefined) await Deno.writeTextFile(`${dir}/config.toml`, toml);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("settings: defaults (local network, 127.0.0.1, ports 7100/3000, prices 10/100)", async () => {
  await withStateDir(undefined, async (dir) => {
    const { settings, sources, configFile } = await loadSettings({
      flags: { stateDir: dir },
      env: envOf({}),
    });
    assertEquals(settings, {
      profile: "default",
      stateDir: dir,
      network: "local",
      host: "127.0.0.1",
      townPort: 7100,
      btpPort: 3000,
      relayUrl: "ws://127.0.0.1:7100",
      connectorBtpUrl: "btp+ws://127.0.0.1:3000",
      pricePerByte: 10n,
      priceCeiling: 100n,
      allowInsecure: false,
      mainnet: false,
    });
    assertEquals(sources.network, { kind: "default" });
    assertEquals(configFile, undefined);
  });
});

Deno.test("settings: precedence flags > env > TOML > defaults, per key", async () => {
  const toml = 'network = "testnet"\nbtp_port = 3100\ntown_port = 7200\nprice_per_byte = 12\n' +
    'host = "127.0.0.5"\n[chain]\nrpc_url = "http://127.0.0.1:8545"\n';
  await withStateDir(toml, async (dir) => {
    const env = envOf({ TURNPIKE_BTP_PORT: "3200", TURNPIKE_PRICE_PER_BYTE: "13" });
    const { settings, sources, sections, configFile } = await loadSettings({
      flags: { stateDir: dir, pricePerByte: "14" },
      env,
    });
    assertEquals(settings.network, "testnet"); // TOML over default
    assertEquals(settings.townPort, 7200); // TOML
    assertEquals(settings.btpPort, 3200); // env over TOML
    assertEquals(settings.pricePerByte, 14n); // flag over env over TOML
    assertEquals(settings.priceCeiling, 100n); // default
    assertEquals(settings.relayUrl, "ws://127.0.0.5:7200"); // derived from resolved host/port
    assertEquals(sources.btpPort, { kind: "env", name: "TURNPIKE_BTP_PORT" });
    assertEquals(sources.pricePerByte, { kind: "flag", name: "price-per-byte" });
    assertEquals(sources.townPort, { kind: "file", path: `${dir}/config.toml`, key: "town_port" });
    assertEquals(Object.keys(sections), ["chain"]);
    assertEquals({ ...sections.chain }, { rpc_url: "http://127.0.0.1:8545" });
    assertEquals(configFile, `${dir}/config.toml`);
  });
});

Deno.test("settings: Crosstown/gastown aliases, TURNPIKE_* first", async () => {
  await withStateDir(undefined, async (dir) => {
    const aliases = envOf({
      CROSSTOWN_RELAY_URL: "wss://relay.example.com",
      CROSSTOWN_CONNECTOR_BTP: "btp+wss://conn.example.com:3000",
      GASTOWN_CROSSTOWN_RELAY_URL: "wss://other.example.com",
      GASTOWN_CROSSTOWN_PRICE_PER_BYTE: "7",
      GASTOWN_CROSSTOWN_NETWORK: "TESTNET",
    });
    const a = await loadSettings({ flags: { stateDir: dir }, env: aliases });
    assertEquals(a.settings.relayUrl, "wss://relay.example.com");
    assertEquals(a.sources.relayUrl, { kind: "env", name: "CROSSTOWN_RELAY_URL" });
    assertEquals(a.settings.connectorBtpUrl, "btp+wss://conn.example.com:3000");
    assertEquals(a.settings.pricePerByte, 7n);
    assertEquals(a.settings.network, "testnet");
    const b = await loadSettings({
      flags: { stateDir: dir },
      env: envOf({
        TURNPIKE_RELAY_URL: "ws://127.0.0.1:9",
        CROSSTOWN_RELAY_URL: "wss://x.example",
      }),
    });
    assertEquals(b.settings.relayUrl, "ws://127.0.0.1:9");
  });
});

Deno.test("settings: non-loopback ws:// is InsecureUrlError unless allowed", async () => {
  await withStateDir(undefined, async (dir) => {
    const err = await assertRejects(
      () =>
        loadSettings({
          flags: { stateDir: dir, relayUrl: "ws://relay.example.com" },
          env: envOf({}),
        }),
      InsecureUrlError,
    );
    assertStringIncludes(err.message, "relayUrl from flag --relay-url");
    await assertRejects(
      () =>
        loadSettings({
          flags: { stateDir: dir },
          env: envOf({ CROSSTOWN_CONNECTOR_BTP: "btp+ws://10.0.0.2:3000" }),
        }),
      InsecureUrlError,
      "env CROSSTOWN_CONNECTOR_BTP",
    );
    const ok = await loadSettings({
      flags: { stateDir: dir, relayUrl: "ws://relay.example.com" },
      env: envOf({ TURNPIKE_ALLOW_INSECURE: "yes" }),
    });
    assertEquals(ok.settings.allowInsecure, true);
    const loop = await loadSettings({
      flags: {
        stateDir: dir,
        relayUrl: "ws://localhost:7100",
        connectorBtpUrl: "btp+ws://[::1]:3000",
      },
      env: envOf({}),
    });
    assertEquals(loop.settings.relayUrl, "ws://localhost:7100");
  });
});

Deno.test("settings: invalid values name the key and the source", async () => {
  await withStateDir("btp_port = 70000\n", async (dir) => {
    await assertRejects(
      () => loadSettings({ flags: { stateDir: dir }, env: envOf({}) }),
      ConfigError,
      `btpPort from ${dir}/config.toml: btp_port`,
    );
  });
  await withStateDir(undefined, async (dir) => {
    const bad: [Record<string, string>, string][] = [
      [{ TURNPIKE_NETWORK: "mainnet2" }, "network from env TURNPIKE_NETWORK"],
      [{ TURNPIKE_TOWN_PORT: "7100x" }, "townPort from env TURNPIKE_TOWN_PORT"],
      [{ TURNPIKE_PRICE_PER_BYTE: "-1" }, "pricePerByte"],
      [{ TURNPIKE_PRICE_CEILING: "18446744073709551616" }, "priceCeiling"],
      [{ TURNPIKE_ALLOW_INSECURE: "maybe" }, "allowInsecure"],
      [{ TURNPIKE_RELAY_URL: "http://127.0.0.1" }, "scheme must be"],
      [{ TURNPIKE_RELAY_URL: "not a url" }, "not a valid URL"],
    ];
    for (const [vars, expected] of bad) {
      await assertRejects(
        () => loadSettings({ flags: { stateDir: dir }, env: envOf(vars) }),
        ConfigError,
        expected,
      );
    }
  });
  await withStateDir('relay_urll = "x"\n', async (dir) => {
    await assertRejects(
      () => loadSettings({ flags: { stateDir: dir }, env: envOf({}) }),
      ConfigError,
      'unknown key "relay_urll"',
    );
  });
  await withStateDir("network = \n", async (dir) => {
    await assertRejects(
      () => loadSettings({ flags: { stateDir: dir }, env: envOf({}) }),
      ConfigError,
      "invalid TOML",
    );
  });
});

Deno.test("settings: mainnet only when asked; profile from env picks the state dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { settings } = await loadSettings({
      env: envOf({ TURNPIKE_HOME: dir, TURNPIKE_PROFILE: "beta", TURNPIKE_NETWORK: "mainnet" }),
    });
    assertEquals(settings.network, "mainnet");
    assertEquals(settings.stateDir, `${dir}/beta`);
    assertEquals(settings.profile, "beta");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isLoopbackHost", () => {
  for (const h of ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1", "a.localhost"]) {
    assertEquals(isLoopbackHost(h), true, h);
  }
  for (const h of ["example.com", "10.0.0.1", "128.0.0.1", "localhost.evil.com", "0.0.0.0"]) {
    assertEquals(isLoopbackHost(h), false, h);
  }
});

Deno.test("settings: btp_token at the top level, else in an older [requester]/[provider] table; role", async () => {
  await withStateDir('role = "provider"\n[provider]\nbtp_token = "old"\n', async (dir) => {
    const { settings, sources } = await loadSettings({ flags: { stateDir: dir }, env: envOf({}) });
    assertEquals([settings.btpToken, settings.role], ["old", "provider"]);
    assertEquals(sources.btpToken, {
      kind: "file",
      path: `${dir}/config.toml`,
      key: "provider.btp_token",
    });
    const env = await loadSettings({
      flags: { stateDir: dir },
      env: envOf({ TURNPIKE_BTP_TOKEN: "from-env" }),
    });
    assertEquals(env.settings.btpToken, "from-env");
  });
  await withStateDir('btp_token = "new"\n[requester]\nbtp_token = "old"\n', async (dir) => {
    const { settings } = await loadSettings({ flags: { stateDir: dir }, env: envOf({}) });
    assertEquals(settings.btpToken, "new");
  });
  await withStateDir('role = "wizard"\n', async (dir) => {
    const err = await assertRejects(
      () => loadSettings({ flags: { stateDir: dir }, env: envOf({}) }),
      ConfigError,
    );
    assertStringIncludes(err.message, "must be one of requester, provider, town");
  });
});

Deno.test("settings: settingsTomlEntries validates and names the TOML keys; readFile false", async () => {
  assertEquals(
    settingsTomlEntries({ role: "town", townPort: "7200", pricePerByte: 12, btpToken: "t" }),
    { role: "town", town_port: 7200, price_per_byte: "12", btp_token: "t" },
  );
  const err = await assertRejects(
    () => Promise.resolve().then(() => settingsTomlEntries({ btpPort: "99999" })),
    ConfigError,
  );
  assertStringIncludes(err.message, "btpPort from flag --btp-port");
  await withStateDir('btp_port = "oops"\n', async (dir) => {
    const { settings } = await loadSettings({
      flags: { stateDir: dir },
      env: envOf({}),
      readFile: false,
    });
    assertEquals(settings.btpPort, 3000);
  });
});
