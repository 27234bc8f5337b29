/**
 * Payments in doubt on one process of a town, asked of their peer through the process that holds
 * its connection (docs/PROTOCOL.md "A payment in doubt on another process", docs/OPERATIONS.md
 * "A town on several machines").
 *
 * A process killed between forwarding a payment to a peer and recording the peer's answer finds
 * the payment in doubt on its books when it restarts (state/payments/peer_ledger.ts): owed once
 * the peer shows the fulfillment. The peer is asked when it connects to that process
 * (roles/town/town_btp_server.ts); but on a shared store its reconnect may land on another
 * process of the town and stay there, and the payment would stay in doubt for as long, while the
 * peer's log counts it earned. In ILP the connector that got the FULFILL owes the next hop,
 * whatever becomes of its own answer upstream; the town is that connector. So the process with
 * the doubt asks through the process holding the peer:
 *
 * - `POST <holder's private listener>/in-doubt`, the body `{"account": "...", "conditions":
 *   ["<64 hex>", ...]}` (at most {@linkcode MAX_IN_DOUBT}), authenticated as forwarded packets
 *   are (`turnpike-forward-mac`, roles/town/btp/process_forward.ts); the holder asks its peer
 *   (BTP `payment-in-doubt`, protocol/payment_in_doubt.ts) and answers `200` with the peer's
 *   answer as it came (`{"fulfillments": [...], "expiresAt": [...]}`), or `404` when the peer is
 *   not connected to it.
 * - The asking process proves each fulfillment on its own books: recorded owed only when its
 *   SHA-256 is the condition of a packet in doubt there and the PREPARE the peer fulfilled is the
 *   one this process forwarded (its expiry; else another packet of that condition was paid, by
 *   another process, and this one is recorded not owed). The fulfillment is checked; the expiry the
 *   holder passes on is trusted as the peer's word (docs/PROTOCOL.md "A payment in doubt on
 *   another process" says what that leaves open). A payout may follow, as after a FULFILL.
 * - Asked as the process starts, then again while a payment in doubt has had no answer from its
 *   peer (the peer connected nowhere, its holder not heard from, the database down): after
 *   `intervalMs`, doubled after each round that got no answer up to `maxIntervalMs`, back to
 *   `intervalMs` after a round that got one. A payment the peer answered without its fulfillment (it never fulfilled it) is not
 *   asked again from here; it is asked again whenever the peer connects to this process. Once
 *   every payment in doubt was answered the timer stops (a payment is in doubt only after a
 *   restart).
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { RoleError } from "../../role_error.ts";
import {
  decodeInDoubt,
  decodeInDoubtAnswer,
  encodeInDoubt,
  encodeInDoubtAnswer,
  type InDoubtProof,
  MAX_IN_DOUBT,
  MAX_IN_DOUBT_BYTES,
} from "../../../protocol/payment_in_doubt.ts";
import type { PeerBalance, PeerLedger } from "../../../state/payments/peer_ledger.ts";
import { KeyedTurns } from "../../../state/keyed_turns.ts";
import type { PaidOnce } from "./paid_once.ts";
import {
  FORWARD_MAC_HEADER,
  type ForwardHolder,
  forwardMac,
  forwardMacMatches,
  readBounded,
} from "./process_forward.ts";

/** The private listener's path of the questions (roles/town/blobs/blob_peer_listener.ts). */
export const IN_DOUBT_PATH = "/in-doubt";
/** Largest question: {@linkcode MAX_IN_DOUBT} conditions and an account. */
const MAX_QUESTION_BYTES = MAX_IN_DOUBT * 70 + 256;
const ACCOUNT = /^[A-Za-z0-9_~-]{1,64}$/;

/** A question about payments in doubt could not be asked of, or answered by, another process. */
export class ProcessInDoubtError extends RoleError {
  override name = "ProcessInDoubtError";
}

/** A peer's connection to this process, as far as questions in doubt go. */
export interface InDoubtPeer {
  askInDoubt(conditions: readonly string[], timeoutMs: number): Promise<InDoubtProof[]>;
}

/** Options for {@linkcode createInDoubtHandler}. */
export interface InDoubtHandlerOptions {
  /** From `deriveForwardKey` (roles/town/btp/process_forward.ts). */
  key: Uint8Array;
  /** The peer's connection to this process, when it is connected here. */
  peer: (account: string) => InDoubtPeer | undefined;
  /** How long the peer is given to answer. Default 10 s. */
  askTimeoutMs?: number;
}

/**
 * The holder's side: answers `POST /in-doubt` on the private listener.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createInDoubtHandler } from "./process_in_doubt.ts";
 * import { forwardMac } from "./process_forward.ts";
 *
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const handle = createInDoubtHandler({ key, peer: () => undefined });
 * const body = new TextEncoder().encode(JSON.stringify({ account: "beta", conditions: [] }));
 * const headers = { "turnpike-forward-mac": forwardMac(key, body) };
 * const asked = (mac: Record<string, string>) =>
 *   handle(new Request("http://127.0.0.1/in-doubt", { method: "POST", body, headers: mac }));
 * assert.equal((await asked({})).status, 401); // not a process of this town
 * assert.equal((await asked(headers)).status, 404); // beta is not connected here
 * ```
 */
export function createInDoubtHandler(
  options: InDoubtHandlerOptions,
): (request: Request) => Promise<Response> {
  const timeoutMs = options.askTimeoutMs ?? 10_000;
  const text = (status: number, body: string) => new Response(`${body}\n`, { status });
  return async (request) => {
    if (request.method !== "POST") return text(405, `POST ${IN_DOUBT_PATH} only`);
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > MAX_QUESTION_BYTES) {
      await request.body?.cancel().catch(() => {});
      return text(413, `a question is at most ${MAX_QUESTION_BYTES} bytes`);
    }
    let body: Uint8Array | undefined;
    try {
      body = await readBounded(request.body, MAX_QUESTION_BYTES, AbortSignal.timeout(5_000));
    } catch {
      return text(408, "question not read within 5 s");
    }
    if (body === undefined) return text(413, `a question is at most ${MAX_QUESTION_BYTES} bytes`);
    if (!forwardMacMatches(options.key, body, request.headers.get(FORWARD_MAC_HEADER) ?? "")) {
      return text(401, "forward MAC does not match: not a process of this town");
    }
    let question: { account: string; conditions: string[] };
    try {
      question = decodeQuestion(body);
    } catch (err) {
      return text(400, (err as Error).message);
    }
    const peer = options.peer(question.account);
    if (peer === undefined) return text(404, `${question.account} is not connected here`);
    let shown: InDoubtProof[];
    try {
      shown = await peer.askInDoubt(question.conditions, timeoutMs);
    } catch (err) {
      return text(502, `${question.account} did not answer: ${(err as Error).message}`);
    }
    const answer = encodeInDoubtAnswer(shown.slice(0, MAX_IN_DOUBT));
    return new Response(new TextDecoder().decode(answer), {
      headers: {
        "content-type": "application/json",
        [FORWARD_MAC_HEADER]: forwardMac(options.key, answerMacked(body, answer)),
      },
    });
  };
}

function decodeQuestion(body: Uint8Array): { account: string; conditions: string[] } {
  let parsed: { account?: unknown; conditions?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new ProcessInDoubtError("a question in doubt is not JSON");
  }
  if (typeof parsed?.account !== "string" || !ACCOUNT.test(parsed.account)) {
    throw new ProcessInDoubtError("a question in doubt names no account");
  }
  const conditions = decodeInDoubt("conditions", body);
  return { account: parsed.account, conditions };
}

/**
 * The asking side: the fulfillments the peer shows, asked through the process at `url`;
 * undefined when the peer is not connected there (any more).
 *
 * It needs another process of the town: no example that runs here:
 * tests/e2e/town_shared_in_doubt_elsewhere_test.ts.
 *
 * @throws {ProcessInDoubtError} when that process cannot be reached or answers otherwise.
 */
export async function askInDoubtThrough(
  url: string,
  key: Uint8Array,
  account: string,
  conditions: readonly string[],
  timeoutMs: number,
): Promise<InDoubtProof[] | undefined> {
  encodeInDoubt("conditions", conditions); // checks them
  const body = new TextEncoder().encode(JSON.stringify({ account, conditions }));
  let response: Response;
  try {
    response = await fetch(`${url}${IN_DOUBT_PATH}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", [FORWARD_MAC_HEADER]: forwardMac(key, body) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ProcessInDoubtError(`town process ${url} not reached: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (response.status === 404) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  // Bounded as the codec bounds it: a process that answers more is not read past that.
  let answer: Uint8Array | undefined;
  try {
    answer = await readBounded(response.body, MAX_IN_DOUBT_BYTES, AbortSignal.timeout(timeoutMs));
  } catch (err) {
    throw new ProcessInDoubtError(`town process ${url}'s answer not read: ${err}`, { cause: err });
  }
  if (answer === undefined) {
    throw new ProcessInDoubtError(
      `town process ${url} answered more than ${MAX_IN_DOUBT_BYTES} bytes`,
    );
  }
  if (response.status !== 200) {
    const why = new TextDecoder().decode(answer).trim().slice(0, 160);
    throw new ProcessInDoubtError(`town process ${url} answered ${response.status} ${why}`);
  }
  const proofs = decodeInDoubtAnswer(answer);
  const mac = response.headers.get(FORWARD_MAC_HEADER);
  // An older process passes the fulfillments alone and no MAC: read as it was (no expiries).
  if (mac === null) return proofs.map(({ fulfillment }) => ({ fulfillment }));
  if (!forwardMacMatches(key, answerMacked(body, answer), mac)) {
    throw new ProcessInDoubtError(`town process ${url} answered with a MAC that does not match`);
  }
  return proofs;
}

/** What a holder's answer MAC covers: a label (not a forwarded packet's), its question, itself. */
const ANSWER_LABEL = new TextEncoder().encode("turnpike in-doubt answer\0");

/**
 * The bytes a holder's answer MAC covers, bound to its question: a fulfillment proves itself, the
 * expiry beside it does not (it decides owed or not, state/payments/peer_ledger.ts `prove`).
 */
function answerMacked(question: Uint8Array, answer: Uint8Array): Uint8Array {
  const out = new Uint8Array(ANSWER_LABEL.byteLength + question.byteLength + answer.byteLength);
  out.set(ANSWER_LABEL);
  out.set(question, ANSWER_LABEL.byteLength);
  out.set(answer, ANSWER_LABEL.byteLength + question.byteLength);
  return out;
}

/** What {@linkcode proveShown} records on and tells. */
export interface ProveShownOptions {
  ledger: Pick<PeerLedger, "prove" | "balance">;
  /** Told after each payment in doubt proven (a payout may be due). */
  onOwed?: (balance: PeerBalance) => void;
  /** A town on a shared store: a condition is owed by one process's books. */
  paidOnce?: Pick<PaidOnce, "claim">;
  log: (line: string) => void;
}

/**
 * Proves on this process's books each fulfillment a peer showed (`via`: through which process,
 * for the log): owed, or not owed when the peer paid another packet of that condition (another
 * expiry, or another process's books hold the condition: state/payments/peer_ledger.ts `prove`).
 * Proofs of one packet run one after another (a peer connected here and the resolver may show
 * it at once: the second finds it answered). Returns the conditions whose proof failed (the
 * books or the shared store could not be written): still in doubt, to be asked again.
 *
 * It needs a peer's answer and a ledger with payments in doubt: no example that runs here:
 * tests/e2e/town_shared_in_doubt_elsewhere_test.ts.
 */
export async function proveShown(
  options: ProveShownOptions,
  account: string,
  shown: readonly InDoubtProof[],
  via = "",
): Promise<string[]> {
  const { ledger, log } = options;
  const failed: string[] = [];
  for (const { fulfillment, expiresAt } of shown) {
    const bytes = hexToBytes(fulfillment);
    const condition = bytesToHex(sha256(bytes));
    let holder: string | undefined;
    const claim = options.paidOnce &&
      (async (c: string) => holder = await options.paidOnce!.claim(account, c));
    try {
      const outcome = await proving.run(
        `${account} ${condition}`,
        () => ledger.prove(account, bytes, expiresAt, claim),
      );
      if (outcome.kind === "another-packet") {
        const which = holder === undefined ? `expiring ${expiresAt}` : `booked by ${holder}`;
        log(
          `peer ${account}: payment in doubt not owed${via}: the peer fulfilled another packet ` +
            `of its condition (${which}), ${outcome.amount} not owed here`,
        );
      } else if (outcome.kind === "owed") {
        log(`peer ${account}: payment in doubt proven${via}, ${outcome.amount} owed`);
        // Owed now, as after a FULFILL: a payout may be due (docs/OPERATIONS.md).
        options.onOwed?.(ledger.balance(account));
      }
    } catch (err) {
      failed.push(condition);
      log(`peer ${account}: payment in doubt not proven: ${(err as Error).message}`);
    }
  }
  return failed;
}

/** The proofs running now, one at a time per packet (`<account> <condition>`). */
const proving = new KeyedTurns();

/** Options for {@linkcode startInDoubtResolver}. */
export interface InDoubtResolverOptions {
  /** This process's books. */
  ledger: Pick<PeerLedger, "inDoubt" | "prove" | "balance">;
  /** From `deriveForwardKey` (roles/town/btp/process_forward.ts). */
  key: Uint8Array;
  /** The peer's connection to this process, when it is connected here. */
  peer: (account: string) => InDoubtPeer | undefined;
  /** The other process holding the peer's connection (state/postgres/postgres_peer_routes.ts). */
  holder: (account: string) => Promise<ForwardHolder | undefined>;
  /** Told after each payment in doubt proven (a payout may be due). */
  onOwed?: (balance: PeerBalance) => void;
  /** A town on a shared store: a condition is owed by one process's books. */
  paidOnce?: Pick<PaidOnce, "claim">;
  log: (line: string) => void;
  /** Between two rounds of questions while one is unanswered, at first. Default 5 s. */
  intervalMs?: number;
  /** The most between two rounds, after rounds that got no answer. Default 5 minutes. */
  maxIntervalMs?: number;
  /** How long a question is given. Default 10 s. */
  askTimeoutMs?: number;
}

/** A running {@linkcode startInDoubtResolver}. */
export interface InDoubtResolver {
  /** One round of questions now (the first starts at once); resolves when it is done. */
  round(): Promise<void>;
  /** The payments in doubt no peer has answered yet. */
  unanswered(): number;
  /** How long after the last round the next one runs, ms (rounds back off while unanswered). */
  nextRoundMs(): number;
  close(): void;
}

/**
 * Asks the peers of this process's payments in doubt, wherever they are connected (module doc).
 *
 * It needs the town's other processes: no example that runs here:
 * tests/e2e/town_shared_in_doubt_elsewhere_test.ts.
 */
export function startInDoubtResolver(options: InDoubtResolverOptions): InDoubtResolver {
  const { ledger, log } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const maxIntervalMs = Math.max(intervalMs, options.maxIntervalMs ?? 300_000);
  const timeoutMs = options.askTimeoutMs ?? 10_000;
  let wait = intervalMs;
  /** `<account> <condition>` of the payments their peer answered. */
  const answered = new Set<string>();
  let closed = false;
  let running: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const waiting = (): Map<string, string[]> => {
    const byAccount = new Map<string, string[]>();
    for (const d of ledger.inDoubt()) {
      if (answered.has(`${d.account} ${d.condition}`)) continue;
      byAccount.set(d.account, [...byAccount.get(d.account) ?? [], d.condition]);
    }
    return byAccount;
  };

  const ask = async (account: string, conditions: string[]): Promise<void> => {
    let shown: InDoubtProof[] | undefined;
    let via = "";
    try {
      const here = options.peer(account);
      if (here !== undefined) {
        shown = await here.askInDoubt(conditions, timeoutMs);
      } else {
        const holder = await options.holder(account);
        if (!holder?.fresh) return; // connected nowhere live now: asked at the next round
        via = ` through ${holder.url}`;
        shown = await askInDoubtThrough(holder.url, options.key, account, conditions, timeoutMs);
      }
    } catch (err) {
      log(`peer ${account}: payments in doubt not asked${via}: ${(err as Error).message}`);
      return;
    }
    if (shown === undefined) return; // it left that process: asked at the next round
    for (const c of conditions) answered.add(`${account} ${c}`);
    // A proof that could not be written (the shared store down): asked again next round.
    for (const c of await proveShown(options, account, shown, via)) {
      answered.delete(`${account} ${c}`);
    }
  };

  const unanswered = () => [...waiting().values()].reduce((n, c) => n + c.length, 0);
  const roundNow = async (): Promise<void> => {
    const byAccount = waiting();
    const before = [...byAccount.values()].reduce((n, c) => n + c.length, 0);
    for (const [account, conditions] of byAccount) {
      for (let i = 0; i < conditions.length && !closed; i += MAX_IN_DOUBT) {
        await ask(account, conditions.slice(i, i + MAX_IN_DOUBT));
      }
    }
    // A round that got no answer waits twice as long before the next (a peer gone for good
    // is not asked every few seconds forever); one that got an answer starts over.
    const left = unanswered();
    wait = left < before ? intervalMs : Math.min(wait * 2, maxIntervalMs);
    clearTimeout(timer);
    timer = left > 0 && !closed ? setTimeout(() => void round(), wait) : undefined;
  };
  const round = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= roundNow().finally(() => running = undefined);
    return running;
  };

  if (ledger.inDoubt().length > 0) void round();
  return {
    round,
    unanswered,
    nextRoundMs: () => wait,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
