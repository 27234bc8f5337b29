/**
 * What a rootless job holds in kernel memory that no process's RSS shows and no cgroup charges
 * (sandbox_limits.ts): the bytes queued in its sockets (an AF_UNIX pair written full and never
 * read holds up to twice `net.core.wmem_max` a socket) and its System V shared memory segments'
 * resident pages (a segment stays when no process maps it). Both are per namespace, and the job
 * has its own network and IPC namespaces, so every socket and segment there is the job's.
 *
 * Deno can neither enter a namespace nor open a netlink socket, so a small helper does: `perl`
 * (on every Debian system, `perl-base`) run by `nsenter` in the job's user, network and IPC
 * namespaces, which the provider may enter as their owner. Per request line it answers one line,
 * `<socket bytes> <SysV bytes>`: the sum of `SK_MEMINFO_RMEM_ALLOC` and `SK_MEMINFO_WMEM_ALLOC`
 * of every AF_UNIX socket (NETLINK_SOCK_DIAG with `UDIAG_SHOW_MEMINFO`), and the `rss` column of
 * `/proc/sysvipc/shm` (which shows the reader's IPC namespace). The helper is in none of the
 * job's other namespaces: the job cannot see it, signal it or change its answers. It ends when
 * its input closes (the job's end, or the provider's). docs/OPERATIONS.md, "Sandbox".
 *
 * @module
 */

/** The helper, for `perl -e`: one answer line per request line, until end of input. */
export const KERNEL_METER_SCRIPT = String.raw`
$| = 1;
# AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG
socket(my $s, 16, 3, 4) or die "netlink socket: $!\n";
my $seq = 0;
while (defined(my $line = <STDIN>)) {
  $seq++;
  # nlmsghdr (SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP), then unix_diag_req: AF_UNIX,
  # every state, UDIAG_SHOW_MEMINFO.
  my $req = pack("LSSLL", 40, 20, 0x301, $seq, 0) .
    pack("CCSLLLLL", 1, 0, 0, 0xffffffff, 0, 0x20, 0, 0);
  send($s, $req, 0) or die "netlink send: $!\n";
  my $sock = 0;
  DUMP: while (1) {
    defined(recv($s, my $buf, 1 << 16, 0)) or die "netlink recv: $!\n";
    my $off = 0;
    while ($off + 16 <= length $buf) {
      my ($len, $type) = unpack("LS", substr($buf, $off, 6));
      # NLMSG_DONE, NLMSG_ERROR
      last DUMP if $type == 3 || $type == 2 || $len < 16;
      # After the header and unix_diag_msg (16 bytes each), the attributes.
      my $a = $off + 32;
      while ($a + 4 <= $off + $len) {
        my ($alen, $atype) = unpack("SS", substr($buf, $a, 4));
        last if $alen < 4;
        if ($atype == 5) { # UNIX_DIAG_MEMINFO: u32[SK_MEMINFO_VARS]
          my @m = unpack("L3", substr($buf, $a + 4, 12));
          $sock += $m[0] + $m[2];
        }
        $a += ($alen + 3) & ~3;
      }
      $off += ($len + 3) & ~3;
    }
  }
  my $shm = 0;
  if (open(my $f, "<", "/proc/sysvipc/shm")) {
    <$f>;
    while (<$f>) { my @c = split; $shm += $c[14] // 0; }
    close $f;
  }
  print "$sock $shm\n";
}
`;

/** A job's kernel-side memory, from {@linkcode startJobKernelMeter}. */
export interface JobKernelMeter {
  /** Bytes at the last answer (0 before the first): sockets and SysV segments together. */
  bytes(): number;
  /** Asks for a new answer unless one is pending (the answer updates {@linkcode bytes}). */
  sample(): void;
  /** Ends the helper. */
  close(): Promise<void>;
}

/**
 * Starts the helper in the namespaces of `pid`: the job's `unshare`, in the user namespace that
 * owns the job's network and IPC namespaces (the job's own processes are in a nested one, where
 * the provider could not enter the network namespace from). Undefined when it cannot run here (no `perl` or `nsenter`): the
 * caller counts without it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startJobKernelMeter } from "./job_kernel_meter.ts";
 *
 * const meter = startJobKernelMeter(Deno.pid); // a job's init in practice
 * meter?.sample();
 * assert((meter?.bytes() ?? 0) >= 0); // undefined without perl or nsenter: counted without it
 * await meter?.close();
 * ```
 */
export function startJobKernelMeter(pid: number): JobKernelMeter | undefined {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nsenter", {
      args: [
        `--user=/proc/${pid}/ns/user`,
        `--net=/proc/${pid}/ns/net`,
        `--ipc=/proc/${pid}/ns/ipc`,
        // The provider's own ids: no setgroups, which a user namespace's owner may not do.
        "--preserve-credentials",
        "perl",
        "-e",
        KERNEL_METER_SCRIPT,
      ],
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return undefined;
  }
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let last = 0;
  let pending = false;
  let buffered = "";
  let closed = false;
  const ask = async () => {
    try {
      await writer.write(new TextEncoder().encode("\n"));
      while (!buffered.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) return;
        buffered += value;
      }
      const end = buffered.indexOf("\n");
      const [sock, shm] = buffered.slice(0, end).split(" ").map(Number);
      buffered = buffered.slice(end + 1);
      if (Number.isFinite(sock) && Number.isFinite(shm)) last = sock + shm;
    } catch {
      // The helper ended (the job's namespaces are gone): the last answer stands.
    } finally {
      pending = false;
    }
  };
  return {
    bytes: () => last,
    sample() {
      if (pending || closed) return;
      pending = true;
      ask();
    },
    async close() {
      if (closed) return;
      closed = true;
      await writer.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await lines.cancel().catch(() => {});
      await child.status;
    },
  };
}
