/**
 * The payment log's files in a state dir, and the moves that keep each audit commit small
 * (docs/ARCHITECTURE.md "The payment log's files"):
 *
 * ```text
 * payment_log.jsonl                      today's newest lines (the current file, appended to)
 * payment_log/<day>/<NNNNNN>.jsonl       a day's sealed chunks, in order (never written again)
 * payment_log/<day>.jsonl                a day's last lines, moved there at the next UTC day
 * ```
 *
 * A day's lines are its chunks in order, then `<day>.jsonl`. The current file is sealed into the
 * next chunk once it holds the chunk size, so a git audit commit of a payment stores the current
 * file only (at most about one chunk), not the whole day's log; a sealed chunk is a rename of
 * bytes git already has.
 *
 * @module
 */

/** The current file's name in the state dir. */
export const PAYMENT_LOG_NAME = "payment_log.jsonl";
/** The directory of the days moved out of the current file. */
export const PAYMENT_LOG_DIR = "payment_log";

/** One file of the payment log, read in this order (oldest first). */
export interface PaymentLogFile {
  /** The UTC day its lines were written on (`YYYY-MM-DD`). */
  day: string;
  /** Its path relative to the state dir. */
  path: string;
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
const DAY_DIR = /^\d{4}-\d{2}-\d{2}$/;
const CHUNK = /^(\d{6})\.jsonl$/;

/**
 * The payment log's kept files under `<stateDir>/payment_log` in reading order: each day's
 * chunks by number, then that day's last file (the current file is not among them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/payment_log/2026-11-01`, { recursive: true });
 * for (const f of ["2026-11-01.jsonl", "2026-11-01/000002.jsonl", "2026-11-01/000001.jsonl"]) {
 *   await Deno.writeTextFile(`${dir}/payment_log/${f}`, "");
 * }
 * assert.deepEqual((await listPaymentLogFiles(dir)).map((f) => f.path), [
 *   "payment_log/2026-11-01/000001.jsonl",
 *   "payment_log/2026-11-01/000002.jsonl",
 *   "payment_log/2026-11-01.jsonl",
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function listPaymentLogFiles(stateDir: string): Promise<PaymentLogFile[]> {
  const files: (PaymentLogFile & { order: string })[] = [];
  const root = `${stateDir}/${PAYMENT_LOG_DIR}`;
  for await (const e of Deno.readDir(root)) {
    const day = DAY_FILE.exec(e.name)?.[1];
    if (e.isFile && day !== undefined) {
      files.push({ day, path: `${PAYMENT_LOG_DIR}/${e.name}`, order: `${day} last` });
    }
    if (!e.isDirectory || !DAY_DIR.test(e.name)) continue;
    for await (const c of Deno.readDir(`${root}/${e.name}`)) {
      const n = CHUNK.exec(c.name)?.[1];
      if (c.isFile && n !== undefined) {
        files.push({ day: e.name, path: `${PAYMENT_LOG_DIR}/${e.name}/${c.name}`, order: n });
      }
    }
  }
  const key = (f: { day: string; order: string }) => `${f.day} ${f.order}`;
  return files.sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
    .map(({ day, path }) => ({ day, path }));
}

/**
 * Moves the current file into the day's next chunk, `payment_log/<day>/<NNNNNN>.jsonl`; returns
 * that path (relative to the state dir). `last`: the highest chunk number the day has, when the
 * caller knows it (else the day's directory is read).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/payment_log.jsonl`, "{}\n");
 * const path = await sealPaymentLogChunk(dir, "2026-11-01");
 * assert.equal(path, "payment_log/2026-11-01/000001.jsonl");
 * assert.equal(await Deno.readTextFile(`${dir}/${path}`), "{}\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function sealPaymentLogChunk(
  stateDir: string,
  day: string,
  last?: number,
): Promise<string> {
  const dir = `${stateDir}/${PAYMENT_LOG_DIR}/${day}`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  let n = last;
  if (n === undefined) {
    n = 0;
    for await (const c of Deno.readDir(dir)) n = Math.max(n, Number(CHUNK.exec(c.name)?.[1] ?? 0));
  }
  const path = `${PAYMENT_LOG_DIR}/${day}/${String(n + 1).padStart(6, "0")}.jsonl`;
  await Deno.rename(`${stateDir}/${PAYMENT_LOG_NAME}`, `${stateDir}/${path}`);
  return path;
}

/**
 * Removes the kept files of the days before `oldest` (`YYYY-MM-DD`); returns the removed files'
 * paths (relative to the state dir), for the audit commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/payment_log/2026-10-01`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/payment_log/2026-10-01/000001.jsonl`, "");
 * await Deno.writeTextFile(`${dir}/payment_log/2026-11-01.jsonl`, "");
 * assert.deepEqual(await prunePaymentLogFiles(dir, "2026-10-02"), ["payment_log/2026-10-01/000001.jsonl"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function prunePaymentLogFiles(stateDir: string, oldest: string): Promise<string[]> {
  const old = (await listPaymentLogFiles(stateDir)).filter((f) => f.day < oldest);
  for (const f of old) await Deno.remove(`${stateDir}/${f.path}`);
  for (const day of new Set(old.map((f) => f.day))) {
    await Deno.remove(`${stateDir}/${PAYMENT_LOG_DIR}/${day}`, { recursive: true }).catch(
      (err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      },
    );
  }
  return old.map((f) => f.path);
}

/**
 * The payment log's kept lines as text, oldest first: the kept files in order, then the current
 * file (an empty string when there is none). For a script that reads the lines raw; a node reads
 * them with `openPaymentLog`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/payment_log/2026-11-01`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/payment_log/2026-11-01/000001.jsonl`, "{\"a\":1}\n");
 * await Deno.writeTextFile(`${dir}/payment_log.jsonl`, "{\"a\":2}\n");
 * assert.equal(await readPaymentLogText(dir), "{\"a\":1}\n{\"a\":2}\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readPaymentLogText(stateDir: string): Promise<string> {
  const read = (path: string) =>
    Deno.readTextFile(`${stateDir}/${path}`).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return "";
      throw err;
    });
  const files = await listPaymentLogFiles(stateDir).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  });
  let text = "";
  for (const path of [...files.map((f) => f.path), PAYMENT_LOG_NAME]) {
    const part = await read(path);
    text += part === "" || part.endsWith("\n") ? part : `${part}\n`;
  }
  return text;
}

/**
 * Whether the state dir holds a payment log at all: the current file, or kept days and chunks
 * (right after a seal or a day's rotation the current file may not be there yet). Readers that
 * must not create the log ask first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await hasPaymentLog(dir), false);
 * await Deno.mkdir(`${dir}/payment_log`);
 * assert.equal(await hasPaymentLog(dir), true);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function hasPaymentLog(stateDir: string): Promise<boolean> {
  for (const name of [PAYMENT_LOG_NAME, PAYMENT_LOG_DIR]) {
    if (await Deno.stat(`${stateDir}/${name}`).then(() => true, () => false)) return true;
  }
  return false;
}
