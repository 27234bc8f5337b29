/**
 * The frames of `turnpike dash`, as ink elements built from plain data (no hooks, no I/O), so
 * the live app and `--once` draw the same thing. Every frame fits 80 columns by 24 rows: lines
 * are truncated, the job list scrolls around the selection.
 *
 * @module
 */
import { Box, Text } from "ink";
// @ts-types="@types/react"
import { createElement as h, type ReactElement } from "react";
import type { NetworkField } from "./network_line.ts";
import type { NetworkSnapshot } from "../roles/requester/network_snapshot.ts";
import { formatAssetAmount, formatRecordedAmount } from "../protocol/asset_amount.ts";
import { JOB_PHASES, type LocalView } from "./dash_model.ts";
import { statusAmountText } from "../roles/provider/provider_status.ts";
import { jobKindLabel } from "../protocol/job_kind_names.ts";
import type { JobDetail } from "./dash_job_detail.ts";
import { workerText } from "./witness_worker_text.ts";
import type { DashTown } from "./dash_towns.ts";
import { terminalText } from "./terminal_text.ts";

/** Job rows shown at once (fewer by the town rows past the first, to stay in 24 rows). */
export const DASH_JOB_ROWS = 8;

/** Town rows shown at once; more towns are counted on the last one. */
export const DASH_TOWN_ROWS = 4;

/** The town link as the dashboard knows it. */
export interface TownLink {
  relayUrl: string;
  state: "connecting" | "connected" | "unreachable";
  detail?: string;
}

/** Everything a frame is drawn from. */
export interface DashFrameProps {
  network: NetworkField;
  town: TownLink;
  /**
   * Every town of the profile, a row each (state, latency, writes paid), the home town's first;
   * with several, they replace the header's one town.
   */
  towns?: DashTown[];
  local: LocalView;
  snapshot?: NetworkSnapshot;
  /** Window of the network figures, as typed (`1h`). */
  window: string;
  selected: number;
  /** The opened job, when one is. */
  detail?: JobDetail;
  /** A question or outcome shown above the keys. */
  message?: string;
}

// Every text drawn is one line, much of it the network's word (provider names, job errors,
// results, town details): its controls are shown as text, never sent to the terminal.
const line = (text: string, props: Record<string, unknown> = {}): ReactElement =>
  h(Text, { wrap: "truncate", ...props }, terminalText(text));

const stateColor = (state: TownLink["state"]) =>
  state === "connected" ? "green" : state === "connecting" ? "yellow" : "red";

/** The town rows shown (none with one town: the header names it). */
function shownTowns(p: DashFrameProps): DashTown[] {
  return (p.towns?.length ?? 0) > 1 ? p.towns!.slice(0, DASH_TOWN_ROWS) : [];
}

function header(p: DashFrameProps): ReactElement {
  const color = stateColor(p.town.state);
  const towns = p.towns ?? [];
  const title = [
    h(Text, { bold: true }, "turnpike dash  "),
    h(
      Text,
      { color: p.network.realFunds ? "red" : "cyan", bold: p.network.realFunds },
      p.network.line,
    ),
  ];
  if (towns.length > 1) {
    const up = towns.filter((t) => t.state === "connected").length;
    return h(
      Box,
      {},
      ...title,
      h(
        Text,
        { color: up === towns.length ? "green" : up === 0 ? "red" : "yellow", wrap: "truncate" },
        `  ${up}/${towns.length} towns connected`,
      ),
    );
  }
  return h(
    Box,
    {},
    ...title,
    h(Text, { wrap: "truncate" }, "  town "),
    h(Text, { color, wrap: "truncate" }, terminalText(`${p.town.state} ${p.town.relayUrl}`)),
  );
}

function townLines(p: DashFrameProps): ReactElement[] {
  const shown = shownTowns(p);
  const more = (p.towns?.length ?? 0) - shown.length;
  return shown.map((t, i) => {
    const latency = t.latencyMs === undefined ? "-" : `${t.latencyMs} ms`;
    const tail = t.state === "connected"
      ? `writes ${t.writesPaid ?? "0"}`
      : (t.detail ?? "").replace(/\s+/g, " ");
    const extra = i === shown.length - 1 && more > 0 ? `  (+${more} more)` : "";
    return h(
      Text,
      { wrap: "truncate" },
      i === 0 ? "town     " : "         ",
      h(Text, { color: stateColor(t.state) }, t.state.padEnd(12)),
      terminalText(
        `${t.relayUrl.replace(/^wss?:\/\//, "").padEnd(22)} ${
          latency.padStart(7)
        }  ${tail}${extra}`,
      ),
    );
  });
}

function channelLines(p: DashFrameProps): ReactElement[] {
  if (p.local.channels.length === 0) return [line("channel  none (paying the town on trust)")];
  return p.local.channels.slice(0, 2).map((c) =>
    line(
      `channel  ${c.id.slice(0, 10)}… ${c.status}  ${c.remaining} of ${c.deposit} ${c.token}` +
        (c.low ? `  below ${c.warnPercent}%: top up` : ""),
      c.low ? { color: "yellow" } : {},
    )
  );
}

function jobRows(p: DashFrameProps): ReactElement[] {
  const { jobs, counts } = p.local;
  const rows = [
    line(`jobs     ${JOB_PHASES.map((ph) => `${ph} ${counts[ph]}`).join("  ")}`, { bold: true }),
  ];
  if (jobs.length === 0) return [...rows, line("  no jobs yet: `turnpike job submit` posts one")];
  const n = DASH_JOB_ROWS - Math.max(0, shownTowns(p).length - 1);
  const start = Math.max(0, Math.min(p.selected - n + 1, jobs.length - n));
  for (const [i, j] of jobs.slice(start, start + n).entries()) {
    const r = j.record;
    const on = start + i === p.selected;
    const receipts = j.receipts === 1 ? "1 receipt" : `${j.receipts} receipts`;
    rows.push(line(
      `${on ? ">" : " "} ${r.id.slice(0, 12)} ${jobKindLabel(r.kind).padEnd(19)} ${
        r.status.padEnd(16)
      }${(j.cost || "-").padEnd(16)}${receipts.padEnd(11)}${r.provider?.slice(0, 8) ?? ""}`,
      on ? { inverse: true } : { color: j.phase === "failed" ? "red" : undefined },
    ));
  }
  return rows;
}

function providerLines(p: DashFrameProps): ReactElement[] {
  const prov = p.local.provider;
  if (prov === undefined) return [line("provider none on this state dir")];
  const s = prov.status;
  const c = s.counters;
  return [
    line(
      `provider ${
        prov.alive ? s.state : "not running"
      }  running ${s.running}  in flight ${s.inFlight}` +
        `  invoices ${s.openInvoices}  skills ${s.skills.map((k) => k.name).join(",")}`,
      { color: prov.alive ? undefined : "yellow" },
    ),
    line(
      `         earned ${statusAmountText(s, c.earned)}  paid ${c.paid}  published ${c.published}` +
        `  errors ${c.errors}  writes ${statusAmountText(s, c.spentOnWrites)}`,
    ),
    ...(s.lastError === undefined
      ? []
      : [line(`         last error: ${s.lastError}`, { color: "yellow" })]),
    ...p.local.providerJobs.slice(0, 2).map((j) =>
      line(
        `  job    ${j.id.slice(0, 12)} ${String(j.kind).padEnd(5)} ${
          j.status.padEnd(16)
        }${j.skill}`,
      )
    ),
  ];
}

function networkLines(p: DashFrameProps): ReactElement[] {
  const snap = p.snapshot;
  if (snap === undefined) return [line(`network  (${p.town.state})`)];
  const s = snap.stats;
  const pct = s.successRate === null ? "-" : `${Math.round(s.successRate * 100)}%`;
  const sec = (v: number | null) => v === null ? "-" : `${v}s`;
  const rows = [
    line(
      `network  ${s.providersOnline}/${s.providersKnown} online  ${s.jobs} jobs in ${p.window}, ` +
        `${s.jobsPerMin}/min  success ${pct}  p50 ${sec(s.latencyP50Sec)}  p95 ${
          sec(s.latencyP95Sec)
        }`,
    ),
  ];
  const names = new Map(snap.providers.map((x) => [x.pubkey, x]));
  for (const t of s.topProviders.slice(0, 3)) {
    rows.push(line(
      `  top    ${(t.name ?? "?").padEnd(16)} ${
        t.pubkey.slice(0, 12)
      }  ${t.done} done  ${t.failed} failed` +
        (names.get(t.pubkey)?.online ? "  online" : ""),
    ));
  }
  if (s.topProviders.length === 0) {
    for (const x of snap.providers.slice(0, 3)) {
      rows.push(line(
        `  ${x.online ? "online " : "offline"} ${x.name.padEnd(16)} ${x.pubkey.slice(0, 12)}  ${
          x.skills.map((k) => `${k.name} ${priceOf(k.price, x.assetCode, x.assetScale)}`).join(", ")
        }`,
      ));
    }
  }
  return rows;
}

function priceOf(price: string, code?: string, scale?: number): string {
  return scale === undefined
    ? price
    : formatAssetAmount(BigInt(price), { assetCode: code ?? "", assetScale: scale }).trim();
}

function detailLines(d: JobDetail): ReactElement[] {
  const r = d.job.record;
  const rows = [
    line(`job      ${r.id}`, { bold: true }),
    line(`status   ${r.status}${r.error ? ` (${r.error})` : ""}`),
    line(
      `kind     ${jobKindLabel(r.kind)}${r.skill === "none" ? "" : `  callback ${r.skill}`}` +
        `  provider ${r.provider?.slice(0, 16) ?? "-"}`,
    ),
    line(`cost     ${d.job.cost || "-"}`),
  ];
  if (d.worker) rows.push(line(`worker   ${workerText(d.worker)}`));
  for (const pay of r.payments.slice(0, 3)) {
    rows.push(line(
      `payment  ${formatRecordedAmount(pay.amount, pay)} ${pay.status}${
        pay.fulfillment ? ` receipt ${pay.fulfillment.slice(0, 24)}…` : ""
      }`,
    ));
  }
  rows.push(line(d.content === undefined ? "result   none yet" : "result", { bold: true }));
  for (const text of (d.content ?? "").split("\n").slice(0, 8)) rows.push(line(`  ${text}`));
  for (const b of d.logs.slice(0, 3)) {
    rows.push(line(`log      ${b.name} ${b.size} bytes ${b.url}`));
  }
  return rows;
}

/**
 * One frame: the overview, or the opened job.
 *
 * It is drawn with ink from a whole view, so it has no example that runs here:
 * tests/unit/cli/dash_view_test.ts
 */
export function dashFrame(p: DashFrameProps): ReactElement {
  const keys = p.detail === undefined
    ? "↑/↓ move  enter open  c cancel  q quit"
    : "esc/enter back  c cancel  q quit";
  const body = p.detail === undefined
    ? [
      ...townLines(p),
      ...channelLines(p),
      ...jobRows(p),
      ...providerLines(p),
      ...networkLines(p),
    ]
    : detailLines(p.detail);
  return h(
    Box,
    { flexDirection: "column", width: 80 },
    header(p),
    ...body,
    line(p.message ?? "", { color: "yellow" }),
    line(keys, { dimColor: true }),
  );
}
