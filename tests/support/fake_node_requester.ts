/**
 * Test helper: a stand-in for the {@linkcode Requester} a profile's node serves
 * (roles/requester/node_server.ts), one that records what it was asked to publish and submit and
 * touches no town.
 *
 * @module
 */
import type { Requester } from "../../roles/requester/requester_node.ts";
import type { JobSpec } from "../../roles/requester/job_spec.ts";

/** The stand-in and what it was asked. */
export interface FakeNodeRequester {
  requester: Requester;
  /** The staged files it was asked to publish. */
  published: string[];
  /** The job specs it was asked to submit. */
  submitted: JobSpec[];
}

/**
 * A requester stand-in: `publishBlob` and `submit` answer at once and are recorded.
 *
 * @example
 * ```ts
 * import { fakeNodeRequester } from "./fake_node_requester.ts";
 *
 * const { requester, submitted } = fakeNodeRequester();
 * console.assert(requester.activeJobs === 0 && submitted.length === 0);
 * ```
 */
export function fakeNodeRequester(): FakeNodeRequester {
  const published: string[] = [];
  const submitted: JobSpec[] = [];
  const requester = {
    pubkey: "ab".repeat(32),
    activeJobs: 0,
    town: { assetCode: "USD", assetScale: 6 },
    publishBlob(path: string) {
      published.push(path);
      return Promise.resolve({ url: "http://town/x", sha256: "00".repeat(32), size: 1, paid: 0n });
    },
    submit(spec: JobSpec) {
      submitted.push(spec);
      return Promise.resolve({ id: "job-1", status: "posted" });
    },
  };
  return { requester: requester as unknown as Requester, published, submitted };
}
