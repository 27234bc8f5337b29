/**
 * What `job submit` adds to a job's spec from the profile, each part's module loaded only when
 * it is asked for: the Gas Town worker's key for `--worker` (cli/gt_worker_flag.ts), and the
 * deposit bound when `[requester] deposit_share` is below 100 (cli/deposit_bound_param.ts,
 * docs/PROTOCOL.md "The deposit bound").
 *
 * @module
 */
import type { JobSpec } from "../roles/requester/job_spec.ts";
import type { DepositShares } from "../config/deposit_share_settings.ts";
import { lazyImport } from "./lazy_import.ts";

/** Options for {@linkcode specFromProfile}. */
export interface SpecFromProfileOptions {
  /** The profile's state dir. */
  stateDir: string;
  /** Its towns (the roster and its assertions are read there). */
  relays: string[];
  /** `--worker`: the Gas Town worker that signs the request. */
  worker?: string;
  /** `[requester] deposit_share` and `deposit_share_trusted`. */
  depositShares: DepositShares;
  /** Lines as JSON (else text on stderr). */
  json: boolean;
}

/**
 * Completes `spec` in place; see the module doc.
 *
 * It reads the roster's trust from the profile's towns, so it has no example that runs here:
 * tests/e2e/agent_task_deposit_bound_test.ts
 * @throws {CliError} (usage) when `worker` is not a Gas Town worker's address.
 */
export async function specFromProfile(spec: JobSpec, o: SpecFromProfileOptions): Promise<void> {
  if (o.worker !== undefined) {
    spec.worker = await (await lazyImport<typeof import("./gt_worker_flag.ts")>(
      new URL("./gt_worker_flag.ts", import.meta.url),
    )).workerKeyOf(o.stateDir, o.worker);
  }
  if (o.depositShares.floor < 100) {
    await (await lazyImport<typeof import("./deposit_bound_param.ts")>(
      new URL("./deposit_bound_param.ts", import.meta.url),
    )).addDepositBound(spec, { ...o, shares: o.depositShares });
  }
}
