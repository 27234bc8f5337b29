/**
 * A profile's receipts, kept up to date and checked (docs/PROTOCOL.md "Receipts and trust").
 *
 * - {@linkcode deriveReceipts}: what every ended job's receipt says now, from the job records and
 *   the payment log (roles/receipts/receipt_derive.ts), on both sides the profile plays.
 * - {@linkcode catchUpReceipts}: signs and appends to the receipt book
 *   (state/receipts/receipt_book.ts) a receipt for every ended job whose newest receipt is missing
 *   or says something else (a verdict or a refund that came later): the book only grows.
 * - {@linkcode readReceipts}: the book's newest receipt per job and side, each signature checked,
 *   and the lines that fail.
 * - {@linkcode checkReceipts}: each receipt against what the records and the payment log say now.
 *
 * Why a book rather than receipts derived afresh each time: the payment log keeps 30 days and a
 * pruned job takes its record with it, while trust needs the history; and a signed line is what
 * the profile vouches for, which a later edit of a record cannot change unseen.
 *
 * @module
 */
import {
  canonicalReceipt,
  type JobReceipt,
  readReceipt,
  ReceiptError,
  receiptTemplate,
  type SignedReceipt,
} from "../../protocol/job_receipt.ts";
import type { NodeSigner } from "../../protocol/node_signer.ts";
import { openJobRepository } from "../../state/jobs/job_repository.ts";
import { TERMINAL_JOB_STATUSES } from "../../state/jobs/job_record.ts";
import { readProviderJobRecords } from "../../state/jobs/provider_job_index.ts";
import { openPaymentLog } from "../../state/payments/payment_log.ts";
import { latestReceipts, openReceiptBook } from "../../state/receipts/receipt_book.ts";
import { paymentsByJob, providerReceipt, requesterReceipt } from "./receipt_derive.ts";

/**
 * The key of a receipt in the book: one job seen from one side.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { receiptKey } from "./receipt_ledger.ts";
 *
 * assert.equal(receiptKey({ side: "provider", job: "ab" }), "provider:ab");
 * ```
 */
export function receiptKey(r: Pick<JobReceipt, "side" | "job">): string {
  return `${r.side}:${r.job}`;
}

/** Ended jobs whose receipts are derived at once (their files read side by side). */
const DERIVE_PARALLEL = 32;

/**
 * Every ended job's receipt as the profile's books give it now, by {@linkcode receiptKey}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deriveReceipts } from "./receipt_ledger.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { openJobRepository } from "../../state/jobs/job_repository.ts";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 *
 * // A profile with one ended job: its record and the deposit it paid.
 * const stateDir = await Deno.makeTempDir();
 * const provider = getPublicKey(generateSecretKey());
 * const repo = await openJobRepository({ stateDir });
 * await repo.create({ id: "a1".repeat(32), kind: 5000, skill: "echo", status: "done",
 *   createdAtMs: 1_000, updatedAtMs: 2_000, provider, payments: [] });
 * repo.close();
 * await (await openPaymentLog({ stateDir })).append({ ts: "2026-01-01T00:00:00.000Z",
 *   direction: "out", event: "fulfilled", jobId: "a1".repeat(32), invoiceId: "inv-1",
 *   amount: "100", asset: "USD", peer: provider });
 * const derived = await deriveReceipts(stateDir);
 * const receipt = derived.get(`requester:${"a1".repeat(32)}`);
 * assert.deepEqual([derived.size, receipt?.counterparty, receipt?.deposit], [1, provider, "100"]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function deriveReceipts(stateDir: string): Promise<Map<string, JobReceipt>> {
  const byJob = paymentsByJob((await openPaymentLog({ stateDir })).entries());
  const derived = new Map<string, JobReceipt>();
  const put = (r: JobReceipt | undefined) => r && derived.set(receiptKey(r), r);
  if (await isDir(`${stateDir}/jobs`)) {
    const repo = await openJobRepository({ stateDir, readOnly: true });
    try {
      const ended = repo.list({
        status: [...TERMINAL_JOB_STATUSES],
        limit: Number.MAX_SAFE_INTEGER,
      });
      // A job's receipt reads its stored result and its agent task, small files each: read
      // DERIVE_PARALLEL jobs at a time, so that their reads overlap (10,000 ended jobs: 1.93 s
      // one at a time, 0.58 s; bench/trust_bench_script.ts `records`), the map in the list's
      // order.
      for (let i = 0; i < ended.length; i += DERIVE_PARALLEL) {
        const batch = ended.slice(i, i + DERIVE_PARALLEL).map(async (summary) => {
          const record = await repo.read(summary.id).catch(() => undefined);
          return record && await requesterReceipt(stateDir, record, byJob);
        });
        for (const receipt of await Promise.all(batch)) put(receipt);
      }
    } finally {
      repo.close();
    }
  }
  // Read, not opened as a store: opening imports and audits, a running provider's business.
  for (const record of await readProviderJobRecords(stateDir)) {
    put(providerReceipt(record, byJob));
  }
  return derived;
}

/** A line of the book that does not hold a valid receipt. */
export interface BadReceiptLine {
  /** 1-based line among the parsed events. */
  index: number;
  /** The event's id as written. */
  id: string;
  reason: ReceiptError["reason"] | "signer";
}

/** The book read and checked. */
export interface ReceiptReading {
  /** The newest valid receipt per job and side, oldest first. */
  receipts: SignedReceipt[];
  /** Lines whose signature, kind, content or signer is wrong. */
  bad: BadReceiptLine[];
  /** Lines that were not JSON at all. */
  skippedLines: number;
}

/** Options for {@linkcode readReceipts}. */
export interface ReadReceiptsOptions {
  /**
   * Check the signature of every line, not only of those after the book's checked mark
   * (`receipts --check`). Default false.
   */
  everySignature?: boolean;
}

/**
 * Reads the book: each line's signature checked, and signed by `pubkey` (the profile's) when
 * given; the newest valid receipt per job and side. The lines a reading before checked, unchanged
 * since (their bytes' SHA-256, state/receipts/receipt_book.ts), are not checked again unless
 * `everySignature`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { catchUpReceipts, readReceipts } from "./receipt_ledger.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { openJobRepository } from "../../state/jobs/job_repository.ts";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 *
 * // A profile with one ended job: its record and the deposit it paid.
 * const stateDir = await Deno.makeTempDir();
 * const provider = getPublicKey(generateSecretKey());
 * const repo = await openJobRepository({ stateDir });
 * await repo.create({ id: "a1".repeat(32), kind: 5000, skill: "echo", status: "done",
 *   createdAtMs: 1_000, updatedAtMs: 2_000, provider, payments: [] });
 * repo.close();
 * await (await openPaymentLog({ stateDir })).append({ ts: "2026-01-01T00:00:00.000Z",
 *   direction: "out", event: "fulfilled", jobId: "a1".repeat(32), invoiceId: "inv-1",
 *   amount: "100", asset: "USD", peer: provider });
 * using signer = localNodeSigner(generateSecretKey());
 * await catchUpReceipts({ stateDir, signer });
 * const { receipts, bad } = await readReceipts(stateDir, signer.pubkey);
 * assert.deepEqual([receipts.length, receipts[0].receipt.outcome, bad.length], [1, "done", 0]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readReceipts(
  stateDir: string,
  pubkey?: string,
  options: ReadReceiptsOptions = {},
): Promise<ReceiptReading> {
  const book = await openReceiptBook({ stateDir });
  const valid: SignedReceipt[] = [];
  const bad: BadReceiptLine[] = [];
  const known = options.everySignature ? 0 : book.checked.items;
  const failed: number[] = [];
  book.events.forEach((event, i) => {
    try {
      // A line that failed before is checked again (it fails again: its bytes are the same).
      const signatureChecked = i < known && !book.checked.failed.has(i);
      const signed = readReceipt(event, { signatureChecked });
      if (pubkey !== undefined && signed.signer !== pubkey) {
        bad.push({ index: i + 1, id: String(event.id), reason: "signer" });
      } else valid.push(signed);
    } catch (err) {
      if (!(err instanceof ReceiptError)) throw err;
      bad.push({ index: i + 1, id: String(event.id), reason: err.reason });
      if (err.reason === "signature" && i < book.wholeItems) failed.push(i);
    }
  });
  // Derived, for the next reading: a reader that cannot write it (a read-only state dir) checks
  // every signature again next time, as before the mark.
  await book.markChecked(failed).catch(() => {});
  return {
    receipts: latestReceipts(valid, (s) => receiptKey(s.receipt)),
    bad,
    skippedLines: book.skippedLines,
  };
}

/** Options for {@linkcode catchUpReceipts}. */
export interface CatchUpOptions {
  stateDir: string;
  /** The profile's key: what signs the new receipts. */
  signer: NodeSigner;
  /** Clock for the signatures' `created_at`, unix ms. Default Date.now. */
  now?: () => number;
}

/**
 * Signs and appends a receipt for every ended job whose newest valid receipt is missing or says
 * something else; returns how many were appended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { catchUpReceipts } from "./receipt_ledger.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { openJobRepository } from "../../state/jobs/job_repository.ts";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 *
 * // A profile with one ended job: its record and the deposit it paid.
 * const stateDir = await Deno.makeTempDir();
 * const provider = getPublicKey(generateSecretKey());
 * const repo = await openJobRepository({ stateDir });
 * await repo.create({ id: "a1".repeat(32), kind: 5000, skill: "echo", status: "done",
 *   createdAtMs: 1_000, updatedAtMs: 2_000, provider, payments: [] });
 * repo.close();
 * await (await openPaymentLog({ stateDir })).append({ ts: "2026-01-01T00:00:00.000Z",
 *   direction: "out", event: "fulfilled", jobId: "a1".repeat(32), invoiceId: "inv-1",
 *   amount: "100", asset: "USD", peer: provider });
 * using signer = localNodeSigner(generateSecretKey());
 * assert.equal(await catchUpReceipts({ stateDir, signer }), 1);
 * assert.equal(await catchUpReceipts({ stateDir, signer }), 0); // nothing changed since
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function catchUpReceipts(options: CatchUpOptions): Promise<number> {
  const { stateDir, signer } = options;
  const derived = await deriveReceipts(stateDir);
  const { receipts } = await readReceipts(stateDir, signer.pubkey);
  // The newest receipt per job and side (the book is read oldest first).
  const stored = new Map(receipts.map((s) => [receiptKey(s.receipt), s.receipt]));
  const now = options.now ?? Date.now;
  const added = [];
  for (const [key, derivedNow] of derived) {
    const before = stored.get(key);
    const receipt = withPrunedPayments(derivedNow, before);
    if (before !== undefined && canonicalReceipt(before) === canonicalReceipt(receipt)) continue;
    added.push(await signer.signEvent(receiptTemplate(receipt, now())));
  }
  // Oldest job first, so the book reads in the order the jobs ended.
  added.sort((a, b) => a.created_at - b.created_at);
  await (await openReceiptBook({ stateDir })).append(added);
  return added.length;
}

/** One receipt that disagrees with the books. */
export interface ReceiptDisagreement {
  side: JobReceipt["side"];
  job: string;
  /** The receipt's fields whose values the books do not give. */
  fields: string[];
}

/** What `receipts --check` found. */
export interface ReceiptCheck {
  /** Receipts compared. */
  checked: number;
  disagree: ReceiptDisagreement[];
  bad: BadReceiptLine[];
  /** Ended jobs with no receipt yet (the next `receipts` writes them). */
  unreceipted: number;
  /** Receipts of jobs whose records are gone (pruned): nothing left to check them against. */
  unverifiable: number;
}

/**
 * Checks every receipt of the book against the job's record and the payment log as they are now:
 * the fields that differ, per receipt; and every line's signature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { catchUpReceipts, checkReceipts } from "./receipt_ledger.ts";
 * import { localNodeSigner } from "../../identity/local_node_signer.ts";
 * import { generateSecretKey, getPublicKey } from "nostr-tools";
 * import { openJobRepository } from "../../state/jobs/job_repository.ts";
 * import { openPaymentLog } from "../../state/payments/payment_log.ts";
 *
 * // A profile with one ended job: its record and the deposit it paid.
 * const stateDir = await Deno.makeTempDir();
 * const provider = getPublicKey(generateSecretKey());
 * const repo = await openJobRepository({ stateDir });
 * await repo.create({ id: "a1".repeat(32), kind: 5000, skill: "echo", status: "done",
 *   createdAtMs: 1_000, updatedAtMs: 2_000, provider, payments: [] });
 * repo.close();
 * await (await openPaymentLog({ stateDir })).append({ ts: "2026-01-01T00:00:00.000Z",
 *   direction: "out", event: "fulfilled", jobId: "a1".repeat(32), invoiceId: "inv-1",
 *   amount: "100", asset: "USD", peer: provider });
 * using signer = localNodeSigner(generateSecretKey());
 * assert.equal((await checkReceipts(stateDir)).unreceipted, 1);
 * await catchUpReceipts({ stateDir, signer });
 * const check = await checkReceipts(stateDir, signer.pubkey);
 * assert.deepEqual([check.checked, check.disagree, check.bad, check.unreceipted], [1, [], [], 0]);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function checkReceipts(stateDir: string, pubkey?: string): Promise<ReceiptCheck> {
  const derived = await deriveReceipts(stateDir);
  const reading = await readReceipts(stateDir, pubkey, { everySignature: true });
  const disagree: ReceiptDisagreement[] = [];
  let unverifiable = 0;
  for (const { receipt } of reading.receipts) {
    const now = derived.get(receiptKey(receipt));
    if (now === undefined) {
      unverifiable++;
      continue;
    }
    const fields = differingFields(receipt, withPrunedPayments(now, receipt));
    if (fields.length > 0) disagree.push({ side: receipt.side, job: receipt.job, fields });
  }
  const keys = new Set(reading.receipts.map((s) => receiptKey(s.receipt)));
  return {
    checked: reading.receipts.length,
    disagree,
    bad: reading.bad,
    unreceipted: [...derived.keys()].filter((k) => !keys.has(k)).length,
    unverifiable,
  };
}

/**
 * `derived` with the payments of `stored` when the payment log no longer has the job's lines (it
 * keeps 30 days; a job record stays until `job prune`): the receipt keeps what was paid, rather
 * than a newer one saying nothing was.
 */
function withPrunedPayments(derived: JobReceipt, stored: JobReceipt | undefined): JobReceipt {
  // What a job paid never goes down but by pruning: a job's lines all gone read as nothing paid.
  const none = (r: JobReceipt) => r.deposit === "0" && r.delivery === "0" && r.refunded === "0";
  if (stored === undefined || !none(derived) || none(stored)) return derived;
  const { asset, scale, deposit, delivery, refunded } = stored;
  return { ...derived, asset, scale, deposit, delivery, refunded };
}

function differingFields(a: JobReceipt, b: JobReceipt): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof JobReceipt>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

async function isDir(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}
