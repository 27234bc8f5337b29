/**
 * The relay source stage's flags are read by the setting codecs (config/setting_codecs.ts,
 * docs/OPERATIONS.md "Setting values"): its switches take the one vocabulary of switches and its
 * relay the settings' loopback rule, a bad value refused as a StageOptionsError.
 */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { relaySourceStage } from "../../../stages/relay_source.ts";
import { StageOptionsError } from "../../../stages/stage.ts";
import { parseStageFlags } from "../../../stages/stage_runner.ts";

const relay = "ws://127.0.0.1:7100";

Deno.test("relay-source flags: switches take the settings' words, a bare flag is true", () => {
  const parse = (flags: Record<string, string>) =>
    relaySourceStage.parseOptions({ relay, ...flags });
  for (const word of ["true", "yes", "on", "1", "TRUE"]) {
    assertEquals(parse({ "until-eose": word }).untilEose, true, word);
  }
  for (const word of ["false", "no", "off", "0"]) {
    assertEquals(parse({ "until-eose": word }).untilEose, false, word);
  }
  assertEquals([parse({}).untilEose, parse({}).allowInsecure], [false, false]);
  const bare = relaySourceStage.parseOptions(parseStageFlags(["--relay", relay, "--until-eose"]));
  assertEquals(bare.untilEose, true);
  assertThrows(() => parse({ "until-eose": "maybe" }), StageOptionsError, "--until-eose");
  assertThrows(() => parse({ "allow-insecure": "sure" }), StageOptionsError, "--allow-insecure");
});

Deno.test("relay-source flags: ws:// only to a loopback host, as for a setting", () => {
  const parse = (flags: Record<string, string>) => relaySourceStage.parseOptions(flags);
  assertEquals(parse({ relay: "ws://127.0.0.2:7100" }).relay, "ws://127.0.0.2:7100");
  assertEquals(parse({ relay: "ws://localhost:7100" }).relay, "ws://localhost:7100");
  assertEquals(parse({ relay: "wss://relay.example.com" }).relay, "wss://relay.example.com");
  assertThrows(() => parse({ relay: "ws://relay.example.com" }), StageOptionsError, "non-loopback");
  const insecure = parse({ relay: "ws://relay.example.com", "allow-insecure": "yes" });
  assertEquals(insecure.allowInsecure, true);
  assertThrows(
    () => parse({ relay: "http://127.0.0.1:7100" }),
    StageOptionsError,
    "ws:// or wss://",
  );
  assertThrows(() => parse({ relay: "not a url" }), StageOptionsError, "is not a URL");
  assertEquals(relaySourceStage.permissions(parse({ relay: "wss://r.example" })).net, [
    "r.example:443",
  ]);
});
