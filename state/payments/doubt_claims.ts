/**
 * One process at a time on a payment in doubt: before a payer process sends again a write it
 * holds in doubt (roles/town_client/in_doubt_writes.ts) it claims the doubt, an exclusive OS file
 * lock on `<state dir>/payment_doubts/<peer>-<invoice>.lock`, waited for when another process
 * holds it and kept until the retry's outcome is on the log; then it reads the payment log as it
 * is on disk now. Every process of a profile reads the log's intents once, at its start, so two of
 * them (a `node up` and a `job submit`, two hosts sharing the profile) may hold the same doubt:
 * the first to claim it sends the write again and records its outcome; the others find it settled
 * on the log when their turn comes, forget it, and record nothing for it (docs/PROTOCOL.md
 * "Payment channels and claims").
 *
 * The lock is the kernel's (`flock`, state/process_lock.ts): a claim dies with its process,
 * SIGKILL included, so a doubt claimed by a dead process is taken over by the next one, which
 * finds on disk whatever the dead one wrote (a line is appended whole or skipped when read,
 * state/payments/payment_log.ts). The files stay (removing one would let a third process lock a
 * fresh file while a second still holds the old); one is made per write ever in doubt, a
 * failure path. They never enter the audit history (`state/audit/state_dir_ignore.ts`).
 *
 * @module
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { openPaymentLog } from "./payment_log.ts";

/** The directory of the claims' lock files, in the state dir. */
export const DOUBT_CLAIMS_DIR = "payment_doubts";

/** A held claim on a payment in doubt. */
export interface DoubtClaim extends AsyncDisposable {
  /** Whether the payment is still in doubt on the log, read once the claim was held. */
  open: boolean;
  /** Releases the claim (idempotent). */
  release(): Promise<void>;
}

/** Claims payments in doubt of one profile. */
export interface DoubtClaims {
  /** Waits for the claim on the payment of `invoiceId` to `peer`, then reads its state. */
  claim(invoiceId: string, peer: string): Promise<DoubtClaim>;
}

/**
 * The claims on the payments in doubt of the profile at `stateDir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPaymentLog } from "./payment_log.ts";
 * import { doubtClaims } from "./doubt_claims.ts";
 *
 * const stateDir = await Deno.makeTempDir();
 * const log = await openPaymentLog({ stateDir });
 * const intent = { ts: new Date().toISOString(), direction: "out", event: "intent", jobId: "e1",
 *   invoiceId: "e1", amount: "100", asset: "USD", peer: "g.town", category: "town-write" } as const;
 * await log.append(intent);
 * const claims = doubtClaims(stateDir);
 * const first = await claims.claim("e1", "g.town");
 * assert.equal(first.open, true); // this process sends it again and records its outcome
 * await log.append({ ...intent, event: "fulfilled" });
 * await first.release();
 * const second = await claims.claim("e1", "g.town"); // another process, after it
 * assert.equal(second.open, false); // settled on the log: it records nothing
 * await second.release();
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export function doubtClaims(stateDir: string): DoubtClaims {
  const dir = `${stateDir.replace(/\/+$/, "")}/${DOUBT_CLAIMS_DIR}`;
  return {
    async claim(invoiceId, peer) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const file = await Deno.open(`${dir}/${claimName(invoiceId, peer)}.lock`, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
      let released: Promise<void> | undefined;
      const release = () =>
        released ??= (async () => {
          await file.unlock().catch(() => {});
          file.close();
        })();
      try {
        await file.lock(true);
        const log = await openPaymentLog({ stateDir });
        const open = log.invoiceState(invoiceId, peer) === "in-doubt";
        return { open, release, [Symbol.asyncDispose]: release };
      } catch (err) {
        await release();
        throw err;
      }
    },
  };
}

/** A file name for the payment: ids and addresses may hold any character, a digest does not. */
function claimName(invoiceId: string, peer: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(`${peer}\n${invoiceId}`)));
}
