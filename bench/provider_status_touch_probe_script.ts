/**
 * What a provider's idle liveness tick costs its process: `touchProviderStatus` (one `utime` of
 * `provider-status.json`, roles/provider/provider_status.ts) on `--providers` state dirs, all
 * at once as the ticks of a host's providers come, `--rounds` times. This process's CPU (user +
 * system, /proc/self/stat) per touch, and per provider-hour at one touch a second (before) and
 * one every `PROVIDER_STATUS_TOUCH_MS` (now).
 *
 * ```sh
 * deno run -A bench/provider_status_touch_probe_script.ts [--providers 100] [--rounds 100]
 * ```
 *
 * @module
 */
import {
  PROVIDER_STATUS_TOUCH_MS,
  type ProviderStatus,
  touchProviderStatus,
  writeProviderStatus,
} from "../roles/provider/provider_status.ts";

const opt = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(Deno.args[i + 1]);
};
const providers = opt("providers", 100);
const rounds = opt("rounds", 100);

function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ 100
}

const root = await Deno.makeTempDir({ prefix: "status-touch-probe-" });
try {
  const dirs = Array.from({ length: providers }, (_, i) => `${root}/p${i}`);
  const status = { pid: Deno.pid, updatedAt: new Date().toISOString() } as ProviderStatus;
  for (const d of dirs) {
    await Deno.mkdir(d);
    await writeProviderStatus(d, status);
  }
  const c0 = cpuMs();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(dirs.map((d) => touchProviderStatus(d)));
  }
  const perTouch = (cpuMs() - c0) / (providers * rounds);
  const perHour = (touchesPerS: number) => (perTouch * touchesPerS * 3600).toFixed(0);
  console.log(`${perTouch.toFixed(4)} CPU ms per touch (${providers} providers x ${rounds})`);
  console.log(
    `per provider-hour: ${perHour(1)} ms at 1/s (before), ${
      perHour(1000 / PROVIDER_STATUS_TOUCH_MS)
    } ms at 1/${PROVIDER_STATUS_TOUCH_MS / 1000} s (now)`,
  );
} finally {
  await Deno.remove(root, { recursive: true });
}
