/**
 * What `job list` prints for the jobs it lists (cli/job_read_command.ts picks them): one `job`
 * line each with `--output json`, a CSV row each with `--output csv`, else one text line each;
 * each with the job's verdict (cli/job_line.ts) and, for an agent-task sent with a bead, the bead
 * (id, rig/polecat, title: cli/job_bead.ts), read from the job's record since the index does not
 * keep it.
 *
 * @module
 */
import type { JobRepository, JobSummary } from "../state/jobs/job_repository.ts";
import type { JobBead } from "../state/jobs/job_record.ts";
import { JOB_KIND_NAMES, jobKindLabel, jobNameFromKind } from "../protocol/job_kind_names.ts";
import { csvRow } from "../protocol/csv_row.ts";
import { printJsonLine } from "./json_line.ts";
import { jobLineFields, jobVerdict } from "./job_line.ts";
import { beadText } from "./job_bead.ts";
import { terminalText } from "./terminal_text.ts";

/**
 * Prints the listed jobs, newest first, as `output` says; one line per job (docs/AGENTS.md): no
 * array to read whole.
 *
 * @example
 * ```ts
 * import { printJobList } from "./job_list_print.ts";
 * import { openJobRepository } from "../state/jobs/job_repository.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const repo = await openJobRepository({ stateDir, readOnly: true });
 * await printJobList(repo, repo.list({ limit: 100 }), "json");
 * repo.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function printJobList(
  repo: Pick<JobRepository, "stateDir" | "read">,
  rows: readonly JobSummary[],
  output: string | undefined,
): Promise<void> {
  // A done job's verdict (its report's), as `job wait` exits by (cli/job_line.ts).
  const verdicts = await Promise.all(rows.map((r) => jobVerdict(repo.stateDir, r)));
  // Only an agent-task can have a bead: the other jobs' records are not read.
  const beads = await Promise.all(
    rows.map(async (r): Promise<JobBead | undefined> =>
      r.kind === JOB_KIND_NAMES["agent-task"]
        ? (await repo.read(r.id).catch(() => undefined))?.bead
        : undefined
    ),
  );
  if (output === "json") {
    for (const [i, r] of rows.entries()) {
      const bead = beads[i] === undefined ? {} : { bead: beads[i] };
      printJsonLine("job", { ...jobLineFields(r, verdicts[i]), ...bead });
    }
  } else if (output === "csv") {
    console.log("id,kind,name,callback,status,provider,created_at_ms,updated_at_ms,verdict,bead");
    for (const [i, r] of rows.entries()) {
      const name = jobNameFromKind(r.kind);
      const row = [r.id, r.kind, name, r.skill, r.status, r.provider];
      console.log(csvRow([...row, r.createdAtMs, r.updatedAtMs, verdicts[i], beads[i]?.id]));
    }
  } else {
    for (const [i, r] of rows.entries()) {
      const bead = beads[i];
      console.log(
        `${r.id}  ${jobKindLabel(r.kind).padEnd(19)} ${r.status.padEnd(15)} ` +
          new Date(r.createdAtMs).toISOString() +
          (verdicts[i] === undefined ? "" : `  verdict ${verdicts[i]}`) +
          (bead === undefined ? "" : terminalText(`  bead ${beadText(bead)}`)),
      );
    }
  }
}
