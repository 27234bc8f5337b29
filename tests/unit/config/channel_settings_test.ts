import { assertEquals, assertStringIncludes, assertThrows } from "../../../harness/assert.ts";
import { runCli } from "../../../harness/run_cli.ts";
import { loadedFromToml } from "../../support/config_file_kit.ts";
import {
  channelOpenSettings,
  DEFAULT_MAX_DEPOSIT,
  DEFAULT_SETTLE_TIMEOUT_SECONDS,
  DEFAULT_WARN_PERCENT,
} from "../../../config/channel_settings.ts";
import { ConfigError } from "../../../config/config_error.ts";

Deno.test("channel open settings: the [channels] keys of a config file, typed, with defaults", async () => {
  const loaded = await loadedFromToml(
    [
      "[channels]",
      'chains = ["evm:base:31337"]',
      'prefer = ["evm:base:84532", "evm:base:31337"]',
      'peer = "0x' + "ab".repeat(20) + '"',
      'max_deposit = "250.5"',
      "settle_timeout = 600",
      "warn_percent = 25",
      "",
    ].join("\n"),
  );
  assertEquals(channelOpenSettings(loaded), {
    chains: ["evm:base:31337"],
    prefer: ["evm:base:84532", "evm:base:31337"],
    peer: "0x" + "ab".repeat(20),
    maxDeposit: "250.5",
    settleTimeoutSeconds: 600,
    warnPercent: 25,
  });
  assertEquals(channelOpenSettings({ sections: {} }), {
    chains: undefined,
    prefer: undefined,
    peer: undefined,
    maxDeposit: DEFAULT_MAX_DEPOSIT,
    settleTimeoutSeconds: DEFAULT_SETTLE_TIMEOUT_SECONDS,
    warnPercent: DEFAULT_WARN_PERCENT,
  });
});

Deno.test("channel open settings: a bad value is a ConfigError naming its key", () => {
  const bad = (channels: Record<string, unknown>) =>
    assertThrows(() => channelOpenSettings({ sections: { channels } }), ConfigError).key;
  assertEquals(bad({ settle_timeout: "soon" }), "channels.settle_timeout");
  assertEquals(bad({ settle_timeout: 0 }), "channels.settle_timeout");
  assertEquals(bad({ warn_percent: 120 }), "channels.warn_percent");
  assertEquals(bad({ warn_percent: "lots" }), "channels.warn_percent");
  assertEquals(bad({ max_deposit: "-5" }), "channels.max_deposit");
  assertEquals(bad({ prefer: "evm:base:31337" }), "channels.prefer");
  assertEquals(bad({ chains: [1, 2] }), "channels.chains");
  assertEquals(bad({ peer: 42 }), "channels.peer");
});

Deno.test("channel open settings: `turnpike channel open` refuses a bad [channels] value, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "channel_settings_cli_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, '[channels]\nsettle_timeout = "soon"\n');
    const { code, stderr } = await runCli([
      "channel",
      "open",
      "--state-dir",
      dir,
      "--town",
      "ws://127.0.0.1:1",
      "--deposit",
      "1",
    ]);
    assertEquals(code, 2, stderr);
    assertStringIncludes(stderr, "Error: [channels] settle_timeout must be a positive integer");
    assertStringIncludes(stderr, "channels.settle_timeout");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
