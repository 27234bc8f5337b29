/**
 * The per-town rows of `turnpike dash` (docs/OPERATIONS.md "Several towns"): for each town of
 * the profile its state, the latency of its NIP-11 document (one HTTP round trip to the town),
 * its ILP address, and what this node paid it for writes and blobs (the payment log's fulfilled
 * `town-write` / `town-blob` payments whose peer is that address).
 *
 * @module
 */
import { fetchRelayInfo } from "../transport/relay_info.ts";
import { openPaymentLog } from "../state/payments/payment_log.ts";
import { hasPaymentLog } from "../state/payments/payment_log_files.ts";
import { formatRecordedAmount } from "../protocol/asset_amount.ts";

/** One town as a dash row shows it. */
export interface DashTown {
  relayUrl: string;
  state: "connecting" | "connected" | "unreachable";
  /** Milliseconds of the last NIP-11 round trip. */
  latencyMs?: number;
  /** The town's ILP address (its NIP-11 fee address). */
  address?: string;
  /** What this node paid the town for writes and blobs, as text. */
  writesPaid?: string;
  detail?: string;
}

/** Options for {@linkcode probeTown}. */
export interface ProbeTownOptions {
  timeoutMs?: number;
}

/**
 * One town's NIP-11 round trip: connected with its latency and address, or unreachable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeTown } from "./dash_towns.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close(); // nothing listens there now
 * const town = await probeTown(`ws://127.0.0.1:${port}`);
 * assert.equal(town.state, "unreachable");
 * ```
 */
export async function probeTown(relayUrl: string, o: ProbeTownOptions = {}): Promise<DashTown> {
  const started = performance.now();
  try {
    const info = await fetchRelayInfo(relayUrl, { timeoutMs: o.timeoutMs ?? 5_000 });
    const fee = (info.fees as { publication?: Record<string, unknown>[] } | undefined)
      ?.publication?.[0];
    return {
      relayUrl,
      state: "connected",
      latencyMs: Math.round(performance.now() - started),
      address: typeof fee?.ilp_address === "string" ? fee.ilp_address : undefined,
    };
  } catch (err) {
    return { relayUrl, state: "unreachable", detail: (err as Error).message };
  }
}

/**
 * What this node paid each town (by ILP address) for writes and blobs, as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTownWrites } from "./dash_towns.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // nothing paid yet
 * assert.equal((await readTownWrites(stateDir)).get("g.town"), undefined);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function readTownWrites(stateDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!(await hasPaymentLog(stateDir))) return out;
  const log = await openPaymentLog({ stateDir });
  const sums = new Map<string, { amount: bigint; asset: string; scale?: number }>();
  for (const e of log.entries()) {
    if (e.direction !== "out" || e.event !== "fulfilled") continue;
    if (e.category !== "town-write" && e.category !== "town-blob") continue;
    const s = sums.get(e.peer) ?? { amount: 0n, asset: e.asset, scale: e.scale };
    s.amount += BigInt(e.amount);
    sums.set(e.peer, s);
  }
  for (const [peer, s] of sums) out.set(peer, formatRecordedAmount(s.amount, s));
  return out;
}

/**
 * The towns' rows: each probed town with what was paid to its address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withWrites } from "./dash_towns.ts";
 *
 * const towns = [{ relayUrl: "ws://127.0.0.1:7100", state: "connected" as const, address: "g.town" }];
 * const [row] = withWrites(towns, new Map([["g.town", "0.000123 USD"]]));
 * assert.equal(row.writesPaid, "0.000123 USD");
 * ```
 */
export function withWrites(towns: DashTown[], writes: Map<string, string>): DashTown[] {
  return towns.map((t) => {
    const paid = t.address === undefined ? undefined : writes.get(t.address);
    return paid === undefined ? t : { ...t, writesPaid: paid };
  });
}
