/**
 * Where a requester keeps the proof that a job's delivery broke its commitment
 * (roles/agent_work/delivery_proof.ts, docs/PROTOCOL.md "The commitment, and proof of a delivery
 * that does not open").
 *
 * @module
 */

/**
 * Where a job's proof is kept in the requester's profile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const path = deliveryProofFile("/home/a/.turnpike/alice", "ab".repeat(32));
 * assert.equal(path, `/home/a/.turnpike/alice/proofs/${"ab".repeat(32)}.json`);
 * ```
 */
export function deliveryProofFile(stateDir: string, job: string): string {
  return `${stateDir}/proofs/${job}.json`;
}
