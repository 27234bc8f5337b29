/**
 * A repository bundle sealed and its cached copy checked, as the requester does them
 * (docs/PROTOCOL.md "Agent work"): in memory (`sealBlob` of the file read whole, written and
 * hashed, then the sealed file read whole, hashed and opened with `openBlob`: the code before)
 * against a chunk at a time (roles/agent_work/sealed_file.ts `sealFile` and `checkSealedFile`,
 * made to stream at any size). Each variant runs in a process of its own, which says its wall time
 * and its peak resident memory (`VmHWM`), on one file of `--mib` MiB (default 128), alternating,
 * `--rounds` times (default 3).
 *
 * Run: deno run -A bench/sealed_file_bench_script.ts [--mib 128] [--rounds 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { openBlob, sealBlob } from "../roles/agent_work/sealed_blob.ts";
import { checkSealedFile, sealFile } from "../roles/agent_work/sealed_file.ts";
import { createStreamingSha256 } from "../protocol/streaming_sha256.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "128" },
    rounds: { type: "string", default: "3" },
    variant: { type: "string" },
    file: { type: "string" },
  },
});

/** The SHA-256 the cache names a sealed blob by (native, as the cache's). */
function sha256Hex(bytes: Uint8Array): string {
  const hash = createStreamingSha256();
  hash.update(bytes);
  return hash.digestHex();
}

/** Peak resident memory of this process, MiB. */
async function peakMib(): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

if (values.variant !== undefined) {
  // One variant, in its own process.
  const plain = values.file!;
  const started = performance.now();
  if (values.variant === "memory") {
    // As the requester did: sealed, written, hashed (the cache's entry); read, hashed, opened.
    const { sealed, key } = await sealBlob(await Deno.readFile(plain));
    await Deno.writeFile(`${plain}.sealed`, sealed, { mode: 0o600 });
    sha256Hex(sealed);
    const again = await Deno.readFile(`${plain}.sealed`);
    sha256Hex(again);
    await openBlob(again, key);
  } else {
    // A chunk at a time whatever the size (the product does so past STREAM_ABOVE only).
    const { key } = await sealFile(plain, `${plain}.sealed`, undefined, { streamAbove: 0 });
    await checkSealedFile(`${plain}.sealed`, key, { streamAbove: 0 });
  }
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, peakMib: await peakMib() }));
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "turnpike-seal-bench-" });
try {
  const file = `${dir}/repo.bundle`;
  const mib = Number(values.mib);
  {
    using out = await Deno.open(file, { write: true, create: true });
    const chunk = crypto.getRandomValues(new Uint8Array(65536));
    for (let i = 0; i < mib * 16; i++) await out.write(chunk);
  }
  console.log(`a ${mib} MiB file sealed, then checked; each variant in its own process`);
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const variant of ["memory", "streamed"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--variant", variant, "--file", file],
        stdout: "piped",
      }).output();
      const { ms, peakMib } = JSON.parse(new TextDecoder().decode(out.stdout));
      console.log(
        `round ${round} ${variant.padEnd(8)}: ${ms.toFixed(0)} ms, peak RSS ${
          peakMib.toFixed(1)
        } MiB`,
      );
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
