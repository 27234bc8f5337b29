/**
 * The file calls a no-op job makes, by role: reads an `strace -f -tt -y` trace of
 * `bench/requester_jobs_bench_script.ts --only latency --sh-only` and prints, per job, the new
 * files, renames, fsyncs (file and directory), appends, SQLite writes and `mkdir`s of each role's
 * state dir (the requester's `requester-N/`, the provider's `provider/`, the town's
 * `turnpike-test-town-*`), grouped by path with ids folded. Only the job loop counts: from the
 * first requester sidecar's rename (`requester/<id>.json`, written at each submit by a tree whose
 * sidecars are files) to the last callback payload's (`callbacks/<id>.in.payload`, at each job's
 * end). A tree whose sidecars are rows has no such rename: its loop starts at the first payload's,
 * one job later, and counts one job fewer (docs/SCALE.md "A no-op job's file calls by role").
 *
 *     strace -f -qq -tt -y -o /tmp/trace.txt \
 *       -e trace=openat,rename,renameat,renameat2,fsync,fdatasync,mkdir,mkdirat,unlink,unlinkat,write,pwrite64 \
 *       deno run -A bench/requester_jobs_bench_script.ts --only latency --sh-only
 *     deno run -A bench/job_file_calls_script.ts /tmp/trace.txt [--jobs 200] [--min 0.2]
 *
 * `--min`: the smallest per-job count a path group is listed with (the totals count them all).
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";

const usage = "Usage: deno run -A bench/job_file_calls_script.ts <strace file> " +
  "[--jobs 200] [--min 0.2]";
const file = Deno.args[0];
if (file === undefined || file.startsWith("-")) {
  console.error(usage);
  Deno.exit(2);
}
const { values } = parseBenchFlags(Deno.args.slice(1), {
  values: ["jobs", "min"],
  switches: [],
  usage,
});
const jobs = Number(values.jobs ?? 200);
const min = Number(values.min ?? 0.2);

const LINE = /^(\d+)\s+(\S+) (\w+)\((.*)$/;
const LOOP_START = /\/requester-\d+\/requester\/[0-9a-f]+\.json"/;
const LOOP_END = /\/requester-\d+\/callbacks\/[0-9a-f]+\.in\.payload"/;

interface Call {
  name: string;
  rest: string;
}

const calls: Call[] = [];
for (const line of (await Deno.readTextFile(file)).split("\n")) {
  const m = LINE.exec(line);
  if (m === null || m[4].includes("resumed>")) continue;
  calls.push({ name: m[3], rest: m[4] });
}
const renamesOf = (re: RegExp) =>
  calls.flatMap((c, i) => c.name.startsWith("rename") && re.test(c.rest) ? [i] : []);
const [starts, ends] = [renamesOf(LOOP_START), renamesOf(LOOP_END)];
// Sidecars as rows: from the first job's end, so the loop holds one job fewer.
const [first, counted] = starts.length > 0 ? [starts[0], jobs] : [ends[0], jobs - 1];
const loop = first === undefined || ends.length === 0
  ? calls
  : calls.slice(first, ends.at(-1)! + 1);

/** The role whose state dir holds `path`, and the path inside it; undefined for other paths. */
function roleOf(path: string): [string, string] | undefined {
  const roots: [string, RegExp][] = [
    ["requester", /\/turnpike-req-[^/]+\/requester-\d+(\/.*)?$/],
    ["provider", /\/turnpike-req-[^/]+\/provider(\/.*)?$/],
    ["town", /\/turnpike-test-town-[^/]+(\/.*)?$/],
  ];
  for (const [role, re] of roots) {
    const m = re.exec(path);
    if (m !== null) return [role, fold(m[1] ?? "/")];
  }
  return undefined;
}

/** Folds ids, temp names and git's fan-out so that one kind of file is one group. */
function fold(sub: string): string {
  return sub
    .replace(/\/objects\/[0-9a-f]{2}(\/.*)?$/, "/objects/xx$1")
    .replace(/\/objects\/xx\/.+$/, "/objects/xx/*")
    .replace(/\/work\/\.sandbox\/.*/, "/work/.sandbox/...")
    .replace(/[0-9a-f]{16,}/g, "H")
    .replace(/\/work\/H.*/, "/work/H/...")
    .replace(/\.tmp[^/]*$/, ".tmp*");
}

function kindOf(c: Call): [string, string] | undefined {
  const quoted = [...c.rest.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const fdPath = /^\d+<([^>]*)>/.exec(c.rest)?.[1];
  if (c.name === "openat") {
    const kind = c.rest.includes("O_DIRECTORY")
      ? "open dir"
      : c.rest.includes("O_CREAT") && c.rest.includes("O_EXCL")
      ? "new file"
      : c.rest.includes("O_CREAT")
      ? "open to append/create"
      : /O_WRONLY|O_RDWR/.test(c.rest)
      ? "open to write"
      : "open to read";
    return [kind, quoted[0] ?? ""];
  }
  if (c.name === "fsync" || c.name === "fdatasync") {
    // A directory's name has no dot here (jobs, provider-jobs, callbacks, the state dir).
    const base = fdPath?.split("/").at(-1) ?? "";
    return [`${c.name} ${base.includes(".") ? "file" : "directory"}`, fdPath ?? ""];
  }
  if (c.name.startsWith("rename")) return ["rename", quoted.at(-1) ?? ""];
  if (c.name.startsWith("mkdir")) {
    return [c.rest.includes("EEXIST") ? "mkdir (exists)" : "mkdir", quoted[0] ?? ""];
  }
  if (c.name.startsWith("unlink")) return ["unlink", quoted[0] ?? ""];
  if (c.name === "write" || c.name === "pwrite64") return [c.name, fdPath ?? ""];
  return undefined;
}

const groups = new Map<string, number>();
const totals = new Map<string, number>();
for (const c of loop) {
  const kind = kindOf(c);
  if (kind === undefined || kind[0] === "open to read") continue;
  const role = roleOf(kind[1]);
  if (role === undefined) continue;
  const group = `${role[0].padEnd(10)} ${kind[0].padEnd(22)} ${role[1]}`;
  groups.set(group, (groups.get(group) ?? 0) + 1);
  const total = `${role[0].padEnd(10)} ${kind[0]}`;
  totals.set(total, (totals.get(total) ?? 0) + 1);
}
console.log(`${loop.length} calls in the job loop, per job of ${counted}:`);
for (const [group, n] of [...groups].sort()) {
  if (n / counted >= min) console.log(`${(n / counted).toFixed(2).padStart(7)}  ${group}`);
}
console.log("totals per job:");
for (const [total, n] of [...totals].sort()) {
  console.log(`${(n / counted).toFixed(2).padStart(7)}  ${total}`);
}
