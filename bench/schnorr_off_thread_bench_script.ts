/**
 * libsecp256k1's schnorr check through FFI, inline against `nonblocking` (Deno's blocking thread
 * pool; protocol/native_schnorr.ts `verifyOffThread`): CPU a check of the calling thread and of
 * the whole process (`/proc`), 4,096 checks inline, then 64 at a time off the thread, three rounds.
 *
 *     deno run -A bench/schnorr_off_thread_bench_script.ts
 *
 * @module
 */
import { schnorr } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { loadNativeSchnorr } from "../protocol/native_schnorr.ts";

const native = loadNativeSchnorr();
if (!native?.verifyOffThread) throw new Error("the system's libsecp256k1 is not usable here");
const N = 4096;
const IN_FLIGHT = 64;
const key = schnorr.utils.randomSecretKey();
const pubkey = bytesToHex(schnorr.getPublicKey(key));
const msgs = Array.from({ length: N }, () => crypto.getRandomValues(new Uint8Array(32)));
const sigs = msgs.map((m) => schnorr.sign(m, key));

/** CPU milliseconds (user + system) of this process or of its main thread. */
function cpuMs(file: string): number {
  const stat = Deno.readTextFileSync(file).split(") ")[1].split(" ");
  return (Number(stat[11]) + Number(stat[12])) * 10;
}
const thread = `/proc/self/task/${Deno.pid}/stat`;
const process = "/proc/self/stat";

async function measure(name: string, run: () => Promise<number>) {
  const t0 = cpuMs(thread);
  const p0 = cpuMs(process);
  const good = await run();
  if (good !== N) throw new Error(`${name}: ${good} of ${N} verified`);
  console.log(
    `${name.padEnd(12)} calling thread ${((cpuMs(thread) - t0) * 1000 / N).toFixed(1)} us, ` +
      `process ${((cpuMs(process) - p0) * 1000 / N).toFixed(1)} us a check`,
  );
}

console.log(`load ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
for (let round = 0; round < 3; round++) {
  await measure("inline", () => {
    let good = 0;
    for (let i = 0; i < N; i++) if (native.verify(sigs[i], msgs[i], pubkey)) good++;
    return Promise.resolve(good);
  });
  await measure("off thread", async () => {
    let good = 0;
    for (let b = 0; b < N; b += IN_FLIGHT) {
      const batch = [];
      for (let i = b; i < b + IN_FLIGHT; i++) {
        batch.push(native.verifyOffThread!(sigs[i], msgs[i], pubkey));
      }
      for (const ok of await Promise.all(batch)) if (ok) good++;
    }
    return good;
  });
}
