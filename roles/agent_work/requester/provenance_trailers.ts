/**
 * An applied agent task's commits, rewritten by the requester to say where they came from
 * (docs/AGENTS.md "Where a commit came from"): each commit of `base..tip` gets the trailers
 * `Turnpike-Job`, `Turnpike-Provider` and, for a task with a bead, `Bead`, and a subject without
 * Markdown; its tree, author and committer (names, emails, dates) are kept byte for byte, so
 * the rewrite is deterministic and applying a result twice makes the same branch.
 *
 * The requester writes them, not the provider: the values are what its own job record holds (the
 * job it posted, the bead it sent, the provider whose signed result it paid), and whatever
 * trailers of those names the agent wrote are removed first. The bundle the provider committed to
 * is checked before (roles/agent_work/result_apply.ts); only the branch's commits are new.
 *
 * @module
 */
import { runGit } from "../git_command.ts";

/** A trailer's key and value (`Turnpike-Job`, the job id). */
export interface Trailer {
  key: string;
  value: string;
}

/** Options of {@linkcode addProvenanceTrailers}. */
export interface ProvenanceTrailersOptions {
  /** The repository, which holds `tip`'s commits. */
  dir: string;
  /** The base the task was sent at (full id): its history is left as it is. */
  base: string;
  /** The work's tip (full id). */
  tip: string;
  /** The trailers each commit gets, in this order. */
  trailers: readonly Trailer[];
  /** Milliseconds each git command may run. */
  timeoutMs?: number;
}

/** Trailer keys the requester writes: the agent's own lines of these names are dropped. */
const OWN_KEYS = /^(turnpike-job|turnpike-provider|bead)\s*:/i;

/** Commit headers that sign the old commit and would not verify on the new one. */
const SIGNATURE_HEADERS = new Set(["gpgsig", "gpgsig-sha256", "mergetag"]);

/**
 * Rewrites `base..tip` with `trailers` and subjects without Markdown; returns the new tip (only
 * its objects are written: no ref moves).
 *
 * It runs git: no example that runs here: tests/e2e/agent_task_provenance_test.ts.
 */
export async function addProvenanceTrailers(o: ProvenanceTrailersOptions): Promise<string> {
  const git = (args: string[], stdin?: string) =>
    runGit(args, {
      dir: o.dir,
      timeoutMs: o.timeoutMs,
      stdin: stdin === undefined ? undefined : new TextEncoder().encode(stdin),
    });
  const commits = (await git(["rev-list", "--reverse", "--topo-order", `${o.base}..${o.tip}`]))
    .stdout.split("\n").filter((line) => line !== "");
  const rewritten = new Map<string, string>();
  for (const commit of commits) {
    const raw = (await git(["cat-file", "commit", commit])).stdout;
    const split = raw.indexOf("\n\n");
    const headers = split === -1 ? raw : raw.slice(0, split);
    const message = split === -1 ? "" : raw.slice(split + 2);
    const trailed = (await git(
      [
        "-c",
        "trailer.ifexists=addIfDifferentNeighbor",
        "interpret-trailers",
        ...o.trailers.flatMap((t) => ["--trailer", `${t.key}: ${t.value}`]),
      ],
      cleanMessage(message),
    )).stdout;
    const object = `${rewriteHeaders(headers, rewritten)}\n\n${trailed}`;
    const id = (await git(["hash-object", "-t", "commit", "-w", "--stdin"], object)).stdout.trim();
    rewritten.set(commit, id);
  }
  return rewritten.get(o.tip) ?? o.tip;
}

/**
 * A commit subject without Markdown: leading `#`s, backticks and `**` go (the agent often commits
 * the task's heading as it is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainSubject } from "./provenance_trailers.ts";
 *
 * assert.equal(plainSubject("# Fix `add` **now**"), "Fix add now");
 * assert.equal(plainSubject("##"), "agent work");
 * ```
 */
export function plainSubject(subject: string): string {
  const plain = subject.replace(/^\s*#+\s*/, "").replaceAll("`", "").replaceAll("**", "").trim();
  return plain === "" ? "agent work" : plain;
}

/** The message with a plain subject and without the agent's lines of the requester's keys. */
function cleanMessage(message: string): string {
  const [subject = "", ...body] = message.split("\n");
  const kept = body.filter((line) => !OWN_KEYS.test(line));
  return [plainSubject(subject), ...kept].join("\n").trimEnd() + "\n";
}

/** The headers with the parents rewritten and the signatures (multi-line headers) dropped. */
function rewriteHeaders(headers: string, rewritten: Map<string, string>): string {
  const out: string[] = [];
  let dropping = false;
  for (const line of headers.split("\n")) {
    if (line.startsWith(" ")) {
      if (!dropping) out.push(line);
      continue;
    }
    const [name, ...rest] = line.split(" ");
    dropping = SIGNATURE_HEADERS.has(name);
    if (dropping) continue;
    const value = rest.join(" ");
    out.push(name === "parent" ? `parent ${rewritten.get(value) ?? value}` : line);
  }
  return out.join("\n");
}
