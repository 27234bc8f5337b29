/**
 * A requester as a library (`@turnpike/turnpike/requester`): the function that starts one and
 * what it takes, a job's spec and the spend policy it is paid under (docs/ARCHITECTURE.md
 * "The roles", docs/AGENTS.md for the same from the CLI).
 *
 * It needs a town: no example that runs here: tests/e2e/requester_job_flow_test.ts.
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
