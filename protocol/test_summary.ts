/**
 * Recognise a test summary in a CI log: the last line that one of the known runners prints.
 *
 * @module
 */

/** Counts found in a log, and which runner's format they came from. */
export interface TestSummary {
  passed: number;
  failed: number;
  skipped?: number;
  format: "plain" | "deno" | "pytest" | "jest" | "node-test" | "tap";
  line: string;
}

const PLAIN = /^\s*(\d+) passed, (\d+) failed\s*$/;
const DENO = /^(?:ok|FAILED) \| (\d+) passed(?: \([^)]*\))? \| (\d+) failed/;
const JEST = /^Tests:\s+(.*\d+ total)/;
const PYTEST = /^=+ (.*\bin [\d.]+s.*) =+$/;
const COUNT = /(\d+) (passed|failed|skipped|errors?)/g;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Find the last recognisable summary in `log`, or null.
 *
 * @example
 * ```ts
 * parseTestSummary("ok | 3 passed | 0 failed (9ms)"); // { passed: 3, failed: 0, format: "deno", ... }
 * ```
 */
export function parseTestSummary(log: string): TestSummary | null {
  const lines = log.replace(ANSI, "").split(/\r?\n/);
  let nodePass: number | undefined;
  let nodeFail: number | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    const found = matchLine(line);
    if (found !== null) return found;
    const pass = /^# pass (\d+)$/.exec(line);
    const fail = /^# fail (\d+)$/.exec(line);
    if (pass !== null) nodePass = Number(pass[1]);
    if (fail !== null) nodeFail = Number(fail[1]);
    if (nodePass !== undefined && nodeFail !== undefined) {
      return { passed: nodePass, failed: nodeFail, format: "node-test", line };
    }
  }
  return null;
}

function matchLine(line: string): TestSummary | null {
  let m = PLAIN.exec(line);
  if (m !== null) return { passed: Number(m[1]), failed: Number(m[2]), format: "plain", line };
  m = DENO.exec(line);
  if (m !== null) return { passed: Number(m[1]), failed: Number(m[2]), format: "deno", line };
  m = JEST.exec(line) ?? PYTEST.exec(line);
  if (m !== null) {
    const counts = countWords(m[1]);
    return { ...counts, format: line.startsWith("Tests:") ? "jest" : "pytest", line };
  }
  return null;
}

function countWords(text: string): { passed: number; failed: number; skipped?: number } {
  const out: { passed: number; failed: number; skipped?: number } = { passed: 0, failed: 0 };
  for (const [, n, word] of text.matchAll(COUNT)) {
    if (word === "passed") out.passed += Number(n);
    else if (word === "skipped") out.skipped = Number(n);
    else out.failed += Number(n); // failed, error, errors
  }
  return out;
}
