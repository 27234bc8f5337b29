/**
 * A job's way to its model gateway (roles/agent_work/provider/agent_gateway.ts), as the sandbox
 * builds it (roles/provider/sandbox/skill_sandbox.ts, the job's `gateway` option; docs/SKILLS.md
 * "The model gateway"). Nothing else leaves the job's network namespace:
 *
 *     /opt/turnpike/gateway               a skeleton dir of the provider's, read-only
 *     /opt/turnpike/gateway/gateway.sock  the gateway's Unix socket, bound onto its mount point
 *     /opt/turnpike/gateway/gateway-<id>  a copy of the compiled setup (sandbox_init.c): the relay
 *                                         and the close
 *     /opt/turnpike/gateway/forwarder.js  roles/provider/sandbox/gateway_forwarder.js, read-only,
 *                                         where the sandbox is set up without the compiled setup
 *
 * and, as the namespace's root before the job starts: the loopback brought up, then the relay
 * started with the job's own privileges (none). The compiled setup does both itself (its `relay`
 * step: an ioctl, a fork, the drop, the exec of its copy's `--relay-gateway`); the shell setup runs
 * `ip` (else busybox's) and starts the forwarder with setpriv and Deno's permissions to listen on
 * `127.0.0.1:<port>` and to reach that one socket. The job starts once the relay says `ready`. The
 * job's environment points ANTHROPIC_BASE_URL, OPENAI_BASE_URL (with `/v1`, as OpenAI's clients
 * expect) and TURNPIKE_MODEL_GATEWAY at it; no key is in it.
 *
 * The relay is the job's own process (and one more for each connection it relays): it counts in
 * the job's memory and process limits, and a job that kills it only loses its model API. A job
 * given network has no namespace of its own to hold the relay: the sandbox refuses a gateway then.
 *
 * @module
 */
import { SkillJobError } from "./skill_sandbox_errors.ts";
import { SANDBOX_DENO_BIN_DIR } from "./sandbox_mounts.ts";

/** Where the gateway's socket and forwarder appear inside the sandbox. */
export const SANDBOX_GATEWAY_DIR = "/opt/turnpike/gateway";
/** The gateway's socket inside the sandbox. */
export const SANDBOX_GATEWAY_SOCKET = `${SANDBOX_GATEWAY_DIR}/gateway.sock`;
/** The forwarder inside the sandbox. */
export const SANDBOX_GATEWAY_FORWARDER = `${SANDBOX_GATEWAY_DIR}/forwarder.js`;

/** A job's gateway, as the sandbox is given it. */
export interface SandboxGateway {
  /** The gateway's Unix socket on the host (`socketPath` of agent_gateway.ts's gateway). */
  socketPath: string;
  /** The loopback port the job reaches it on, in its own network namespace (1-65535). */
  port: number;
}

/** What the sandbox adds to one job for its gateway. */
export interface SandboxGatewayPlan {
  /** Read-only binds (host source, target inside the sandbox), for the job's fstab. */
  binds: { source: string; target: string }[];
  /**
   * The setup's gateway step, run as the namespace's root: shell, or for the compiled setup
   * `relay <port> <program> <socket>` (sandbox_init.c starts the relay itself); `-` for none.
   */
  setup: string;
  /** Added to the job's environment. */
  env: Record<string, string>;
}

/** Options for {@linkcode sandboxGatewayPlan}. */
export interface SandboxGatewayPlanOptions {
  /** The sandbox's host dir (holds the gateway's skeleton dir). */
  hostDir: string;
  /** `nobody`: root mode, the job runs as uid 65534; `self`: rootless. */
  dropTo: "nobody" | "self";
  /** Whether the job has the host's network (then no gateway: refused). */
  network: boolean;
  /**
   * The compiled setup program (sandbox_init.ts), when the sandbox is set up by it: a copy the job
   * may run relays to the gateway and closes it (its `--relay-gateway` and `--close-gateway`, no
   * Deno start: docs/SCALE.md "The gateway's relay in the compiled setup"); without it the
   * forwarder's Deno does both.
   */
  compiled?: string;
}

/**
 * The forwarder's file on the host. A compiled binary has none: a gateway is refused there.
 */
const FORWARDER_FILE = (() => {
  const url = new URL("./gateway_forwarder.js", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : undefined;
})();

/**
 * The binds, setup step and environment of a job's gateway; none without one. Throws
 * {@linkcode SkillJobError} for a job that cannot have it (network, a bad port, no socket).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sandboxGatewayPlan } from "./sandbox_gateway.ts";
 *
 * const none = sandboxGatewayPlan(undefined, {
 *   hostDir: "/state/jobs/.sandbox",
 *   dropTo: "nobody",
 *   network: false,
 * });
 * assert.deepEqual(none, { binds: [], setup: "-", env: {} });
 * ```
 */
export function sandboxGatewayPlan(
  gateway: SandboxGateway | undefined,
  options: SandboxGatewayPlanOptions,
): SandboxGatewayPlan {
  if (gateway === undefined) return { binds: [], setup: "-", env: {} };
  const { port, socketPath } = gateway;
  if (options.network) {
    throw new SkillJobError(
      "a job with network has no namespace of its own for a model gateway: drop one of the two",
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SkillJobError(`the gateway's port ${port} is not a port`);
  }
  if (statOrNull(socketPath)?.isSocket !== true) {
    throw new SkillJobError(`the gateway's socket ${socketPath} is not a listening socket`);
  }
  const skeleton = ensureSkeleton(`${options.hostDir}/gateway`);
  const program = options.compiled === undefined
    ? undefined
    : programIn(skeleton, options.compiled);
  if (program === undefined && FORWARDER_FILE === undefined) {
    throw new SkillJobError("this build has no gateway forwarder file to bind into the sandbox");
  }
  const drop = options.dropTo === "nobody"
    ? "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all " +
      "--no-new-privs"
    : "setpriv --inh-caps=-all --bounding-set=-all --no-new-privs";
  // No config, lock file, cache or remote modules: the forwarder imports nothing, and the job's
  // work dir (a worktree with a deno.json of its own, say) is none of its business.
  const denoRun = (net: string) =>
    `${SANDBOX_DENO_BIN_DIR}/deno run --quiet --no-config --no-lock --no-remote ` +
    `--no-npm --no-prompt --allow-net=${net} ` +
    `--allow-read=${SANDBOX_GATEWAY_SOCKET} --allow-write=${SANDBOX_GATEWAY_SOCKET} ` +
    SANDBOX_GATEWAY_FORWARDER;
  const relay = `${denoRun(`127.0.0.1:${port},unix:${SANDBOX_GATEWAY_SOCKET}`)} ` +
    `${port} ${SANDBOX_GATEWAY_SOCKET}`;
  // Run by the agent-task driver once its agent is over (skills/agent-task/run): it closes the
  // gateway and exits 0 once its socket refuses connections; the compiled setup's close where
  // there is one (no Deno start: docs/SCALE.md "The gateway closed by the compiled setup"), else
  // the forwarder's. No shell words but these.
  const close = `env -i PATH=/usr/bin:/bin DENO_DIR=/nonexistent NO_COLOR=1 ` +
    (program === undefined
      ? `${denoRun(`unix:${SANDBOX_GATEWAY_SOCKET}`)} close ${SANDBOX_GATEWAY_SOCKET}`
      : `${SANDBOX_GATEWAY_DIR}/${program} --close-gateway ${SANDBOX_GATEWAY_SOCKET}`);
  // The compiled setup starts its own relay itself (sandbox_init.c's `relay` step: the loopback,
  // the drop and the relay's start without a shell); the shell setup runs these lines.
  const setup = program !== undefined
    ? `relay ${port} ${SANDBOX_GATEWAY_DIR}/${program} ${SANDBOX_GATEWAY_SOCKET}`
    : [
      "{ ip link set lo up 2>/dev/null || busybox ip link set lo up; } ||",
      '  fail "cannot bring the loopback up for the model gateway"',
      `exec 3< <(cd / && exec env -i PATH=/usr/bin:/bin DENO_DIR=/nonexistent NO_COLOR=1 ${drop} ` +
      `${relay})`,
      'read -r ready <&3; exec 3<&-; [ "$ready" = ready ] ||',
      '  fail "the model gateway\'s relay did not start"',
    ].join("\n");
  const base = `http://127.0.0.1:${port}`;
  const binds = [
    { source: skeleton, target: SANDBOX_GATEWAY_DIR },
    { source: Deno.realPathSync(socketPath), target: SANDBOX_GATEWAY_SOCKET },
  ];
  if (program === undefined && FORWARDER_FILE !== undefined) {
    binds.push({ source: Deno.realPathSync(FORWARDER_FILE), target: SANDBOX_GATEWAY_FORWARDER });
  }
  return {
    binds,
    setup,
    env: {
      TURNPIKE_MODEL_GATEWAY: base,
      ANTHROPIC_BASE_URL: base,
      OPENAI_BASE_URL: `${base}/v1`,
      TURNPIKE_MODEL_GATEWAY_CLOSE: close,
    },
  };
}

/**
 * The compiled setup's copy in the skeleton dir that the job may run (the program itself is its
 * owner's alone), named for the build (`gateway-<its name's id>`), made once; its name. Undefined
 * when it cannot be made: the forwarder is used.
 */
function programIn(skeleton: string, program: string): string | undefined {
  const name = `gateway-${program.slice(program.lastIndexOf("-") + 1)}`;
  if (statOrNull(`${skeleton}/${name}`)?.isFile === true) return name;
  const temp = `${skeleton}/.${name}.${crypto.randomUUID()}`;
  try {
    Deno.copyFileSync(program, temp);
    Deno.chmodSync(temp, 0o755);
    Deno.renameSync(temp, `${skeleton}/${name}`); // whole or absent, for a job started meanwhile
    return name;
  } catch {
    try {
      Deno.removeSync(temp);
    } catch {
      // never made
    }
    return undefined;
  }
}

/** The skeleton dir: two empty files, the mount points of the socket and the forwarder. */
function ensureSkeleton(dir: string): string {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const name of ["gateway.sock", "forwarder.js"]) {
    if (statOrNull(`${dir}/${name}`)?.isFile !== true) {
      Deno.writeFileSync(`${dir}/${name}`, new Uint8Array(), { mode: 0o644 });
    }
  }
  return dir;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}
