/**
 * The script every sandbox runs inside its new namespaces (roles/provider/sandbox/skill_sandbox.ts):
 * joins the job's cgroups, closes inherited descriptors, mounts the job's fstab, pivots into
 * the job's root, sets the limits, and drops privileges to exec the skill. A prepared sandbox
 * (roles/provider/sandbox/sandbox_pool.ts) stops before the drop until the provider writes `go`.
 * docs/ARCHITECTURE.md "Skills".
 *
 * @module
 */
import { SANDBOX_WORK_DIR } from "./sandbox_mounts.ts";
import { PDEATHSIG_OPTION } from "./parent_death.ts";

/**
 * The sandbox user in root mode (nobody).
 *
 * @example
 * ```ts
 * if (SANDBOX_UID !== 65534) throw new Error("not nobody");
 * ```
 */
export const SANDBOX_UID = 65534;
/**
 * Exit code of the sandbox's own setup script when it cannot build the sandbox.
 *
 * @example
 * ```ts
 * if (SANDBOX_SETUP_EXIT !== 125) throw new Error("changed");
 * ```
 */
export const SANDBOX_SETUP_EXIT = 125;
/**
 * The line that starts the skill in a prepared sandbox (its `wait` argument).
 *
 * @example
 * ```ts
 * if (!SANDBOX_GO_LINE.endsWith("\n")) throw new Error("not a line");
 * ```
 */
export const SANDBOX_GO_LINE = "go\n";

/**
 * Runs inside the new namespaces as (namespace) root, then drops privileges. bash, not sh:
 * closing descriptors above 9 needs it. Positional args:
 * `fstab root work gateway memcg pidscg nproc datakb fsizekb dropto wait -- command...`
 * (`wait` is `go` for a prepared sandbox, else `-`). Every mount is ONE `mount --all` over an
 * fstab the provider wrote (sandbox_mounts.ts), not one `mount` process each: the job starts
 * unshare, bash, mount, pivot_root, umount, setpriv and its own run, the rest is builtins.
 *
 * @example
 * ```ts
 * if (!SANDBOX_SETUP_SCRIPT.includes("pivot_root")) throw new Error("no new root");
 * ```
 */
export const SANDBOX_SETUP_SCRIPT = `
fail() { echo "turnpike-sandbox: $*" >&2; exit ${SANDBOX_SETUP_EXIT}; }
# pivot_root lives in sbin, which the job's own PATH leaves out.
jobpath=$PATH; PATH=$PATH:/usr/sbin:/sbin
fstab=$1; root=$2; gateway=$4; memcg=$5; pidscg=$6; nproc=$7; datakb=$8; fsizekb=$9; dropto=\${10}; wait=\${11}
shift 11
# The cgroups first: everything the job allocates from here on (its tmpfs too) counts.
if [ "$memcg" != - ]; then echo 0 > "$memcg/cgroup.procs" || fail "cannot join $memcg"; fi
if [ "$pidscg" != - ]; then echo 0 > "$pidscg/cgroup.procs" || fail "cannot join $pidscg"; fi
# Descriptors the provider inherited from its own parent are not the job's business.
for fd in /proc/self/fd/*; do
  fd=\${fd##*/}
  case $fd in 0|1|2) ;; *) eval "exec $fd<&-" 2>/dev/null ;; esac
done
mount --all --no-canonicalize --fstab "$fstab" || fail "mounts failed"
cd "$root" || fail "cd $root"
pivot_root . . || fail "pivot_root failed"
umount -l . || fail "cannot detach the host's root"
cd ${SANDBOX_WORK_DIR} || fail "cd ${SANDBOX_WORK_DIR}"
unset OLDPWD
if [ "$nproc" != - ]; then ulimit -u "$nproc" || fail "ulimit -u"; fi
if [ "$datakb" != - ]; then ulimit -d "$datakb" || fail "ulimit -d"; fi
# No one file larger than the work dir may hold (the sum is sampled: see superviseJob).
ulimit -f "$fsizekb" || fail "ulimit -f"
if [ "$gateway" != - ]; then eval "$gateway"; fi # its forwarder: sandbox_gateway.ts
[ "$1" = "--" ] && shift
# A prepared sandbox (sandbox_pool.ts) waits here, set up, for one line: "go" starts the job,
# anything else or end of input (the provider gone) ends it. bash reads a pipe a byte at a
# time, so the rest of stdin (the job's input) is left for the skill.
if [ "$wait" = go ]; then
  IFS= read -r line || exit 0
  [ "$line" = go ] || exit 0
fi
PATH=$jobpath
# env -u: bash re-exports SHLVL on exec even when unset. The last setpriv asks again to die with
# unshare: the drop to another user clears what --kill-child asked (parent_death.ts).
if [ "$dropto" = nobody ]; then
  exec env -u SHLVL setpriv --reuid=${SANDBOX_UID} --regid=${SANDBOX_UID} --clear-groups \\
    --inh-caps=-all --bounding-set=-all --no-new-privs ${PDEATHSIG_OPTION} "$@"
fi
# Rootless: a nested user namespace maps the job to uid/gid 65534 too (inside it), so tools
# that act differently as root (tar restoring owners, package managers) behave as for nobody.
# That one is the last: a user namespace of the job's own would let it mount a tmpfs that no
# limit sees (its pages are in no process and no cgroup). The limit is this namespace's (its
# root may set it) and the kernel checks it for namespaces made at any depth below, so the job,
# without capabilities here, can neither raise it nor get around it: unshare gets ENOSPC.
echo 1 > /proc/sys/user/max_user_namespaces || fail "cannot limit nested user namespaces"
# A System V segment no process maps is in no RSS: here it dies when the last one detaches, as
# when its creator asked for IPC_RMID. The job's IPC namespace is its own: no other is touched.
echo 1 > /proc/sys/kernel/shm_rmid_forced || fail "cannot set shm_rmid_forced"
exec env -u SHLVL unshare --user --map-user=${SANDBOX_UID} --map-group=${SANDBOX_UID} --keep-caps \\
  setpriv --inh-caps=-all --bounding-set=-all --no-new-privs ${PDEATHSIG_OPTION} "$@"
`;
