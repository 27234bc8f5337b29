/**
 * What a job left in its `out/` dir, read on the host without following anything the job's code
 * could have linked to a host file: its logs' tails and the agent's transcript
 * (docs/SKILLS.md "agent-task").
 *
 * @module
 */

/** The most bytes of the agent's transcript delivered: its first and last halves beyond. */
export const TRANSCRIPT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The most a transcript may hold: {@linkcode TRANSCRIPT_MAX_BYTES} and, when it was cut, the
 * line between its halves that says so (under 256 bytes whatever the log's size).
 */
export const TRANSCRIPT_MAX_KEPT_BYTES = TRANSCRIPT_MAX_BYTES + 256;
/** Bytes kept of the agent's and the gate's logs in the result (its content is encrypted). */
const LOG_TAIL_BYTES = 3 * 1024;
/**
 * Whether `path` is a file the job made itself: a regular file with one link. The job's code (the
 * gate is the agent's code too) may leave a symlink or a hard link in `out/`, which the host,
 * reading it, would follow to a file of its own. Nothing of the job runs any more when this is
 * asked: the sandbox's PID namespace is gone.
 *
 * @example
 * ```ts
 * import { ownFile } from "./job_out_files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/gate.log`, "ok");
 * await Deno.symlink("/etc/hostname", `${dir}/link.log`);
 * if (!await ownFile(`${dir}/gate.log`) || await ownFile(`${dir}/link.log`)) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ownFile(path: string): Promise<boolean> {
  const info = await Deno.lstat(path).catch(() => undefined);
  return info !== undefined && info.isFile && (info.nlink ?? 1) === 1;
}

/**
 * Why a job whose agent exited non-zero and committed nothing failed: its exit code and the last
 * lines of its log (its tail), not a bare `no-commits` (an agent the sandbox could not start says
 * `not found` here). The reason is the requester's only: an encrypted job's public error has a
 * code (docs/PROTOCOL.md "Errors of an encrypted job").
 *
 * @example
 * ```ts
 * import { agentExitReason } from "./job_out_files.ts";
 *
 * const why = agentExitReason("fix", 127, "sh: 1: claude: not found\n");
 * if (why !== "agent: the preset fix exited 127: sh: 1: claude: not found; nothing is delivered") {
 *   throw new Error(why);
 * }
 * ```
 */
export function agentExitReason(preset: string, exitCode: number, logTail: string): string {
  const lines = logTail.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "").slice(-5);
  const said = lines.length === 0 ? "" : `: ${lines.join("\n").slice(-1000)}`;
  return `agent: the preset ${preset} exited ${exitCode}${said}; nothing is delivered`;
}

/**
 * The last {@linkcode LOG_TAIL_BYTES} of a log the job left, as text; "" for a link or no file.
 *
 * @example
 * ```ts
 * import { tailOf } from "./job_out_files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/gate.log`, "x".repeat(5000) + "end");
 * if (!(await tailOf(`${dir}/gate.log`)).endsWith("end")) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function tailOf(path: string): Promise<string> {
  if (!(await ownFile(path))) return "";
  try {
    const bytes = await Deno.readFile(path);
    return new TextDecoder().decode(bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)));
  } catch {
    return "";
  }
}

/**
 * The agent's whole log, or past {@linkcode TRANSCRIPT_MAX_BYTES} its first and last halves with
 * a line between them that says how much was left out; read without loading more than that.
 * Nothing for a link or no file.
 *
 * @example
 * ```ts
 * import { transcriptOf } from "./job_out_files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/agent.log`, "hello");
 * const { totalBytes, truncated } = await transcriptOf(`${dir}/agent.log`);
 * if (totalBytes !== 5 || truncated) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function transcriptOf(
  path: string,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; totalBytes: number; truncated: boolean }> {
  const none = { bytes: new Uint8Array(0), totalBytes: 0, truncated: false };
  if (!(await ownFile(path))) return none;
  try {
    using file = await Deno.open(path);
    const totalBytes = (await file.stat()).size;
    const readAt = async (offset: number, length: number) => {
      const buf = new Uint8Array(length);
      await file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    };
    if (totalBytes <= TRANSCRIPT_MAX_BYTES) {
      return { bytes: await readAt(0, totalBytes), totalBytes, truncated: false };
    }
    const half = TRANSCRIPT_MAX_BYTES / 2;
    const note = new TextEncoder().encode(
      `\n[turnpike: transcript truncated: ${totalBytes - 2 * half} of ${totalBytes} bytes ` +
        `left out here, the first and last ${half} kept]\n`,
    );
    const head = await readAt(0, half);
    const tail = await readAt(totalBytes - half, half);
    const bytes = new Uint8Array(head.length + note.length + tail.length);
    bytes.set(head, 0);
    bytes.set(note, head.length);
    bytes.set(tail, head.length + note.length);
    return { bytes, totalBytes, truncated: true };
  } catch {
    return none;
  }
}
