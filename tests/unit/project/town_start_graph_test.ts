/**
 * What a SQLite town's start loads stays what it uses idle (docs/SCALE.md "An idle town's
 * memory"): the modules `turnpike town up` evaluates at start (cli.ts and cli/town_command.ts and
 * their static imports, from `deno info --json`) hold no chain or channel code, no viem, no
 * PostgreSQL driver nor the store's wrappers over it (state/postgres/), no WebAssembly signer, no
 * CommonJS packet library nor the wallet unlock's process (a wallet's only), and the local files
 * `deno run` reads before the program starts (static imports and literal dynamic ones) hold no
 * PostgreSQL driver source.
 * Code reached through `lazyImport` (a URL), a non-literal `import()` or a type-only import is
 * not in either.
 */
import { assertEquals } from "../../../harness/assert.ts";

const root = new URL("../../../", import.meta.url);

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

async function info(path: string): Promise<Info> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", new URL("deno.json", root).pathname, path],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The specifiers reached from the roots by code imports (with the dynamic ones, if asked). */
async function reached(withDynamic: boolean): Promise<string[]> {
  const found = new Set<string>();
  for (const path of ["cli.ts", "cli/town_command.ts"]) {
    const graph = await info(path);
    const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
    const stack = [...graph.roots];
    while (stack.length > 0) {
      const raw = stack.pop()!;
      const specifier = graph.redirects[raw] ?? raw;
      if (found.has(specifier)) continue;
      found.add(specifier);
      for (const dep of modules.get(specifier)?.dependencies ?? []) {
        if (dep.code !== undefined && (withDynamic || !dep.isDynamic)) {
          stack.push(dep.code.specifier);
        }
      }
    }
  }
  const base = root.href;
  return [...found].map((s) => s.startsWith(base) ? s.slice(base.length) : s).sort();
}

const NOT_AT_START = [
  /^npm:\/?viem@/,
  /^npm:\/?nostr-wasm@/,
  /^npm:\/?hash-wasm@/,
  // CommonJS: Deno's CommonJS loader with them (protocol/packet_libraries.ts loads them at use).
  /^npm:\/?ilp-packet@/,
  /^npm:\/?btp-packet@/,
  /^vendor\/postgres\//,
  // The PostgreSQL wrappers: a shared store's only (roles/town/town_stores.ts loads them by URL).
  /^state\/postgres\/(?!postgres_store_error\.ts$)/,
  /^chain\//,
  /^roles\/channels\/(?!claim_reject_reply\.ts$)/,
  /^roles\/town\/channels\/(?!no_channel_gates\.ts$)/,
  // A wallet's unlock in a process of its own: a wallet's only (identity/worker_node_signer.ts).
  /^identity\/wallet_unlock_process(_main)?\.ts$/,
];

Deno.test("town up evaluates no chain, channel, viem, PostgreSQL driver or wrapper, WebAssembly signer, CommonJS packet library or wallet unlock process code at start", async () => {
  const evaluated = await reached(false);
  assertEquals(evaluated.includes("roles/town/town_node.ts"), true, "the walk reaches the town");
  assertEquals(evaluated.filter((s) => NOT_AT_START.some((re) => re.test(s))), []);
});

Deno.test("town up's deno run reads no PostgreSQL driver source before the town starts", async () => {
  const read = await reached(true);
  assertEquals(read.filter((s) => s.startsWith("vendor/postgres/")), []);
});
