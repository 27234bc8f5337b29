/**
 * Idle RSS of `turnpike town up` (the CLI, a real process): SQLite and a PostgreSQL store, for
 * this checkout and, given a second checkout (e.g. a worktree of main), for that one too, in
 * the same run, alternating. Each town starts with `--generate-key` in a temp state dir on free
 * ports, is left idle `IDLE_S` seconds after it printed its JSON line, and its VmRSS (and
 * VmHWM) is read from /proc. Prints a table and the median of `RUNS` runs.
 *
 *     deno run -A bench/town_idle_rss_bench_script.ts [other checkout] [runs] [idle seconds]
 *
 * With `RSS_BENCH_THREADS=1` it also prints each town's threads by name.
 *
 * @module
 */
import { startPostgresServer } from "../state/postgres_server.ts";
import { freshDatabase } from "../tests/support/postgres_database.ts";

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const other = Deno.args[0] || undefined;
const runs = Number(Deno.args[1] ?? 3);
const idleS = Number(Deno.args[2] ?? 10);

function status(pid: number): { rss: number; hwm: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
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

async function idleRss(checkout: string, storeUrl?: string): Promise<{ rss: number; hwm: number }> {
  const stateDir = await Deno.makeTempDir({ prefix: "rss_town_" });
  const args = [
    "run",
    "-A",
    "--config",
    `${checkout}/deno.json`,
    `${checkout}/cli.ts`,
    "--state-dir",
    stateDir,
    "--json",
    "town",
    "up",
    "--generate-key",
    "--town-port",
    "0",
    "--btp-port",
    "0",
    ...(storeUrl === undefined ? [] : ["--store", storeUrl]),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { TURNPIKE_HOME: stateDir },
  }).spawn();
  let errText = "";
  void (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) errText += c;
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 120_000);
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`town ended before it listened: ${errText.slice(-2000)}`);
    text += value;
  }
  clearTimeout(deadline);
  void (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const figures = status(child.pid);
  if (Deno.env.get("RSS_BENCH_THREADS")) console.error(threads(child.pid));
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  return figures;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await using pg = await startPostgresServer();
const checkouts = other === undefined ? [here] : [other, here];
const results = new Map<string, { rss: number[]; hwm: number[] }>();
for (let run = 0; run < runs; run++) {
  for (const checkout of checkouts) {
    for (const store of ["sqlite", "postgres"] as const) {
      const url = store === "postgres" ? await freshDatabase(pg.url) : undefined;
      const f = await idleRss(checkout, url);
      const key = `${checkout === here ? "this" : "other"} ${store}`;
      const r = results.get(key) ?? { rss: [], hwm: [] };
      r.rss.push(f.rss);
      r.hwm.push(f.hwm);
      results.set(key, r);
      console.error(
        `run ${run + 1} ${key}: VmRSS ${f.rss.toFixed(1)} MiB, VmHWM ${f.hwm.toFixed(1)}`,
      );
    }
  }
}
console.log(`| checkout, store | idle VmRSS median (MiB) | runs | VmHWM median (MiB) |`);
console.log(`| --- | --- | --- | --- |`);
for (const [key, r] of results) {
  console.log(
    `| ${key} | ${median(r.rss).toFixed(1)} | ${r.rss.map((x) => x.toFixed(0)).join(", ")} | ${
      median(r.hwm).toFixed(1)
    } |`,
  );
}
console.log(`(this = ${here}${other === undefined ? "" : `, other = ${other}`}; idle ${idleS} s)`);
