/**
 * A sandboxed job dies with its provider, even a SIGKILLed one (docs/ARCHITECTURE.md "Skills").
 * Nothing of a killed provider runs to end its jobs, so the kernel does it, by a chain of
 * parent-death signals (prctl PR_SET_PDEATHSIG):
 *
 * 1. the provider starts each sandbox's `unshare` through {@linkcode DIE_WITH_PARENT}: `unshare`
 *    gets SIGKILL when the provider dies;
 * 2. `unshare --kill-child` asks the same for the job's init (PID 1 of its namespace);
 * 3. the init drops to the sandbox user with `setpriv`, which clears that signal (a change of
 *    user does), so the setup script's last `setpriv` asks again with
 *    {@linkcode PDEATHSIG_OPTION} (roles/provider/sandbox/sandbox_setup_script.ts);
 * 4. when the init dies the kernel kills every process of its PID namespace: the agent, what
 *    it forked or daemonized, the gateway's forwarder.
 *
 * The compiled setup (sandbox_init.c) is the same chain in one program: it asks for the signal
 * as it starts (1; a provider already gone is seen by its pid, `--parent`), its namespace's init
 * asks after the fork (2; an outer process already gone is seen by a pipe). That init never drops
 * its privileges: the skill is its child and asks too, and a skill that clears its own signal
 * still dies with the init's namespace (3 and 4 without a gap a job can open).
 *
 * The signal follows the thread that spawned the child: Deno spawns from its JavaScript
 * thread, which lives as long as the provider. The orphan reaper (orphan_reaper.ts) stays for
 * what a host without this (util-linux before 2.33) would leave.
 *
 * @module
 */

/**
 * The `setpriv` option that makes a process get SIGKILL when its parent dies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PDEATHSIG_OPTION } from "./parent_death.ts";
 *
 * assert.equal(PDEATHSIG_OPTION, "--pdeathsig=KILL");
 * ```
 */
export const PDEATHSIG_OPTION = "--pdeathsig=KILL";

/**
 * The command a sandbox's `unshare` is started through: it execs `unshare` (same pid, same
 * arguments seen by the orphan reaper), which gets SIGKILL when the provider dies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DIE_WITH_PARENT } from "./parent_death.ts";
 *
 * const [program, ...args] = [...DIE_WITH_PARENT, "sh", "-c", "exit 3"];
 * const status = await new Deno.Command(program, { args }).output();
 * assert.equal(status.code, 3); // setpriv execs the command: its exit is the command's
 * ```
 */
export const DIE_WITH_PARENT: readonly string[] = ["setpriv", PDEATHSIG_OPTION];
