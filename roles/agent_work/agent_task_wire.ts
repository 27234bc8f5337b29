/**
 * The names an agent task travels under, on both sides of it (docs/PROTOCOL.md "agent-task (kind
 * 5603)"): what the requester writes (roles/agent_work/requester/) the provider reads
 * (roles/agent_work/provider/), and back. One table, so the two halves cannot drift apart.
 *
 * @module
 */
import { JOB_KIND_NAMES } from "../../protocol/job_kind_names.ts";

/** The request kind of an agent task. */
export const AGENT_TASK_KIND: number = JOB_KIND_NAMES["agent-task"];
