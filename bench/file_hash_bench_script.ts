/**
 * A file's SHA-256 as the requester node takes it before an upload (docs/SCALE.md "A file hashed
 * through one buffer"): `hashFile` (transport/blossom_client.ts, one buffer read into again and
 * again) against the obvious alternative, the file's `readable` stream into the same hash, and
 * `Deno.readFile` then one digest; taking turns, on a file of `--mib` MiB (5 by default, an agent
 * task's bundle) written once and read from the page cache.
 *
 * Run: deno run -A bench/file_hash_bench_script.ts [--mib 5] [--runs 9]
 *
 * @module
 */
import { parseBenchFlags } from "./bench_flags.ts";
import { hashFile } from "../transport/blossom_client.ts";
import { createStreamingSha256 } from "../protocol/streaming_sha256.ts";

const { values } = parseBenchFlags(Deno.args, {
  values: ["mib", "runs"],
  switches: [],
  usage: "Usage: deno run -A bench/file_hash_bench_script.ts [--mib 5] [--runs 9]",
});
const bytes = Number(values.mib ?? 5) * 1024 * 1024;
const runs = Number(values.runs ?? 9);

const dir = await Deno.makeTempDir({ prefix: "turnpike-file-hash-" });
try {
  const path = `${dir}/blob`;
  const chunk = crypto.getRandomValues(new Uint8Array(65536));
  const data = new Uint8Array(bytes).map((_, i) => chunk[i % chunk.length]);
  await Deno.writeFile(path, data);

  const ways: Record<string, () => Promise<string>> = {
    buffer: async () => (await hashFile(path)).sha256,
    stream: async () => {
      const hash = createStreamingSha256();
      const file = await Deno.open(path);
      for await (const piece of file.readable) hash.update(piece);
      return hash.digestHex();
    },
    readFile: async () => {
      const hash = createStreamingSha256();
      hash.update(await Deno.readFile(path));
      return hash.digestHex();
    },
  };
  const times: Record<string, number[]> = { buffer: [], stream: [], readFile: [] };
  const digests = new Set<string>();
  for (let i = 0; i < runs; i++) {
    for (const [name, way] of Object.entries(ways)) {
      const started = performance.now();
      digests.add(await way());
      times[name].push(performance.now() - started);
    }
  }
  if (digests.size !== 1) throw new Error("the three ways gave different digests");
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, xs] of Object.entries(times)) {
    console.log(
      `${name.padEnd(9)} best ${Math.min(...xs).toFixed(1)} ms, median ${
        median(xs).toFixed(1)
      } ms (${bytes} bytes, ${runs} runs)`,
    );
  }
  console.log(
    `median ratios: stream / buffer ${
      (median(times.stream) / median(times.buffer)).toFixed(1)
    }x, ` +
      `readFile / buffer ${(median(times.readFile) / median(times.buffer)).toFixed(1)}x`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
