/**
 * The library a user can read (deno.json "exports"; the root `mod.ts` and the roles' entry
 * points): every name listed by hand, none from an internal folder, every function documented
 * with an example, and a program written against the entry points alone runs.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";
import {
  buildJobRequest,
  createMnemonic,
  decodeEventToon,
  decodeIlpPrepare,
  deriveNip06SecretKey,
  encodeEventToon,
  encodeIlpPrepare,
  extractSummary,
  importMnemonic,
  loadSettings,
  localNodeSigner,
  parseJobRequest,
  queryRelay,
  verifyEvent,
} from "../../../mod.ts";
import { resolveTownSettings, startTownNode } from "../../../roles/town/mod.ts";

const root = new URL("../../../", import.meta.url);

/** What each entry point may re-export from: the public folders of its layer. */
const ALLOWED: Record<string, RegExp> = {
  ".":
    /^(protocol|transport|chain|config|identity|stages|pipeline)\/|^state\/(channels\/channel_book|channels\/channel_writer|channels\/channel_file|audit\/audit_log)\.ts$/,
  "./town": /^(roles\/town|config)\//,
  "./provider": /^roles\/provider\//,
  "./requester": /^(roles\/requester|protocol)\//,
};

async function entryPoints(): Promise<Record<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
    exports: Record<string, string>;
  };
  return config.exports;
}

Deno.test("library: every entry point lists its names and re-exports only public folders", async () => {
  const entries = await entryPoints();
  assertEquals(Object.keys(entries).sort(), Object.keys(ALLOWED).sort());
  const leaks: string[] = [];
  for (const [name, path] of Object.entries(entries)) {
    const file = new URL(path, root);
    const text = await Deno.readTextFile(file);
    if (/^export \*/m.test(text)) leaks.push(`${path}: export *`);
    const dir = path.replace(/^\.\//, "").replace(/[^/]+$/, "");
    for (const m of text.matchAll(/^export [^;]*? from "([^"]+)";/gms)) {
      const target = new URL(m[1], new URL(dir, root)).pathname.slice(root.pathname.length);
      if (!ALLOWED[name].test(target)) leaks.push(`${path}: ${target}`);
    }
  }
  assertEquals(leaks, []);
});

/**
 * A function that needs a peer to run (a BTP peer, a relay) has no example that runs in a doc
 * test (docs/ARCHITECTURE.md "The test suite": an example that cannot run is deleted); its doc
 * then names the test that runs it, "no example that runs here: tests/..._test.ts", which must
 * exist.
 */
async function runElsewhere(doc: string | undefined): Promise<boolean> {
  const named = doc?.replace(/\s+/g, " ").match(/no example that runs here: (tests\/\S+_test\.ts)/);
  if (!named) return false;
  return await Deno.stat(new URL(named[1], root)).then(() => true, () => false);
}

Deno.test("library: every exported function has a doc with an example (or names the test that runs it), every class a doc", async () => {
  const entries = Object.values(await entryPoints());
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entries],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  type Decl = { kind: string; jsDoc?: { doc?: string; tags?: { kind: string }[] } };
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: { name: string; declarations: Decl[] }[] }>;
  };
  const missing: string[] = [];
  let functions = 0;
  for (const [file, node] of Object.entries(doc.nodes)) {
    for (const symbol of node.symbols) {
      for (const decl of symbol.declarations) {
        const hasExample = decl.jsDoc?.tags?.some((t) => t.kind === "example") ?? false;
        if (decl.kind === "function") {
          functions++;
          if (!hasExample && !(await runElsewhere(decl.jsDoc?.doc))) {
            missing.push(`${file}: ${symbol.name} (no example)`);
          }
        } else if (decl.kind === "class" && !decl.jsDoc?.doc) {
          missing.push(`${file}: ${symbol.name} (no doc)`);
        }
      }
    }
  }
  assertEquals(missing, []);
  assert(functions > 100, `the scan read the entry points (${functions} functions)`);
});

Deno.test("library: a program on the entry points alone signs, encodes and reads a town", async () => {
  // A key from a mnemonic, a job request signed with it, its TOON and back, verified.
  const mnemonic = importMnemonic(createMnemonic());
  const signer = localNodeSigner(deriveNip06SecretKey(mnemonic));
  const request = await signer.signEvent(
    buildJobRequest({ kind: 5000, inputs: [{ type: "text", data: "hello" }], bid: 1000n }),
  );
  const toon = encodeEventToon(request);
  const back = decodeEventToon(toon);
  assertEquals(back, request);
  verifyEvent(back);
  assertEquals(extractSummary(toon).kind, 5000);
  assertEquals(parseJobRequest(back).inputs[0].data, "hello");
  // An ILP PREPARE carrying it, through the codec.
  const prepare = {
    amount: "100",
    destination: "test.town",
    executionCondition: new Uint8Array(32),
    expiresAt: new Date(Date.now() + 30_000),
    data: new TextEncoder().encode(toon),
  };
  assertEquals(decodeIlpPrepare(encodeIlpPrepare(prepare)).data, prepare.data);
  // A town started from its entry point, read by the relay client.
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-library-" });
  try {
    const loaded = await loadSettings({
      readFile: false,
      env: () => undefined,
      flags: { stateDir, townPort: "0", btpPort: "0" },
    });
    const config = resolveTownSettings({
      loaded,
      flags: { devAcceptAnyToken: true },
      env: () => undefined,
    });
    const town = await startTownNode({
      config,
      secretKey: crypto.getRandomValues(new Uint8Array(32)),
    });
    try {
      const result = await queryRelay(`ws://127.0.0.1:${town.httpPort}`, [{ kinds: [5000] }]);
      assertEquals(result.events, []);
    } finally {
      await town.stop();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
