/**
 * The scale harness's plot (docs/SCALE.md): jobs done per second, the median latency of the
 * jobs that ended in each second and the RSS of the agents and the towns over the run, one panel
 * each, with the chaos events drawn as vertical lines. Plain SVG written by hand: no dependency.
 *
 * @module
 */

/** One sample of the run, taken about once a second. */
export interface ScaleSample {
  /** Time since the harness started, ms. */
  atMs: number;
  /** Jobs done so far (cumulative). */
  done: number;
  /** RSS of the agents' process, bytes. */
  rss: number;
  /** RSS of all town processes, bytes. */
  townRss: number;
  /** Median latency of the jobs that ended since the previous sample, ms. */
  latencyMs?: number;
}

/** Options for {@linkcode renderScalePlot}. */
export interface ScalePlotOptions {
  /** The samples, in time order. */
  samples: readonly ScaleSample[];
  /** Chaos events (time since the harness started, ms, and what happened). */
  events: readonly { atMs: number; what: string }[];
  /** Title line. */
  title: string;
}

const W = 900;
const PANEL_H = 150;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const GAP = 40;

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * The plot as SVG text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderScalePlot } from "./scale_plot.ts";
 *
 * const samples = [0, 1, 2].map((s) => ({ atMs: s * 1000, done: s * 10, rss: 2 ** 27, townRss: 2 ** 28 }));
 * const events = [{ atMs: 1500, what: "town 0 SIGKILL" }];
 * const svg = renderScalePlot({ samples, events, title: "3 agents" });
 * assert.match(svg, /^<svg[^]*3 agents[^]*town 0 SIGKILL[^]*<\/svg>\s*$/);
 * ```
 */
export function renderScalePlot(options: ScalePlotOptions): string {
  const { samples, events, title } = options;
  const t0 = samples[0]?.atMs ?? 0;
  const t1 = Math.max(t0 + 1000, samples.at(-1)?.atMs ?? 0);
  const plotW = W - LEFT - RIGHT;
  const x = (ms: number) => LEFT + (ms - t0) / (t1 - t0) * plotW;
  const rate = samples.map((s, i) => {
    const prev = samples[i - 1];
    if (!prev) return { atMs: s.atMs, v: 0 };
    return { atMs: s.atMs, v: (s.done - prev.done) / Math.max(0.001, (s.atMs - prev.atMs) / 1000) };
  });
  const mib = (b: number) => b / 2 ** 20;
  const panels: {
    label: string;
    unit: string;
    series: { color: string; name: string; points: { atMs: number; v?: number }[] }[];
  }[] = [
    {
      label: "jobs done per second",
      unit: "jobs/s",
      series: [{ color: "#1f77b4", name: "jobs/s", points: rate }],
    },
    {
      label: "latency of the jobs ended in each second (median)",
      unit: "ms",
      series: [{
        color: "#d62728",
        name: "p50 ms",
        points: samples.map((s) => ({ atMs: s.atMs, v: s.latencyMs })),
      }],
    },
    {
      label: "RSS",
      unit: "MiB",
      series: [
        {
          color: "#2ca02c",
          name: "agents",
          points: samples.map((s) => ({ atMs: s.atMs, v: mib(s.rss) })),
        },
        {
          color: "#9467bd",
          name: "towns",
          points: samples.map((s) => ({ atMs: s.atMs, v: mib(s.townRss) })),
        },
      ],
    },
  ];
  const height = TOP + panels.length * (PANEL_H + GAP) + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" ` +
    `font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="14">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = TOP + i * (PANEL_H + GAP);
    const values = panel.series.flatMap((s) => s.points.map((p) => p.v ?? 0));
    const max = niceMax(Math.max(0, ...values));
    const y = (v: number) => top + PANEL_H - v / max * PANEL_H;
    out.push(
      `<text x="${LEFT}" y="${top - 6}">${esc(panel.label)}</text>`,
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" ` +
        `stroke="#999"/>`,
      `<text x="${LEFT - 6}" y="${top + 10}" text-anchor="end">${max} ${panel.unit}</text>`,
      `<text x="${LEFT - 6}" y="${top + PANEL_H}" text-anchor="end">0</text>`,
    );
    for (const e of events) {
      const ex = x(e.atMs).toFixed(1);
      const color = /kill|stop/i.test(e.what) ? "#ff7f0e" : "#bbb";
      out.push(
        `<line x1="${ex}" x2="${ex}" y1="${top}" y2="${top + PANEL_H}" stroke="${color}" ` +
          `stroke-dasharray="3,3"><title>${esc(e.what)}</title></line>`,
      );
    }
    panel.series.forEach((s, k) => {
      // A gap where a value is missing (no job ended in that second): a new path segment.
      let d = "";
      let pen = false;
      for (const p of s.points) {
        if (p.v === undefined) {
          pen = false;
          continue;
        }
        d += `${pen ? "L" : "M"}${x(p.atMs).toFixed(1)},${y(p.v).toFixed(1)} `;
        pen = true;
      }
      out.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
      out.push(
        `<text x="${W - RIGHT - 4}" y="${top + 14 + k * 13}" text-anchor="end" ` +
          `fill="${s.color}">${esc(s.name)}</text>`,
      );
    });
  });
  const axisY = TOP + panels.length * (PANEL_H + GAP) - GAP + 14;
  out.push(
    `<text x="${LEFT}" y="${axisY}">${(t0 / 1000).toFixed(0)} s</text>`,
    `<text x="${W - RIGHT}" y="${axisY}" text-anchor="end">${(t1 / 1000).toFixed(0)} s ` +
      `(orange dashed: a process killed or stopped; grey: restarted)</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
