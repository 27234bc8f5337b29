/**
 * A requester as a library (`@turnpike/turnpike/requester`): the function that starts one and
 * what it takes, a job's spec and the spend policy it is paid under (docs/ARCHITECTURE.md
 * "The roles", docs/AGENTS.md for the same from the CLI).
 *
 * @example
 * ```ts
 * import { type JobSpec, type RequesterOptions, startRequester } from "./mod.ts";
 *
 * declare const options: RequesterOptions; // its town, state dir and key
 * declare const spec: JobSpec; // kind, inputs, bid, callback skill
 * const requester = await startRequester(options);
 * const job = await requester.submit(spec);
 * console.log((await requester.waitFor(job.id)).status);
 * await requester.close();
 * ```
 *
 * @module
 */
export {
  JobEndedError,
  type JobProgress,
  Requester,
  RequesterJobError,
  type RequesterOptions,
  startRequester,
} from "./requester_node.ts";
export { type JobSpec, JobSpecError } from "./job_spec.ts";
export { JobSlots, RequesterBusyError } from "./job_slots.ts";
export { type SpendPolicy } from "../../protocol/spend_policy.ts";
