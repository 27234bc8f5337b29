/**
 * The requester hosts' job bounds over a scale run (docs/SCALE.md "Graceful overload"): each
 * host (bench/scale_requester_host.ts) says its bound every second (a `bound` line: the jobs it
 * may follow at once, those it follows, and with `--max-in-flight auto` the median latency of the
 * last decision of its roles/requester/adaptive_job_limit.ts); the harness keeps the latest line
 * of each host and samples them all once a second into one series per host. A host that is down
 * (killed, restarting) or has said nothing yet gives `null` for that second.
 *
 * @module
 */

/** One host's bound as it says it on its `bound` line. */
export interface HostBound {
  /** The jobs it may follow at once now. */
  max: number;
  /** The jobs it follows now. */
  held: number;
  /** The median latency of a done job at its bound's last decision, ms (`auto` only). */
  medianMs?: number;
}

/** One host's bound each second of the run (`null`: the host was down or had said nothing). */
export interface HostBoundSeries {
  host: number;
  boundPerS: (number | null)[];
  heldPerS: (number | null)[];
  medianMsPerS: (number | null)[];
}

/**
 * The series of every host, one sample a second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HostBoundRecorder } from "./scale_host_bounds.ts";
 * const rec = new HostBoundRecorder(2);
 * rec.sample([{ max: 16, held: 3 }, undefined]);
 * rec.sample([{ max: 8, held: 8, medianMs: 4100 }, { max: 16, held: 0 }]);
 * assert.deepEqual(rec.series()[0].boundPerS, [16, 8]);
 * assert.deepEqual(rec.series()[1].boundPerS, [null, 16]);
 * ```
 */
export class HostBoundRecorder {
  readonly #series: HostBoundSeries[];

  /** @param hosts How many requester hosts the run has. */
  constructor(hosts: number) {
    this.#series = Array.from({ length: hosts }, (_, host) => ({
      host,
      boundPerS: [],
      heldPerS: [],
      medianMsPerS: [],
    }));
  }

  /** One second's sample: each host's latest line, by host index (undefined: none or down). */
  sample(latest: readonly (HostBound | undefined)[]): void {
    for (const s of this.#series) {
      const b = latest[s.host];
      s.boundPerS.push(b?.max ?? null);
      s.heldPerS.push(b?.held ?? null);
      s.medianMsPerS.push(b?.medianMs === undefined ? null : Math.round(b.medianMs));
    }
  }

  /** The series so far, one per host. */
  series(): HostBoundSeries[] {
    return this.#series;
  }
}

/**
 * One table cell: each host's bound at its first sample, least, most and last (`-`: no host
 * said one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostBoundsCell } from "./scale_host_bounds.ts";
 * const cell = hostBoundsCell([
 *   { host: 0, boundPerS: [16, null, 4, 6], heldPerS: [], medianMsPerS: [] },
 * ]);
 * assert.equal(cell, "host 0: 16, least 4, most 16, last 6");
 * ```
 */
export function hostBoundsCell(series: readonly HostBoundSeries[]): string {
  const cells = series.flatMap((s) => {
    const said = s.boundPerS.filter((b): b is number => b !== null);
    if (said.length === 0) return [];
    return [
      `host ${s.host}: ${said[0]}, least ${Math.min(...said)}, most ${Math.max(...said)}, ` +
      `last ${said[said.length - 1]}`,
    ];
  });
  return cells.join("; ") || "-";
}
