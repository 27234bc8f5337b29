/**
 * The provider's job store as the node's parts reach it: they are made before the node starts,
 * the store opens in its start (roles/provider/provider_node.ts).
 *
 * @module
 */
import type { ProviderJobStore } from "../../state/jobs/provider_job_store.ts";

/** What the node's parts call on the job store. */
export type LateJobStore = Pick<
  ProviderJobStore,
  | "unfinished"
  | "getUnfinished"
  | "endedUnnotified"
  | "paidOnRecord"
  | "ofCustomer"
  | "get"
  | "has"
  | "put"
  | "income"
>;

/**
 * The store's calls, each made on the store `store()` returns when it is made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lateJobStore } from "./late_job_store.ts";
 * import { openProviderJobStore } from "../../state/jobs/provider_job_store.ts";
 *
 * let opened: Awaited<ReturnType<typeof openProviderJobStore>> | undefined;
 * const store = lateJobStore(() => opened!); // made before the store is open
 * const stateDir = await Deno.makeTempDir();
 * opened = await openProviderJobStore({ stateDir });
 * assert.deepEqual(store.unfinished(), []);
 * opened.close();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function lateJobStore(store: () => ProviderJobStore): LateJobStore {
  return {
    unfinished: () => store().unfinished(),
    getUnfinished: (id) => store().getUnfinished(id),
    endedUnnotified: () => store().endedUnnotified(),
    paidOnRecord: () => store().paidOnRecord(),
    ofCustomer: (customer) => store().ofCustomer(customer),
    get: (id) => store().get(id),
    has: (id) => store().has(id),
    put: (record, options) => store().put(record, options),
    get income() {
      return store().income;
    },
  };
}
