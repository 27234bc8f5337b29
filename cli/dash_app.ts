/**
 * The interactive `turnpike dash`: an ink app over the live source (`dash_live.ts`). Keys:
 * up/down move through the jobs, enter opens one (its result and logs) and closes it again,
 * c asks to cancel the selected job (y confirms), q quits.
 *
 * @module
 */
import { render, useApp, useInput } from "ink";
// @ts-types="@types/react"
import { createElement as h, type ReactElement, useEffect, useRef, useState } from "react";
import { dashFrame, type DashFrameProps } from "./dash_view.ts";
import type { DashLive, DashState } from "./dash_live.ts";
import { type JobDetail, readJobDetail } from "./dash_job_detail.ts";
import type { NetworkField } from "./network_line.ts";

/** Options for {@linkcode runDashApp}. */
export interface DashAppOptions {
  network: NetworkField;
  stateDir: string;
  window: string;
  /** Starts the live source, calling `onChange` with every new state. */
  startLive: (onChange: (s: DashState) => void) => Promise<DashLive>;
  /** Cancels a job; resolves with a line saying how it went. */
  cancelJob: (id: string) => Promise<string>;
  /** Called after each frame that followed a state change, with the ms it took. */
  onFrame?: (msSinceChange: number) => void;
}

interface AppProps extends DashAppOptions {
  live: DashLive;
  subscribe: (fn: (s: DashState) => void) => void;
}

function DashApp(props: AppProps): ReactElement {
  const { exit } = useApp();
  const [state, setState] = useState<DashState>(props.live.state());
  // The selection follows a job, not a row, so a new job arriving on top does not move it
  // onto another one. A ref as well as state: keys typed faster than frames are drawn arrive in
  // one batch, and each must see the moves before it.
  const [selectedId, setSelectedId] = useState<string | undefined>(undefined);
  const cursor = useRef<string | undefined>(undefined);
  const [detail, setDetail] = useState<JobDetail | undefined>(undefined);
  const confirm = useRef<string | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  useEffect(() => {
    props.subscribe(setState);
    // A change that landed between the first frame and this subscription is not lost.
    setState(props.live.state());
  }, []);
  useEffect(() => props.onFrame?.(performance.now() - state.changedAt), [state]);
  const jobs = state.local.jobs;
  const last = Math.max(0, jobs.length - 1);
  const row = () => Math.max(0, jobs.findIndex((j) => j.record.id === cursor.current));
  const move = (by: number) => {
    cursor.current = jobs[Math.min(last, Math.max(0, row() + by))]?.record.id;
    setSelectedId(cursor.current);
  };
  const currentJob = () => detail?.job ?? jobs[row()];
  useInput((input, key) => {
    const asked = confirm.current;
    if (asked !== undefined) {
      confirm.current = undefined;
      if (input !== "y") return setMessage("not cancelled");
      setMessage(`cancelling ${asked.slice(0, 12)}…`);
      props.cancelJob(asked).then(setMessage, (e) => setMessage((e as Error).message));
      return;
    }
    if (input === "q") return exit();
    if (key.escape && detail !== undefined) return setDetail(undefined);
    if (key.return) {
      if (detail !== undefined) return setDetail(undefined);
      const job = currentJob();
      if (job !== undefined) readJobDetail(props.stateDir, job).then(setDetail);
      return;
    }
    if (key.upArrow) move(-1);
    if (key.downArrow) move(1);
    const job = currentJob();
    if (input === "c" && job !== undefined) {
      confirm.current = job.record.id;
      setMessage(`cancel job ${job.record.id.slice(0, 12)}? y/n`);
    }
  });
  const frame: DashFrameProps = {
    network: props.network,
    town: state.town,
    towns: state.towns,
    local: state.local,
    snapshot: state.snapshot,
    window: props.window,
    selected: Math.max(0, jobs.findIndex((j) => j.record.id === selectedId)),
    detail,
    message,
  };
  return dashFrame(frame);
}

/**
 * Runs the dashboard until q (or Ctrl-C).
 *
 * It draws on a terminal and reads a town, so it has no example that runs here:
 * tests/e2e/cli_test.ts
 */
export async function runDashApp(o: DashAppOptions): Promise<void> {
  let listener: (s: DashState) => void = () => {};
  const live = await o.startLive((s) => listener(s));
  const app = render(
    h(DashApp, { ...o, live, subscribe: (fn: (s: DashState) => void) => listener = fn }),
    // Interactive whatever the environment says: ink otherwise sees CI=true (an agent's or a
    // build's shell) and draws nothing until exit, and the caller has checked for a terminal.
    { exitOnCtrlC: true, interactive: true },
  );
  try {
    await app.waitUntilExit();
  } finally {
    live.stop();
  }
}
