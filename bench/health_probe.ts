/**
 * A town's `/health` polled every 50 ms from a process of its own, so that an attack a bench
 * runs on the same cores does not delay the probe's event loop and count as the town's latency.
 * A failure counts as 10 s. Used by bench/town_abuse_bench_script.ts and
 * bench/town_read_flood_memory_bench_script.ts.
 *
 * @module
 */

/** The latencies a probe saw, in ms. */
export interface HealthLatencies {
  p50: number;
  p95: number;
  max: number;
  /** How many probes answered or failed. */
  count: number;
}

/** A running probe. */
export interface HealthProbe {
  /** Resolves once the first probe has answered: the attack starts on a warm probe. */
  ready(): Promise<void>;
  /** Stops the probe's process; what it saw. */
  stop(): Promise<HealthLatencies>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts polling `http://127.0.0.1:<port>/health`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthProbe } from "./health_probe.ts";
 *
 * // A stand-in for a town's /health on port 0.
 * await using town = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("ok"));
 * const probe = healthProbe(town.addr.port);
 * await probe.ready();
 * const { p50, count } = await probe.stop();
 * assert(count >= 1 && p50 < 10_000, `${count} probes, p50 ${p50} ms`); // 10 s: one that failed
 * ```
 */
export function healthProbe(port: number): HealthProbe {
  const code = `
const url = "http://127.0.0.1:${port}/health";
while (true) {
  const t0 = performance.now();
  let ms = 10000;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
    await res.body?.cancel();
    if (res.ok) ms = performance.now() - t0;
  } catch { /* counted as 10 s */ }
  console.log(ms.toFixed(1));
  await new Promise((r) => setTimeout(r, 50));
}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const readAll = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return {
    async ready(): Promise<void> {
      while (!text.includes("\n")) await sleep(10);
    },
    async stop(): Promise<HealthLatencies> {
      child.kill("SIGKILL");
      await child.status;
      await readAll;
      const s = text.split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
      return {
        p50: s[Math.floor(s.length / 2)] ?? NaN,
        p95: s[Math.floor(s.length * 0.95)] ?? NaN,
        max: s.at(-1) ?? NaN,
        count: s.length,
      };
    },
  };
}
