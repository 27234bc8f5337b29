/**
 * The shared store in the town's configuration: `[store] url` / `TURNPIKE_STORE_URL` /
 * `--store` (flag wins), a URL that is not PostgreSQL refused, `[store] processes` dividing the
 * town-wide limits, and payment channel peers taken on a shared store (their claim books are
 * shared there).
 */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveTownSettings, type TownFlags } from "../../../config/town_settings.ts";
import { ConfigError } from "../../../config/config_error.ts";
import { DEFAULT_TOWN_LIMITS } from "../../../config/town_limits.ts";
import { shareOfTownLimits, TOWN_WIDE_LIMITS } from "../../../roles/town/town_share.ts";

async function configWith(toml: string, env: Record<string, string> = {}, flags: TownFlags = {}) {
  const dir = await Deno.makeTempDir({ prefix: "town_store_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
    return resolveTownSettings({ loaded, flags, env: (name) => env[name] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("store config: [store] url, the environment and --store, in that order of weight", async () => {
  assertEquals((await configWith("")).storeUrl, undefined);
  const toml = '[store]\nurl = "postgres://town@db:5432/town"\nprocesses = 3\n';
  const fromToml = await configWith(toml);
  assertEquals(fromToml.storeUrl, "postgres://town@db:5432/town");
  assertEquals(fromToml.storeProcesses, 3);
  const fromEnv = await configWith(toml, { TURNPIKE_STORE_URL: "postgres://env@db/town" });
  assertEquals(fromEnv.storeUrl, "postgres://env@db/town");
  const fromFlag = await configWith(toml, { TURNPIKE_STORE_URL: "postgres://env@db/town" }, {
    store: "postgresql://flag@db/town",
    storeProcesses: "2",
  });
  assertEquals(fromFlag.storeUrl, "postgresql://flag@db/town");
  assertEquals(fromFlag.storeProcesses, 2);
  // The blob directory the processes on one host share: only with a store, an absolute path.
  assertEquals(fromToml.storeBlobsDir, undefined);
  const withBlobs = await configWith(toml, { TURNPIKE_STORE_BLOBS_DIR: "/srv/town/blobs" });
  assertEquals(withBlobs.storeBlobsDir, "/srv/town/blobs");
  assertEquals((await configWith('[store]\nblobs_dir = "/srv/b"\n')).storeBlobsDir, undefined);
  await assertRejects(
    () => configWith(toml, {}, { storeBlobsDir: "blobs" }),
    ConfigError,
    "absolute path",
  );
  // The private blob fetch listener: loopback and a free port unless configured.
  assertEquals(fromToml.storeBlobPeer, { host: "127.0.0.1", port: 0, url: undefined });
  const peer = await configWith(
    toml + 'blob_peer_host = "10.0.0.5"\nblob_peer_port = 7301\n',
    { TURNPIKE_STORE_BLOB_PEER_URL: "http://town-a.internal:7301" },
  );
  assertEquals(peer.storeBlobPeer, {
    host: "10.0.0.5",
    port: 7301,
    url: "http://town-a.internal:7301",
  });
  await assertRejects(
    () => configWith(toml + 'blob_peer_url = "http://x:1/path"\n'),
    ConfigError,
    "blob_peer_url",
  );
});

Deno.test("store config: not a PostgreSQL URL, or a bad process count, is refused", async () => {
  await assertRejects(
    () => configWith('[store]\nurl = "mysql://x@y/z"\n'),
    ConfigError,
    "PostgreSQL URL",
  );
  await assertRejects(
    () => configWith('[store]\nurl = "postgres://x@y/z"\nprocesses = 0\n'),
    ConfigError,
    "store processes",
  );
});

Deno.test("store config: payment channel peers are taken on a shared store, as without", async () => {
  const channel = `0x${"ab".repeat(32)}`;
  // Their claim books are shared in the store (state/postgres/postgres_claim_books.ts).
  const shared = await configWith('[store]\nurl = "postgres://x@y/z"\n', {}, {
    peer: ["alice:tok"],
    peerChannel: [`alice:${channel}`],
  });
  assertEquals(shared.peerChannels?.length, 1);
  const alone = await configWith("", {}, {
    peer: ["alice:tok"],
    peerChannel: [`alice:${channel}`],
  });
  assertEquals(alone.peerChannels?.length, 1);
});

Deno.test("store config: each of N processes enforces 1/N of the town-wide limits", () => {
  const share = shareOfTownLimits(DEFAULT_TOWN_LIMITS, 3);
  for (const name of TOWN_WIDE_LIMITS) {
    assertEquals(share[name], Math.max(1, Math.floor(DEFAULT_TOWN_LIMITS[name] / 3)));
    // The town as a whole never allows more than the configured limit (but at least 1 each).
    assertEquals(share[name] * 3 <= Math.max(3, DEFAULT_TOWN_LIMITS[name]), true);
  }
  assertEquals(share.maxSubscriptions, DEFAULT_TOWN_LIMITS.maxSubscriptions, "per connection");
  assertEquals(shareOfTownLimits(DEFAULT_TOWN_LIMITS, 1), DEFAULT_TOWN_LIMITS);
});
