/**
 * An idle `turnpike town up` (SQLite, a throwaway key, default settings) stays under a memory
 * bound: its peak resident size (VmHWM, so the figure does not depend on when it is read) once it
 * has started and answered a request, with the only worker isolate its key's (the verifier and
 * commit workers start at the first burst of writes). docs/SCALE.md "An idle town's memory" has
 * the measured figures and the bench; the bound leaves headroom over them for a loaded machine
 * and is there to catch a start-up that loads what an idle town does not use.
 */
import { spawnCli } from "../../harness/cli_process.ts";
import { assert, assertEquals } from "../../harness/assert.ts";
import { createMnemonic } from "../../identity/mnemonic.ts";
import { createWalletRecord } from "../../identity/wallet.ts";
import { walletFilePath, writeWalletFile } from "../../identity/wallet_file.ts";
import { connectPayingClient } from "../../harness/town_test_node.ts";

/**
 * MiB. Measured 94.5-94.7 here (93-97 VmRSS in the bench's runs), 115.6-118.9 (the bench's VmHWM)
 * before an idle town stopped loading its WebAssembly and nostr-tools at start: the bound catches most of that back.
 */
const PEAK_BOUND_MIB = 110;

function statusField(pid: number, name: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1];
  if (kib === undefined) throw new Error(`no ${name} in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

function workerThreads(pid: number): number {
  let count = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`).trim();
      if (/^worker-\d+$/.test(name)) count++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return count;
}

Deno.test("town up: an idle town's peak memory stays under its bound, one worker isolate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_idle_memory_" });
  const town = spawnCli([
    "--state-dir",
    dir,
    "--json",
    "town",
    "up",
    "--generate-key",
    "--town-port",
    "0",
    "--btp-port",
    "0",
  ], { env: { TURNPIKE_HOME: dir } });
  try {
    const info = JSON.parse(await town.waitForLine((l) => l.includes('"town-up"')));
    // It serves: its NIP-11 document on its port names its key.
    const res = await fetch(`http://127.0.0.1:${info.httpPort}/`, {
      headers: { accept: "application/nostr+json" },
    });
    assertEquals(res.status, 200);
    assertEquals((await res.json()).self, info.pubkey);
    const pid = town.child.pid;
    const peak = statusField(pid, "VmHWM");
    const rss = statusField(pid, "VmRSS");
    assert(
      peak < PEAK_BOUND_MIB,
      `idle town peak ${peak.toFixed(1)} MiB (now ${rss.toFixed(1)}), bound ${PEAK_BOUND_MIB} MiB`,
    );
    assertEquals(workerThreads(pid), 1, "only the key's worker runs at idle");
  } finally {
    town.child.kill("SIGTERM");
    await town.done;
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * MiB. A town on a wallet read 109.1-109.5 here as soon as it was up (106-110 in the bench's
 * `RSS_BENCH_WALLET=1` runs at 10 s idle) once its wallet's worker had ended; when the key's worker
 * unlocked the wallet itself, Argon2id's 64 MiB of WebAssembly memory stayed in it until V8
 * collected it: 175.0 here (twice, main at bd59867), 175 in one bench run of three.
 */
const WALLET_UP_BOUND_MIB = 140;

/**
 * MiB. The peak of a town on a wallet: where the wallet was unlocked in a worker of the town's
 * process, Argon2id's 64 MiB of WebAssembly memory were the town's for a moment (VmHWM 172-175 in
 * the bench's runs); unlocked in a process of its own (identity/wallet_unlock_process.ts) they
 * never are, and the peak is a throwaway-key town's.
 */
const WALLET_PEAK_BOUND_MIB = 130;

Deno.test("town up on a wallet: the wallet is unlocked in a process of its own, Argon2id's memory never the town's, and no unlocking worker is left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_idle_memory_wallet_" });
  const passphrase = "idle memory passphrase";
  const record = await createWalletRecord({ mnemonic: createMnemonic(), passphrase });
  await writeWalletFile(walletFilePath(dir), record);
  await Deno.writeTextFile(`${dir}/passphrase.txt`, passphrase);
  const town = spawnCli([
    "--state-dir",
    dir,
    "--json",
    "town",
    "up",
    "--passphrase-file",
    `${dir}/passphrase.txt`,
    "--non-interactive",
    "--town-port",
    "0",
    "--btp-port",
    "0",
  ], { env: { TURNPIKE_HOME: dir } });
  try {
    const info = JSON.parse(await town.waitForLine((l) => l.includes('"town-up"')));
    assertEquals(info.pubkey, record.pubkey);
    const pid = town.child.pid;
    // Read as soon as it is up: no wait for a collection to give the memory back.
    const rss = statusField(pid, "VmRSS");
    assert(
      rss < WALLET_UP_BOUND_MIB,
      `a town up on a wallet holds ${rss.toFixed(1)} MiB, bound ${WALLET_UP_BOUND_MIB} MiB`,
    );
    assertEquals(workerThreads(pid), 1, "only the key's worker runs once the town is up");
    const peak = statusField(pid, "VmHWM");
    assert(
      peak < WALLET_PEAK_BOUND_MIB,
      `a town up on a wallet peaked at ${peak.toFixed(1)} MiB, bound ${WALLET_PEAK_BOUND_MIB} MiB`,
    );
  } finally {
    town.child.kill("SIGTERM");
    await town.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("town up: an idle town's key worker stops, and the town signs again at the next request", async () => {
  const dir = await Deno.makeTempDir({ prefix: "town_idle_key_worker_" });
  const town = spawnCli([
    "--state-dir",
    dir,
    "--json",
    "town",
    "up",
    "--generate-key",
    "--dev-accept-any-token",
    "--town-port",
    "0",
    "--btp-port",
    "0",
  ], { env: { TURNPIKE_HOME: dir } });
  try {
    const info = JSON.parse(await town.waitForLine((l) => l.includes('"town-up"')));
    const pid = town.child.pid;
    // The town stops its key's worker 5 s after its last signature (cli/town_command.ts); read
    // it after twice that, or as soon as it is gone.
    for (let i = 0; i < 100 && workerThreads(pid) > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(workerThreads(pid), 0, "no worker isolate runs in an idle town");
    // An SPSP handshake: the town answers with an event its key signs (and a NIP-44 key).
    const payer = await connectPayingClient({
      url: `btp+ws://payer:t@127.0.0.1:${info.btpPort}`,
      token: "t",
      townAddress: info.ilpAddress,
      townPubkey: info.pubkey,
    });
    try {
      assert(payer.grant.destinationAccount.startsWith(info.ilpAddress));
      assertEquals((await payer.write(payer.sign())).type, "fulfill");
    } finally {
      await payer.close();
    }
  } finally {
    town.child.kill("SIGTERM");
    await town.done;
    await Deno.remove(dir, { recursive: true });
  }
});
