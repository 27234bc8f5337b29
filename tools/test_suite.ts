/**
 * The test suite on every core (docs/ARCHITECTURE.md "The test suite"): the test files type-checked
 * once, then run by `--jobs` separate `deno test` processes at once, each taking the next piece of
 * work as it finishes the last, the longest first (a piece is one slow file, or fast files packed
 * together up to {@linkcode PACK_SECONDS}). Separate processes, not `deno test --parallel`'s
 * threads: several tests read the process's own memory, pid or file descriptors, which threads
 * would share. How long each file took is read from `tests/durations.json` (`--record` writes it
 * from this run); a file not listed counts as {@linkcode UNKNOWN_SECONDS}.
 *
 * Run without paths, one more piece runs the library's doc examples: `deno test --doc` (type-checked
 * and run) over `mod.ts` and every module it re-exports from, the list read from `mod.ts` each time
 * (tools/library_examples.ts), its time kept in the durations as {@linkcode DOC_PIECE}; and one
 * piece per folder whose every example runs, `deno test --doc <folder>/`, and per module or glob of
 * modules outside them (`roles/*.ts`, tools/example_folders.ts).
 *
 * Each piece's output is printed whole when it ends, then one summary in `deno test`'s own words
 * (`ok | N passed (S steps) | N failed (time)`), after the failures by name; exit status 1 when
 * anything failed. Ctrl-C or SIGTERM names the pieces still running and stops them.
 *
 * ```sh
 * deno run -A tools/test_suite.ts                 # tests/, jobs from TEST_JOBS or 3
 * deno run -A tools/test_suite.ts --jobs 1 tests/unit
 * deno run -A tools/test_suite.ts --record        # and write tests/durations.json
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { libraryModules } from "./library_examples.ts";
import { EXAMPLE_FILES, EXAMPLE_FOLDERS, exampleArgument } from "./example_folders.ts";

/** Fast files are packed into pieces of about this many seconds. */
export const PACK_SECONDS = 20;
/** What a file missing from the durations takes, in seconds. */
export const UNKNOWN_SECONDS = 3;

/** The doc examples' piece: its name in the durations and in the output. */
export const DOC_PIECE = "deno test --doc mod.ts";
/** What the doc examples' piece takes when the durations do not say, in seconds. */
export const DOC_SECONDS = 60;

/** One piece of work: files run by one `deno test` process. */
export interface SuitePiece {
  /** Test files, relative to the project root (`tests/unit/x_test.ts`). */
  files: string[];
  /** Their recorded seconds, summed. */
  seconds: number;
  /** The files' doc examples are what runs (`deno test --doc`, type-checked in the piece). */
  doc?: boolean;
  /** A doc piece's name, in the durations and in the output (`deno test --doc stages/`). */
  name?: string;
}

/** Counts read from one `deno test` summary line. */
export interface SuiteCounts {
  passed: number;
  failed: number;
  ignored: number;
  passedSteps: number;
  failedSteps: number;
}

/**
 * Splits `files` into pieces: a file of at least `packSeconds` alone, the others packed in order
 * until a piece reaches it; the longest piece first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planPieces } from "./test_suite.ts";
 *
 * const pieces = planPieces(["a_test.ts", "b_test.ts", "c_test.ts"], { "a_test.ts": 60 }, 20);
 * assert.deepEqual(pieces[0].files, ["a_test.ts"]);
 * ```
 */
export function planPieces(
  files: readonly string[],
  durations: Readonly<Record<string, number>>,
  packSeconds = PACK_SECONDS,
): SuitePiece[] {
  const pieces: SuitePiece[] = [];
  let open: SuitePiece | undefined;
  for (const file of [...files].sort()) {
    const seconds = durations[file] ?? UNKNOWN_SECONDS;
    if (seconds >= packSeconds) {
      pieces.push({ files: [file], seconds });
      continue;
    }
    open ??= { files: [], seconds: 0 };
    open.files.push(file);
    open.seconds += seconds;
    if (open.seconds >= packSeconds) {
      pieces.push(open);
      open = undefined;
    }
  }
  if (open) pieces.push(open);
  return pieces.sort((a, b) => b.seconds - a.seconds);
}

/**
 * The piece that runs the doc examples of the library's modules: `mod.ts` and each module it
 * re-exports from, as `modText` (the text of `mod.ts`) names them today, but those under
 * `folders` (their folder's own piece runs them, {@linkcode folderDocPieces}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { docPiece } from "./test_suite.ts";
 *
 * const piece = docPiece('export { a } from "./protocol/a.ts";\n', { "deno test --doc mod.ts": 50 });
 * assert.deepEqual(piece.files, ["mod.ts", "protocol/a.ts"]);
 * assert.equal(piece.seconds, 50);
 * assert.deepEqual(docPiece('export { a } from "./protocol/a.ts";\n', {}, ["protocol"]).files, ["mod.ts"]);
 * ```
 */
export function docPiece(
  modText: string,
  durations: Readonly<Record<string, number>>,
  folders: readonly string[] = [],
): SuitePiece {
  return {
    files: libraryModules(modText)
      .filter((path) => !folders.some((folder) => path.startsWith(`${folder}/`))),
    seconds: durations[DOC_PIECE] ?? DOC_SECONDS,
    doc: true,
    name: DOC_PIECE,
  };
}

/**
 * One doc piece per folder whose every example runs, `deno test --doc <folder>/`, or per file or
 * glob of files (`deno test --doc roles/*.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { folderDocPieces } from "./test_suite.ts";
 *
 * const [piece] = folderDocPieces(["stages"], { "deno test --doc stages/": 30 });
 * assert.deepEqual(piece, { files: ["stages/"], seconds: 30, doc: true, name: "deno test --doc stages/" });
 * assert.deepEqual(folderDocPieces(["roles/*.ts"], {})[0].files, ["roles/*.ts"]);
 * ```
 */
export function folderDocPieces(
  folders: readonly string[],
  durations: Readonly<Record<string, number>>,
): SuitePiece[] {
  return folders.map((folder) => {
    const name = `deno test --doc ${exampleArgument(folder)}`;
    return {
      files: [exampleArgument(folder)],
      seconds: durations[name] ?? DOC_SECONDS,
      doc: true,
      name,
    };
  });
}

/**
 * Reads the counts of a `deno test` output's last summary line, or `undefined` when it has none
 * (the process crashed or was stopped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryCounts } from "./test_suite.ts";
 *
 * const counts = summaryCounts("FAILED | 831 passed (86 steps) | 2 failed (25m17s)");
 * assert.equal(counts?.failed, 2);
 * ```
 */
export function summaryCounts(output: string): SuiteCounts | undefined {
  const lines = output.split("\n").filter((l) => /^(ok|FAILED) \| \d+ passed/.test(l));
  const line = lines.at(-1);
  if (!line) return undefined;
  const count = (word: string): [number, number] => {
    const m = new RegExp(`(\\d+) ${word}(?: \\((\\d+) steps?\\))?`).exec(line);
    return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
  };
  const [passed, passedSteps] = count("passed");
  const [failed, failedSteps] = count("failed");
  const [ignored] = count("ignored");
  return { passed, failed, ignored, passedSteps, failedSteps };
}

/**
 * The failed tests a `deno test` output names under its `FAILURES` heading (`name => file:line`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failureLines } from "./test_suite.ts";
 *
 * const out = " FAILURES \n\nt => ./a_test.ts:1:6\n\nFAILED | 0 passed | 1 failed (1s)";
 * assert.deepEqual(failureLines(out), ["t => ./a_test.ts:1:6"]);
 * ```
 */
export function failureLines(output: string): string[] {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.trim() === "FAILURES");
  if (start < 0) return [];
  return lines.slice(start + 1).filter((l) => / => \S+:\d+:\d+$/.test(l));
}

/**
 * Seconds each file's tests took, from a `deno test` output (its `running N tests from` headings
 * and each test's time).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileSeconds } from "./test_suite.ts";
 *
 * const out = "running 1 test from ./tests/unit/a_test.ts\nt ... ok (1s)\n";
 * assert.deepEqual(fileSeconds(out), { "tests/unit/a_test.ts": 1 });
 * ```
 */
export function fileSeconds(output: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  let file: string | undefined;
  for (const line of output.split("\n")) {
    const heading = /^running \d+ tests? from \.\/(\S+)/.exec(line);
    if (heading) {
      file = heading[1];
      seconds[file] ??= 0;
      continue;
    }
    const time =
      /^\S.* \.\.\. (?:ok|FAILED|ignored) \((?:(\d+)m ?)?(?:([\d.]+)s)?(?:([\d.]+)ms)?\)$/
        .exec(line);
    if (time && file) {
      const s = Number(time[1] ?? 0) * 60 + Number(time[2] ?? 0) +
        Number(time[3] ?? 0) / 1000;
      seconds[file] = Math.round((seconds[file] + s) * 10) / 10;
    }
  }
  return seconds;
}

/**
 * The test files under `paths` (files or folders, relative to the project root or absolute),
 * sorted.
 */
async function testFiles(
  root: string,
  paths: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const full = (rel: string) => rel.startsWith("/") ? rel : `${root}/${rel}`;
    const info = await Deno.stat(full(rel));
    if (info.isFile) {
      found.push(rel);
      return;
    }
    for await (const entry of Deno.readDir(full(rel))) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(child);
      else if (/(^|[_.])test\.(ts|tsx|mts|js|mjs|jsx)$/.test(entry.name)) {
        found.push(child);
      }
    }
  };
  for (const path of paths) {
    await walk(path.replace(/^\.\//, "").replace(/\/$/, ""));
  }
  return found.sort();
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

interface Running {
  piece: SuitePiece;
  child: Deno.ChildProcess;
  startedAt: number;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      jobs: { type: "string" },
      pack: { type: "string" },
      record: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A tools/test_suite.ts [--jobs N] [--pack S] [--record] [path ...]\n" +
        "  runs the test files under the paths (default tests/) in N deno test processes at once\n" +
        `  (default TEST_JOBS or 3), files under S seconds packed together (default ${PACK_SECONDS};\n` +
        "  0: each file alone); --record writes tests/durations.json from this run",
    );
    return 0;
  }
  const jobs = Number(values.jobs ?? Deno.env.get("TEST_JOBS") ?? 3);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(
      `Error: --jobs takes a whole number of at least 1, not ${values.jobs}`,
    );
    return 2;
  }
  const pack = Number(values.pack ?? PACK_SECONDS);
  if (!(pack >= 0)) {
    console.error(
      `Error: --pack takes a number of seconds, not ${values.pack}`,
    );
    return 2;
  }
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const durationsPath = `${root}/tests/durations.json`;
  const durations: Record<string, number> = JSON.parse(
    await Deno.readTextFile(durationsPath).catch(() => "{}"),
  );
  const files = await testFiles(
    root,
    positionals.length ? positionals : ["tests"],
  );
  const deno = Deno.execPath();
  const started = Date.now();

  // One type check of every file, not one per process (each would check its whole graph again).
  console.log(`type-checking ${files.length} test files ...`);
  const check = await new Deno.Command(deno, {
    args: ["test", "--no-run", "--permit-no-files", ...files],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!check.success) {
    console.log(
      `\nFAILED | 0 passed | 1 failed (${elapsed(Date.now() - started)})`,
    );
    return 1;
  }

  const queue = planPieces(files, durations, pack);
  if (!positionals.length) {
    const modText = await Deno.readTextFile(`${root}/mod.ts`);
    queue.push(docPiece(modText, durations, EXAMPLE_FOLDERS));
    queue.push(...folderDocPieces([...EXAMPLE_FOLDERS, ...EXAMPLE_FILES], durations));
    queue.sort((a, b) => b.seconds - a.seconds);
  }
  console.log(
    `type check ${elapsed(Date.now() - started)}; running ${files.length} test files in ` +
      `${queue.length} pieces, ${jobs} at once`,
  );
  const total: SuiteCounts = {
    passed: 0,
    failed: 0,
    ignored: 0,
    passedSteps: 0,
    failedSteps: 0,
  };
  const failures: string[] = [];
  const measured: Record<string, number> = {};
  const running = new Set<Running>();
  let done = 0;

  const stopAll = (signal: Deno.Signal) => {
    console.log(`\n${signal}: stopping; still running:`);
    for (const r of running) {
      console.log(
        `  ${r.piece.files.join(" ")} (${elapsed(Date.now() - r.startedAt)})`,
      );
      try {
        r.child.kill("SIGTERM");
      } catch { /* already ended */ }
    }
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopAll(signal));
  }
  const ticker = setInterval(() => {
    const names = [...running].map((r) =>
      `${r.piece.files.at(-1)} (${elapsed(Date.now() - r.startedAt)})`
    );
    console.log(
      `... ${done} of ${queue.length + done + running.size} pieces done; running ${
        names.join(", ")
      }`,
    );
  }, 60_000);

  const runPiece = async (piece: SuitePiece): Promise<void> => {
    const child = new Deno.Command(deno, {
      args: piece.doc
        ? ["test", "-A", "--doc", "--permit-no-files", ...piece.files]
        : ["test", "-A", "--no-check", "--permit-no-files", ...piece.files],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const entry: Running = { piece, child, startedAt: Date.now() };
    running.add(entry);
    // stdout and stderr in the order they arrive, as a terminal would show them.
    const chunks: Uint8Array[] = [];
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) chunks.push(chunk);
    };
    const [status] = await Promise.all([
      child.status,
      drain(child.stdout),
      drain(child.stderr),
    ]);
    running.delete(entry);
    done++;
    const raw = new TextDecoder().decode(
      chunks.reduce((all, c) => {
        const joined = new Uint8Array(all.length + c.length);
        joined.set(all);
        joined.set(c, all.length);
        return joined;
      }, new Uint8Array()),
    );
    // deno test colours its output even into a pipe: read it plain.
    // deno-lint-ignore no-control-regex -- the colour codes' escape is what is removed
    const output = raw.replace(/\x1b\[[0-9;]*m/g, "");
    if (piece.doc) {
      measured[piece.name ?? DOC_PIECE] = Math.round(
        (Date.now() - entry.startedAt) / 1000,
      );
    } else Object.assign(measured, fileSeconds(output));
    const counts = summaryCounts(output);
    const took = elapsed(Date.now() - entry.startedAt);
    const name = piece.name === DOC_PIECE
      ? `${DOC_PIECE} (${piece.files.length} modules)`
      : piece.name ?? piece.files.join(" ");
    console.log(`\n── ${name} (${took})`);
    // On a terminal, as deno test printed it; into a file or pipe, plain, each piece's own summary
    // line indented, so that the suite's is the only one at a line's start.
    console.log(
      Deno.stdout.isTerminal()
        ? raw.trimEnd()
        : output.replace(/^(ok|FAILED) \|/gm, "  $1 |").trimEnd(),
    );
    if (counts) {
      for (const key of Object.keys(total) as (keyof SuiteCounts)[]) {
        total[key] += counts[key];
      }
      failures.push(...failureLines(output));
    }
    if (!counts || (!status.success && counts.failed === 0)) {
      total.failed++;
      failures.push(
        `${name}: deno test ended with code ${status.code} and no failed test named`,
      );
    }
  };

  const worker = async () => {
    for (let piece = queue.shift(); piece; piece = queue.shift()) {
      await runPiece(piece);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  clearInterval(ticker);

  if (values.record) {
    const sorted = Object.fromEntries(
      Object.entries(measured).sort(([a], [b]) => a < b ? -1 : 1),
    );
    await Deno.writeTextFile(
      durationsPath,
      JSON.stringify(sorted, null, 2) + "\n",
    );
    console.log(
      `\nwrote ${durationsPath} (${Object.keys(sorted).length} files)`,
    );
  }
  if (failures.length) console.log(`\n FAILURES \n\n${failures.join("\n")}`);
  const steps = (n: number) => n ? ` (${n} steps)` : "";
  const verdict = total.failed ? "FAILED" : "ok";
  console.log(
    `\n${verdict} | ${total.passed} passed${steps(total.passedSteps)} | ${total.failed} failed${
      steps(total.failedSteps)
    }${total.ignored ? ` | ${total.ignored} ignored` : ""} (${elapsed(Date.now() - started)})`,
  );
  return total.failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
