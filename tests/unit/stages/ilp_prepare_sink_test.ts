import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { decodeSharedSecret, ilpPrepareSinkStage } from "../../../stages/ilp_prepare_sink.ts";
import { StageOptionsError } from "../../../stages/stage.ts";

Deno.test("ilp-prepare-sink flags become options; bad flags are StageOptionsError", () => {
  const secret = "ab".repeat(32);
  const options = ilpPrepareSinkStage.parseOptions({
    btp: "btp+ws://127.0.0.1:3000",
    token: "t",
    window: "4",
    "price-per-byte": "10",
    "shared-secret": secret,
    destination: "test.town",
  });
  assertEquals(options.window, 4);
  assertEquals(options.pricePerByte, 10n);
  assertEquals(options.sharedSecret, secret);
  assertThrows(() => ilpPrepareSinkStage.parseOptions({}), StageOptionsError, "--btp");
  assertThrows(
    () => ilpPrepareSinkStage.parseOptions({ btp: "btp+ws://h:1", window: "-1" }),
    StageOptionsError,
  );
  assertThrows(
    () => ilpPrepareSinkStage.parseOptions({ btp: "btp+ws://h:1", "price-per-byte": "1.5" }),
    StageOptionsError,
  );
  assertThrows(
    () => ilpPrepareSinkStage.parseOptions({ btp: "btp+ws://h:1", destination: "bad address" }),
    StageOptionsError,
  );
});

Deno.test("ilp-prepare-sink permissions: net to the BTP host:port only", () => {
  const perms = ilpPrepareSinkStage.permissions({
    btpUrl: "btp+ws://127.0.0.1:3000",
    authToken: "",
  });
  assertEquals(perms.net, ["127.0.0.1:3000"]);
  assertEquals([perms.read, perms.write, perms.run, perms.env, perms.ffi], [
    false,
    false,
    false,
    false,
    false,
  ]);
  const wss = ilpPrepareSinkStage.permissions({ btpUrl: "btp+wss://town.example", authToken: "" });
  assertEquals(wss.net, ["town.example:443"]);
});

Deno.test("shared secrets: hex or base64, exactly 32 bytes", () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  assertEquals(decodeSharedSecret(hex), bytes);
  assertEquals(decodeSharedSecret(btoa(String.fromCharCode(...bytes))), bytes);
  assertThrows(() => decodeSharedSecret("abcd"), StageOptionsError, "32 bytes");
  assertThrows(() => decodeSharedSecret("!!!"), StageOptionsError);
});
