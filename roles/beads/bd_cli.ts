/**
 * Beads' `bd` as `turnpike beads sync` drives it (docs/AGENTS.md "Beads across machines"): its
 * JSON in (`bd list --all --json --limit 0` for the ids, `bd show <ids...> --json` for each
 * bead's fields, labels, dependencies and comments) and its CLI out (`bd create`, `bd update`,
 * `bd close`, `bd label add|remove`, `bd dep add|remove`, `bd comments add`), every value passed
 * as `--flag=value` so a value that starts with `-` stays a value.
 *
 * The synced fields are {@linkcode SYNCED_FIELDS}; `close_reason`, times and counts stay local.
 *
 * @module
 */
import { RoleError } from "../role_error.ts";
import type { BeadComment, BeadView } from "./bead_state.ts";

/** The fields of a bead that are synced, by `bd`'s JSON name. */
export const SYNCED_FIELDS = [
  "title",
  "description",
  "status",
  "priority",
  "issue_type",
  "assignee",
  "acceptance_criteria",
  "design",
  "notes",
] as const;

/** `bd update`'s flag for each field (status is `bd close` or `--status`). */
const UPDATE_FLAG: Record<string, string> = {
  title: "--title",
  description: "--description",
  priority: "--priority",
  issue_type: "--type",
  assignee: "--assignee",
  acceptance_criteria: "--acceptance",
  design: "--design",
  notes: "--notes",
};

/** How many ids one `bd show` is given. */
const SHOW_BATCH = 100;

/** `bd` failed (not found, a non-zero exit, output that is not its JSON). */
export class BdCommandError extends RoleError {
  /** `"BdCommandError"`: explicit so it survives bundling. */
  override name = "BdCommandError";
}

/** Options for {@linkcode BdCli}. */
export interface BdCliOptions {
  /** The `bd` to run (default `bd` on PATH). */
  bd?: string;
  /** Its working directory (the rig's), default this process's. */
  cwd?: string;
  /** More environment for it (this process's is passed on). */
  env?: Record<string, string>;
}

/** An issue as `bd show --json` prints it (the parts read here). */
export interface BdIssue {
  id: string;
  labels?: string[] | null;
  dependencies?: { id?: string; depends_on_id?: string; dependency_type?: string; type?: string }[];
  comments?: { author?: string; text?: string; created_at?: string }[] | null;
  [field: string]: unknown;
}

/**
 * The synced view of an issue: its fields (absent strings as "", priority 2, type `task`), its
 * labels, its dependencies as `<type>:<id>`, its comments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { issueView } from "./bd_cli.ts";
 *
 * assert.equal(issueView({ id: "gt-1", title: "Fix", status: "open" }).fields.priority, 2);
 * ```
 */
export function issueView(issue: BdIssue): BeadView {
  const fields: Record<string, string | number> = {};
  for (const k of SYNCED_FIELDS) {
    const v = issue[k];
    fields[k] = k === "priority"
      ? (typeof v === "number" ? v : 2)
      : k === "issue_type"
      ? (typeof v === "string" && v !== "" ? v : "task")
      : (typeof v === "string" ? v : "");
  }
  const deps = (issue.dependencies ?? []).map((d) =>
    `${d.dependency_type ?? d.type ?? "blocks"}:${d.depends_on_id ?? d.id}`
  );
  const comments: BeadComment[] = (issue.comments ?? []).map((c) => ({
    author: c.author ?? "",
    text: c.text ?? "",
    at: c.created_at ?? "",
  }));
  return { fields, labels: [...(issue.labels ?? [])].sort(), deps: deps.sort(), comments };
}

/**
 * Runs `bd`; see the module doc. It runs the `bd` process (a stand-in in the tests): no example
 * that runs here: tests/e2e/beads_sync_test.ts.
 */
export class BdCli {
  #o: BdCliOptions;
  /** The `bd` commands that changed something, since this was made. */
  writes = 0;
  /** Milliseconds spent waiting for `bd`, since this was made. */
  ms = 0;

  constructor(options: BdCliOptions = {}) {
    this.#o = options;
  }

  async #run(args: string[]): Promise<string> {
    let out;
    const start = performance.now();
    try {
      out = await new Deno.Command(this.#o.bd ?? "bd", {
        args,
        cwd: this.#o.cwd,
        env: this.#o.env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (err) {
      throw new BdCommandError(`cannot run ${this.#o.bd ?? "bd"}: ${(err as Error).message}`);
    } finally {
      this.ms += performance.now() - start;
    }
    if (!out.success) {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
      throw new BdCommandError(`bd ${args[0]} failed (exit ${out.code}): ${why.slice(0, 300)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  async #json(args: string[]): Promise<BdIssue[]> {
    const text = await this.#run(args);
    try {
      const parsed = JSON.parse(text);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      throw new BdCommandError(`bd ${args[0]} --json printed no JSON: ${text.slice(0, 200)}`);
    }
  }

  /** Every issue, in full, by id. */
  async showAll(): Promise<Map<string, BdIssue>> {
    const ids = (await this.#json(["list", "--all", "--limit", "0", "--json"])).map((i) => i.id);
    const all = new Map<string, BdIssue>();
    for (let i = 0; i < ids.length; i += SHOW_BATCH) {
      const batch = ids.slice(i, i + SHOW_BATCH);
      for (const issue of await this.#json(["show", ...batch, "--json"])) all.set(issue.id, issue);
    }
    return all;
  }

  async #write(args: string[]): Promise<void> {
    await this.#run(args);
    this.writes++;
  }

  /**
   * Makes `bd` show `want` for bead `id` (created with that id when `now` is undefined): its
   * fields and labels. Dependencies and comments are {@linkcode writeLinks}'s, once every bead
   * exists.
   */
  async writeFields(id: string, want: BeadView, now: BeadView | undefined): Promise<void> {
    const f = want.fields;
    if (now === undefined) {
      const args = ["create", `--title=${f.title ?? ""}`, `--id=${id}`];
      for (const [k, flag] of Object.entries(UPDATE_FLAG)) {
        if (k !== "title" && f[k] !== undefined && f[k] !== "") args.push(`${flag}=${f[k]}`);
      }
      if (want.labels.length > 0) args.push(`--labels=${want.labels.join(",")}`);
      await this.#write([...args, "--json"]);
      now = { fields: { status: "open" }, labels: want.labels, deps: [], comments: [] };
    }
    const update = Object.entries(UPDATE_FLAG)
      .filter(([k]) => f[k] !== undefined && f[k] !== now.fields[k])
      .map(([k, flag]) => `${flag}=${f[k]}`);
    if (update.length > 0) await this.#write(["update", id, ...update]);
    if (f.status !== undefined && f.status !== now.fields.status) {
      await this.#write(
        f.status === "closed" ? ["close", id] : ["update", id, `--status=${f.status}`],
      );
    }
    for (const l of want.labels) {
      if (!now.labels.includes(l)) await this.#write(["label", "add", id, l]);
    }
    for (const l of now.labels) {
      if (!want.labels.includes(l)) await this.#write(["label", "remove", id, l]);
    }
  }

  /** Makes `bd` show `want`'s dependencies and comments for bead `id`. */
  async writeLinks(id: string, want: BeadView, now: BeadView | undefined): Promise<void> {
    const had = now ?? { fields: {}, labels: [], deps: [], comments: [] };
    const split = (
      dep: string,
    ) => [dep.slice(0, dep.indexOf(":")), dep.slice(dep.indexOf(":") + 1)];
    for (const dep of want.deps) {
      if (had.deps.includes(dep)) continue;
      const [type, on] = split(dep);
      await this.#write(["dep", "add", id, on, `--type=${type}`]);
    }
    for (const dep of had.deps) {
      if (want.deps.includes(dep)) continue;
      await this.#write(["dep", "remove", id, split(dep)[1]]);
    }
    const have = new Map<string, number>();
    for (const c of had.comments) {
      const k = `${c.author}\n${c.text}`;
      have.set(k, (have.get(k) ?? 0) + 1);
    }
    for (const c of want.comments) {
      const k = `${c.author}\n${c.text}`;
      const n = have.get(k) ?? 0;
      if (n > 0) {
        have.set(k, n - 1);
        continue;
      }
      await this.#write(["comments", "add", id, c.text, `--author=${c.author}`]);
    }
  }
}
