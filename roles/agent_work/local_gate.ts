/**
 * The requester's own run of a job's acceptance command (`job results <id> --apply --verify`,
 * docs/AGENTS.md "A coding agent's task"): the provider's verdict is its word, and a provider
 * that lies reports `pass` for a gate that fails. This runs the same command on the applied
 * commit, on the requester's machine, and gives the verdict it saw.
 *
 * The commit is checked out in a fresh `git worktree add --detach` of the requester's
 * repository (removed once its files are packed), its files (not `.git`: a worktree's `.git` is
 * a pointer into the requester's repository, which the gate must not reach) packed as a tar,
 * and the command run in turnpike's skill sandbox (roles/provider/sandbox/skill_sandbox.ts), as
 * a provider runs a skill: its own root holding nothing of the host but the tree, no network, a
 * cleared environment, bounded memory, processes and output, and a timeout. The gate is the
 * requester's own command, but the tree it runs on is the provider's work: a test file of it
 * could do anything the requester's user can.
 *
 * @module
 */
import { runGit } from "./git_command.ts";
import { createSkillSandbox, type SkillOutcomeStatus } from "../provider/sandbox/skill_sandbox.ts";
import type { SandboxMode } from "../provider/sandbox/sandbox_probe.ts";
import type { SkillManifest } from "../provider/skills/skill_manifest.ts";

/** As long as a provider's agent-task gives the agent and its gate (skills/agent-task). */
export const DEFAULT_LOCAL_GATE_TIMEOUT_MS = 30 * 60_000;

/** Bytes of the gate's output kept (its tail), as a provider keeps its gate log's. */
export const LOCAL_GATE_LOG_BYTES = 16 * 1024;

/**
 * The sandbox's `run`: unpacks the tree, runs the command with its output on stderr (the
 * sandbox keeps that tail, bounded), and prints the command's exit on stdout.
 */
const RUN_SCRIPT = `#!/bin/sh
set -u
in=\${TURNPIKE_INPUTS:?}
cat >/dev/null
mkdir work && tar -xf "$in/worktree.tar" -C work || { echo "cannot unpack the tree" >&2; exit 1; }
cd work || exit 1
sh -c "$(cat "$in/accept-command")" </dev/null 1>&2
printf '{"gateExit":%d}\\n' "$?"
`;

/** Options of {@linkcode runLocalGate}. */
export interface LocalGateOptions {
  /** The requester's repository, which holds `commit`. */
  repoDir: string;
  /** The commit to run the gate on (the applied branch's tip). */
  commit: string;
  /** The acceptance command, run with `sh -c` at the tree's root. */
  accept: string;
  /** Host paths the gate must never see (the profile's state dir...). */
  hiddenPaths: string[];
  /** Milliseconds the gate may run; {@linkcode DEFAULT_LOCAL_GATE_TIMEOUT_MS} by default. */
  timeoutMs?: number;
}

/** What the requester's own run of the gate gave. */
export interface LocalGateVerdict {
  /** `pass` when the command exited 0, `fail` otherwise (also when it did not run to its end). */
  verdict: "pass" | "fail";
  /** The command's exit status; null when it did not end by itself (timeout, limits). */
  exitCode: number | null;
  /** The sandbox's outcome: `ok` when the command ran to its end, whatever its exit. */
  status: SkillOutcomeStatus;
  /** Why the sandbox ended it, when it did. */
  reason?: string;
  /** The last {@linkcode LOCAL_GATE_LOG_BYTES} of its output (stdout and stderr). */
  logTail: string;
  /** The sandbox's mode (`root` or `rootless`). */
  sandbox: SandboxMode;
  durationMs: number;
}

/**
 * Runs `accept` on `commit` in a fresh worktree's files, in the skill sandbox without network.
 *
 * It runs the sandbox: no example that runs here: tests/unit/roles/agent_work/local_gate_test.ts.
 */
export async function runLocalGate(o: LocalGateOptions): Promise<LocalGateVerdict> {
  const root = await Deno.makeTempDir({ prefix: "turnpike-verify-" });
  try {
    await Deno.chmod(root, 0o755);
    const tree = `${root}/tree`;
    await runGit(["worktree", "add", "-q", "--detach", tree, o.commit], { dir: o.repoDir });
    try {
      const tar = await new Deno.Command("tar", {
        args: ["-C", tree, "--exclude=./.git", "-cf", `${root}/worktree.tar`, "."],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!tar.success) throw new Error(`tar: ${new TextDecoder().decode(tar.stderr).trim()}`);
    } finally {
      await runGit(["worktree", "remove", "--force", tree], { dir: o.repoDir });
    }
    await Deno.writeTextFile(`${root}/accept-command`, o.accept);
    const skillDir = `${root}/skill`;
    await Deno.mkdir(skillDir, { mode: 0o755 });
    await Deno.writeTextFile(`${skillDir}/run`, RUN_SCRIPT, { mode: 0o755 });
    await Deno.chmod(`${skillDir}/run`, 0o755);
    await Deno.mkdir(`${root}/jobs`);
    const sandbox = await createSkillSandbox({
      jobsRoot: `${root}/jobs`,
      hiddenPaths: o.hiddenPaths,
      maxStdoutBytes: 1024,
      maxStderrBytes: LOCAL_GATE_LOG_BYTES,
    });
    try {
      const ran = await sandbox.run({
        jobId: "verify",
        skillDir,
        manifest: gateManifest(o.timeoutMs ?? DEFAULT_LOCAL_GATE_TIMEOUT_MS),
        input: "",
        files: [
          { path: `${root}/worktree.tar`, name: "worktree.tar" },
          { path: `${root}/accept-command`, name: "accept-command" },
        ],
      });
      const line = new TextDecoder().decode(ran.stdout).trim().split("\n").at(-1) ?? "";
      const exit = ran.status === "ok" ? gateExitOf(line) : undefined;
      return {
        verdict: exit === 0 ? "pass" : "fail",
        exitCode: exit ?? null,
        status: ran.status,
        ...(ran.status === "ok" ? {} : { reason: ran.reason }),
        logTail: ran.stderrTail,
        sandbox: sandbox.mode,
        durationMs: Math.round(ran.durationMs),
      };
    } finally {
      await sandbox.close?.();
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

function gateExitOf(line: string): number | undefined {
  try {
    const exit = (JSON.parse(line) as { gateExit?: unknown }).gateExit;
    return typeof exit === "number" ? exit : undefined;
  } catch {
    return undefined;
  }
}

/** The limits of the run: the agent-task skill's (skills/agent-task/SKILL.md), no network. */
function gateManifest(timeoutMs: number): SkillManifest {
  return {
    name: "verify-gate",
    description: "the requester's own run of an agent task's acceptance command",
    kinds: [5603],
    price: 0n,
    onDeliveryPercent: 0,
    timeoutMs,
    memoryBytes: 2048 * 1024 * 1024,
    diskBytes: 4096 * 1024 * 1024,
    idempotent: true,
    runner: "sandbox",
    resultBytes: 1024,
    outputBytes: 0,
    outputFiles: 0,
    requiredParams: [],
    permissions: { network: false, read: [], write: [] },
  };
}
