import { assertEquals, assertRejects, assertThrows } from "../../../harness/assert.ts";
import { ConfigError } from "../../../config/config_error.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveProviderSettings } from "../../../config/provider_settings.ts";

const DEFAULTS = {
  maxInputBytes: 1 << 20,
  maxUnpaid: 64,
  maxUnpaidPerRequester: 4,
  unpaidGraceSec: 60,
};

/** A real config.toml in a temp state dir, read by the real loader. */
async function loadedWith(toml: string) {
  const stateDir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${stateDir}/config.toml`, toml);
  const cleanup = () => Deno.remove(stateDir, { recursive: true });
  try {
    const loaded = await loadSettings({ flags: { stateDir }, env: () => undefined });
    return { loaded, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

Deno.test("provider settings: flag over environment over [provider] over default", async () => {
  const { loaded, cleanup } = await loadedWith(
    '[provider]\nmax_concurrent = 3\nmax_age = 100\nmax_in_flight = 7\nallow_network = ["a.example"]\n',
  );
  try {
    const env: Record<string, string> = {
      TURNPIKE_PROVIDER_MAX_CONCURRENT: "5",
      TURNPIKE_PROVIDER_MAX_AGE: "", // empty: not set
      TURNPIKE_PASSPHRASE_FILE: "/secret/pass",
    };
    const s = resolveProviderSettings({
      loaded,
      flags: { maxInFlight: "9", allowNetwork: ["b.example"], channel: "0x" + "AB".repeat(32) },
      defaults: DEFAULTS,
      env: (name) => env[name],
    });
    assertEquals(s.maxInFlight, 9); // flag
    assertEquals(s.maxConcurrentRuns, 5); // env
    assertEquals(s.maxAgeSec, 100); // file
    assertEquals(s.maxInFlightPerRequester, 8); // default
    assertEquals(s.maxInputBytes, DEFAULTS.maxInputBytes);
    assertEquals(s.unpaidGraceMs, 60_000);
    assertEquals(s.allowNetwork, ["b.example", "a.example"]);
    assertEquals(s.hiddenPaths, ["/secret/pass"]);
    assertEquals(s.channel, "0x" + "ab".repeat(32));
    assertEquals(s.channelPrepay, 0n);
    assertEquals(s.sandboxMode, "auto");
    assertEquals(s.townPubkey, undefined);
    assertEquals(s.invoiceExpiryMs, undefined);
  } finally {
    await cleanup();
  }
});

Deno.test("provider settings: a bad value is a ConfigError naming it", async () => {
  const { loaded, cleanup } = await loadedWith("[provider]\nmax_unpaid = -1\n");
  try {
    const resolve = (flags = {}, env: Record<string, string> = {}) =>
      resolveProviderSettings({ loaded, flags, defaults: DEFAULTS, env: (n) => env[n] });
    assertThrows(() => resolve(), ConfigError, "--max-unpaid must be a positive integer");
    const fixed = { maxUnpaid: "2" };
    assertThrows(
      () => resolve({ ...fixed, sandbox: "jail" }),
      ConfigError,
      "root, rootless or auto",
    );
    assertThrows(() => resolve({ ...fixed, townPubkey: "ABC" }), ConfigError, "64 lowercase hex");
    assertThrows(() => resolve({ ...fixed, channel: "0x12" }), ConfigError, "not a channel id");
    assertThrows(
      () => resolve(fixed, { TURNPIKE_PROVIDER_MAX_TOWN_DEBT: "1.5" }),
      ConfigError,
      "max_town_debt must be an amount in base units",
    );
    assertEquals(resolve(fixed, { TURNPIKE_PROVIDER_MAX_TOWN_DEBT: "1000" }).maxTownDebt, 1000n);
  } finally {
    await cleanup();
  }
});

Deno.test("provider settings: the loader's own errors stay ConfigErrors", async () => {
  await assertRejects(() => loadedWith("[provider\n"), ConfigError);
});

Deno.test("provider settings: addressed_only from the table, the environment or the flag", async () => {
  const { loaded, cleanup } = await loadedWith("[provider]\naddressed_only = true\n");
  const off = await loadedWith("[provider]\n");
  try {
    const resolve = (
      l: typeof loaded,
      env: Record<string, string>,
      addressedOnly?: boolean,
    ) =>
      resolveProviderSettings({
        loaded: l,
        flags: { addressedOnly },
        defaults: DEFAULTS,
        env: (name) => env[name],
      }).addressedOnly;
    assertEquals(resolve(off.loaded, {}), false);
    assertEquals(resolve(loaded, {}), true);
    assertEquals(resolve(loaded, { TURNPIKE_PROVIDER_ADDRESSED_ONLY: "no" }), false);
    assertEquals(resolve(off.loaded, { TURNPIKE_PROVIDER_ADDRESSED_ONLY: "1" }), true);
    assertEquals(resolve(off.loaded, { TURNPIKE_PROVIDER_ADDRESSED_ONLY: "0" }, true), true);
    assertThrows(
      () => resolve(off.loaded, { TURNPIKE_PROVIDER_ADDRESSED_ONLY: "maybe" }),
      ConfigError,
      "--addressed-only must be true or false",
    );
  } finally {
    await cleanup();
    await off.cleanup();
  }
});

Deno.test("provider settings: prepared_sandboxes 1 by default, a count per skill, 0 off, junk refused", async () => {
  const { loaded, cleanup } = await loadedWith("[provider]\nprepared_sandboxes = 2\n");
  try {
    const resolve = (env: Record<string, string>) =>
      resolveProviderSettings({ loaded, flags: {}, defaults: DEFAULTS, env: (n) => env[n] });
    assertEquals(resolve({}).preparedSandboxes, { perSkill: 2 });
    const off = { TURNPIKE_PROVIDER_PREPARED_SANDBOXES: "0" };
    assertEquals(resolve(off).preparedSandboxes, false);
    assertThrows(
      () => resolve({ TURNPIKE_PROVIDER_PREPARED_SANDBOXES: "many" }),
      ConfigError,
      "prepared_sandboxes must be a whole number",
    );
  } finally {
    await cleanup();
  }
  const none = await loadedWith("");
  try {
    const s = resolveProviderSettings({
      loaded: none.loaded,
      flags: {},
      defaults: DEFAULTS,
      env: () => undefined,
    });
    assertEquals(s.preparedSandboxes, { perSkill: 1 });
  } finally {
    await none.cleanup();
  }
});

Deno.test("provider settings: max_unpaid_per_trusted_requester from the table or the environment; absent, no growth", async () => {
  const resolve = async (toml: string, env: Record<string, string> = {}) => {
    const { loaded, cleanup } = await loadedWith(toml);
    try {
      return resolveProviderSettings({ loaded, flags: {}, defaults: DEFAULTS, env: (n) => env[n] })
        .maxUnpaidPerTrustedRequester;
    } finally {
      await cleanup();
    }
  };
  assertEquals(await resolve(""), undefined);
  assertEquals(await resolve("[provider]\nmax_unpaid_per_trusted_requester = 6\n"), 6);
  assertEquals(await resolve("", { TURNPIKE_PROVIDER_MAX_UNPAID_PER_TRUSTED_REQUESTER: "9" }), 9);
});
