import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { resolveStateDir } from "../../../config/state_dir.ts";
import { ConfigError } from "../../../config/config_error.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("state dir: ~/.turnpike/default by default", () => {
  assertEquals(resolveStateDir({ env: envOf({ HOME: "/home/me" }) }), "/home/me/.turnpike/default");
});

Deno.test("state dir: profile, TURNPIKE_PROFILE, TURNPIKE_HOME, TURNPIKE_STATE_DIR, --state-dir", () => {
  const env = envOf({ HOME: "/home/me" });
  assertEquals(resolveStateDir({ profile: "alice", env }), "/home/me/.turnpike/alice");
  assertEquals(
    resolveStateDir({ env: envOf({ HOME: "/h", TURNPIKE_PROFILE: "bob" }) }),
    "/h/.turnpike/bob",
  );
  assertEquals(
    resolveStateDir({ profile: "alice", env: envOf({ HOME: "/h", TURNPIKE_PROFILE: "bob" }) }),
    "/h/.turnpike/alice",
  );
  assertEquals(
    resolveStateDir({ profile: "p", env: envOf({ HOME: "/h", TURNPIKE_HOME: "/srv/tp/" }) }),
    "/srv/tp/p",
  );
  assertEquals(
    resolveStateDir({ env: envOf({ HOME: "/h", TURNPIKE_STATE_DIR: "/data/node" }) }),
    "/data/node",
  );
  assertEquals(
    resolveStateDir({
      stateDir: "/x",
      profile: "p",
      env: envOf({ TURNPIKE_HOME: "/srv", TURNPIKE_STATE_DIR: "/data" }),
    }),
    "/x",
  );
});

Deno.test("state dir: bad profile names and no home are ConfigError", () => {
  for (const bad of ["..", "../etc", "a/b", "", ".hidden", "x".repeat(65)]) {
    assertThrows(() => resolveStateDir({ profile: bad, env: envOf({ HOME: "/h" }) }), ConfigError);
  }
  assertThrows(() => resolveStateDir({ env: envOf({}) }), ConfigError, "home directory");
});
