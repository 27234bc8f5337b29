/**
 * Idle RSS of `turnpike town up` (the CLI, a real process): SQLite and a PostgreSQL store, for
 * this checkout and, given a second checkout (e.g. a worktree of main), for that one too, in
 * the same run, alternating. Each town starts with `--generate-key` in a temp state dir on free
 * ports, is left idle `IDLE_S` seconds after it printed its JSON line, and its VmRSS (and
 * VmHWM, RssAnon, RssFile) is read from /proc. Two baselines run beside them, to tell the code's
 * size from the running town's state: `deno run` of an empty program, and of a program that only
 * imports what `town up` loads (cli.ts and cli/town_command.ts) without starting anything.
 * Prints a table with the best and the median of `RUNS` runs (docs/SCALE.md "An idle town's
 * memory").
 *
 *     deno run -A bench/town_idle_rss_bench_script.ts [other checkout] [runs] [idle seconds]
 *
 * With `RSS_BENCH_THREADS=1` it also prints each process's threads by name; with
 * `RSS_BENCH_STORES=sqlite` only the SQLite towns (no PostgreSQL started);
 * `RSS_BENCH_FLAGS="--v8-flags=..."` adds Deno flags to every process; with `RSS_BENCH_WALLET=1`
 * each town unlocks a wallet made for it (a mnemonic, its passphrase in a file) instead of
 * `--generate-key`, as a town that keeps its identity runs.
 *
 * @module
 */
import { startPostgresServer } from "../state/postgres/postgres_server.ts";
import { freshDatabase } from "../harness/postgres_database.ts";
import { createMnemonic } from "../identity/mnemonic.ts";
import { createWalletRecord } from "../identity/wallet.ts";
import { walletFilePath, writeWalletFile } from "../identity/wallet_file.ts";
import {
  type CheckoutProcess,
  startCheckoutProcess,
  startCheckoutTown,
} from "../harness/checkout_process.ts";

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const other = Deno.args[0] || undefined;
const runs = Number(Deno.args[1] ?? 3);
const idleS = Number(Deno.args[2] ?? 10);
const stores = (Deno.env.get("RSS_BENCH_STORES") ?? "sqlite,postgres").split(",");
const extraFlags = (Deno.env.get("RSS_BENCH_FLAGS") ?? "").split(" ").filter((f) => f !== "");
const withWallet = Deno.env.get("RSS_BENCH_WALLET") === "1";

/** `--generate-key`, or a wallet written into `stateDir` and the file of its passphrase. */
async function keyArgs(stateDir: string): Promise<string[]> {
  if (!withWallet) return ["--generate-key"];
  const passphrase = "rss bench passphrase";
  const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase });
  await writeWalletFile(walletFilePath(stateDir), record);
  const file = `${stateDir}/passphrase.txt`;
  await Deno.writeTextFile(file, passphrase);
  return ["--passphrase-file", file, "--non-interactive"];
}

interface Figures {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

function status(pid: number): Figures {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return {
    rss: kib("VmRSS") / 1024,
    hwm: kib("VmHWM") / 1024,
    anon: kib("RssAnon") / 1024,
    file: kib("RssFile") / 1024,
  };
}

/** The process's threads by name (workers show as their isolate threads), for a look inside. */
function threads(pid: number): string {
  const names = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    let name: string;
    try {
      name = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return [...names].map(([n, c]) => `${n} x${c}`).join(", ");
}

/** A program that prints one line (after its imports, if any) and then waits to be killed. */
async function baselineProgram(checkout: string, withTown: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rss_base_" });
  const path = `${dir}/${withTown ? "imports" : "empty"}.ts`;
  const imports = withTown
    ? `import "${checkout}/cli.ts";\nimport "${checkout}/cli/town_command.ts";\n`
    : "";
  await Deno.writeTextFile(
    path,
    `${imports}console.log("{}");\nsetInterval(() => {}, 1 << 30);\n`,
  );
  return path;
}

/** Waits `idleS` s after `process`'s first line, reads its figures and stops it. */
async function idleFigures(process: CheckoutProcess): Promise<Figures> {
  await using started = process;
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const { pid } = started.process.child;
  const figures = status(pid);
  if (Deno.env.get("RSS_BENCH_THREADS")) console.error(threads(pid));
  return figures;
}

async function townFigures(checkout: string, storeUrl?: string): Promise<Figures> {
  const stateDir = await Deno.makeTempDir({ prefix: "rss_town_" });
  try {
    return await idleFigures(
      await startCheckoutTown({
        checkout,
        stateDir,
        keyArgs: await keyArgs(stateDir),
        townArgs: storeUrl === undefined ? [] : ["--store", storeUrl],
        denoFlags: extraFlags,
      }),
    );
  } finally {
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

async function baselineFigures(checkout: string, withTown: boolean): Promise<Figures> {
  const program = await baselineProgram(checkout, withTown);
  try {
    return await idleFigures(
      await startCheckoutProcess({ checkout, program, denoFlags: extraFlags }),
    );
  } finally {
    await Deno.remove(program.replace(/\/[^/]+$/, ""), { recursive: true }).catch(() => {});
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await using pg = stores.includes("postgres") ? await startPostgresServer() : undefined;
const checkouts = other === undefined ? [here] : [other, here];
const kinds = [
  "deno, empty program",
  "deno, town modules imported",
  ...stores.map((s) => `town up, ${s}`),
];
const results = new Map<string, Figures[]>();
for (let run = 0; run < runs; run++) {
  for (const checkout of checkouts) {
    for (const kind of kinds) {
      if (kind === "deno, empty program" && checkout !== checkouts[0]) continue; // the same Deno
      let f: Figures;
      if (kind === "deno, empty program") f = await baselineFigures(checkout, false);
      else if (kind === "deno, town modules imported") f = await baselineFigures(checkout, true);
      else if (kind === "town up, postgres") {
        f = await townFigures(checkout, await freshDatabase(pg!.url));
      } else f = await townFigures(checkout);
      const key = kind === "deno, empty program"
        ? kind
        : `${checkout === here ? "this" : "other"}: ${kind}`;
      results.set(key, [...results.get(key) ?? [], f]);
      console.error(
        `run ${run + 1} ${key}: VmRSS ${f.rss.toFixed(1)} MiB (anon ${f.anon.toFixed(1)}, file ` +
          `${f.file.toFixed(1)}), VmHWM ${f.hwm.toFixed(1)}`,
      );
    }
  }
}
const fixed = (x: number) => x.toFixed(1);
console.log(
  `| checkout: process | idle VmRSS best / median (MiB) | runs | RssAnon / RssFile median | VmHWM median |`,
);
console.log(`| --- | --- | --- | --- | --- |`);
for (const [key, fs] of results) {
  const rss = fs.map((f) => f.rss);
  console.log(
    `| ${key} | ${fixed(Math.min(...rss))} / ${fixed(median(rss))} | ${
      rss.map((x) => x.toFixed(0)).join(", ")
    } | ${fixed(median(fs.map((f) => f.anon)))} / ${fixed(median(fs.map((f) => f.file)))} | ${
      fixed(median(fs.map((f) => f.hwm)))
    } |`,
  );
}
console.log(
  `(this = ${here}${other === undefined ? "" : `, other = ${other}`}; idle ${idleS} s${
    extraFlags.length > 0 ? `; flags ${extraFlags.join(" ")}` : ""
  })`,
);
