/*
 * turnpike's sandbox init: ONE program that builds a job's sandbox and execs the skill, where the
 * shell setup (sandbox_setup_script.ts) runs eight: setpriv, unshare, bash, mount, pivot_root,
 * umount, env and setpriv again (and unshare a second time rootless). Each of those costs a fork
 * or an exec and the dynamic linker, ~1-1.5 ms of CPU apiece: 17-21 ms of a no-op job's CPU
 * (docs/SCALE.md "The sandbox's setup as one program"). Written by hand because no library or
 * packaged tool does the whole setup in one process (bubblewrap has no cgroup join, rlimits or go
 * line). It does what the shell setup does, in the same order, with the same arguments and exit
 * codes, but for the differences below: docs/ARCHITECTURE.md "The sandbox's setup" and
 * roles/provider/sandbox/sandbox_setup_script.ts.
 *
 *   sandbox-init [--user] [--net] [--parent=<pid>] fstab root work gateway memcg pidscg nproc \
 *     datakb fsizekb dropto wait -- command...
 *
 * fstab: the path of the job's fstab(5), or `inline:` followed by its text.
 *
 * --user: a new user namespace mapping the caller to root (unshare --map-root-user); --net: a
 * new network namespace; --parent: the provider's pid (a provider gone before this program asked
 * to die with it ends it). Always new mount (private), PID, IPC and UTS namespaces. The outer
 * process dies with its parent (SIGKILL) and waits for the namespace's init, then passes the
 * skill's exit or signal on (unshare --fork --kill-child). Setup errors print
 * `turnpike-sandbox: ...` and exit 125. Built by roles/provider/sandbox/sandbox_init.ts with the
 * host's C compiler.
 *
 * One difference from the shell setup, on purpose: the init stays PID 1 and runs the skill as its
 * child (the shell setup execs the skill as PID 1). A skill that is PID 1 may clear its own
 * parent-death signal and outlive a killed provider; this init keeps its own, cannot be signalled
 * from inside its namespace, and keeps the capabilities the job drops (the kernel lets no process
 * trace or read the memory of one holding capabilities it lacks), so the whole namespace dies
 * with the provider. Its arguments are wiped once read (the job sees no host path). The skill's
 * status comes back to the outer process through a pipe (PID 1 cannot raise a signal on itself).
 *
 *   sandbox-init --relay-gateway <port> <socket>
 *
 * The job's model API on its own loopback, run inside the job's sandbox (its setup's `relay` step,
 * as the job's user with no capabilities, from the same copy as the close below): listens on
 * `127.0.0.1:<port>`, prints `ready`, and relays each connection, byte for byte and in a process
 * of its own, to the gateway's Unix socket. What `gateway_forwarder.js` does, without a Deno start
 * (docs/SCALE.md "The gateway's relay in the compiled setup").
 *
 *   sandbox-init --close-gateway <socket>
 *
 * The agent-task driver's close of its model gateway, run inside the job's sandbox from a copy the
 * job may execute (roles/provider/sandbox/sandbox_gateway.ts): posts /turnpike/agent-over to the
 * gateway's Unix socket, then again on a new connection until one is refused; exit 0 then (or
 * when nothing ever listened), 1 when it still accepts after 1000 tries (10 ms apart from the
 * third). What `gateway_forwarder.js close` does, without a Deno start (docs/SCALE.md "The gateway
 * closed by the compiled setup"). It holds no privilege there: the job's own user, no capabilities.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETUP_EXIT 125
#define SANDBOX_UID 65534
#define WORK_DIR "/tmp/job"
#define VERSION "turnpike-sandbox-init 5"

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("turnpike-sandbox: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(SETUP_EXIT);
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  ssize_t w = write(fd, text, n);
  int saved = errno;
  close(fd);
  errno = saved;
  return w == (ssize_t)n ? 0 : -1;
}

/* The id maps of the namespace just made: `inside` is the caller's euid/egid outside. */
static void map_ids(unsigned inside, unsigned uid, unsigned gid) {
  char line[64];
  if (write_file("/proc/self/setgroups", "deny") != 0 && errno != ENOENT) {
    fail("cannot deny setgroups: %s", strerror(errno));
  }
  snprintf(line, sizeof line, "%u %u 1", inside, uid);
  if (write_file("/proc/self/uid_map", line) != 0) fail("cannot map the user: %s", strerror(errno));
  snprintf(line, sizeof line, "%u %u 1", inside, gid);
  if (write_file("/proc/self/gid_map", line) != 0) fail("cannot map the group: %s", strerror(errno));
}

/* fstab(5) escapes: \040 and the like. In place. */
static void unescape(char *s) {
  char *out = s;
  for (char *in = s; *in;) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
        in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out++ = *in++;
    }
  }
  *out = 0;
}

/* mkdir -p, 0755 (X-mount.mkdir): the whole path first, its parents only when missing. A walk
 * from `/` down would ask the kernel for every level of every mount's target: ~140 mkdir calls a
 * job, ~75 of them on dirs that exist (docs/SCALE.md "The provider's fstab inline"). */
static void make_dirs(char *path) {
  if (mkdir(path, 0755) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) fail("mkdir %s: %s", path, strerror(errno));
  char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path) fail("mkdir %s: %s", path, strerror(ENOENT));
  *slash = 0;
  make_dirs(path);
  *slash = '/';
  if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("mkdir %s: %s", path, strerror(errno));
}

/* What a bind remount must keep of the mount's flags: a user namespace may not clear them. */
static unsigned long locked_flags(const char *target) {
  struct statvfs st;
  if (statvfs(target, &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  // Neither: strictatime, said so (without an atime flag the kernel would make it relatime,
  // which a user namespace may not change).
  if (!(st.f_flag & (ST_NOATIME | ST_RELATIME))) flags |= MS_STRICTATIME;
  return flags;
}

/* One fstab line, as `mount --all --no-canonicalize` does it for the options the provider
 * writes (sandbox_mounts.ts): bind, rbind, remount, ro, nosuid, nodev, noexec, X-mount.mkdir;
 * anything else is the file system's data (size=, mode=, lowerdir=...). */
static void mount_line(char *line) {
  char *fields[4];
  int n = 0;
  for (char *save = NULL, *f = strtok_r(line, " \t", &save); f && n < 4;
       f = strtok_r(NULL, " \t", &save)) {
    fields[n++] = f;
  }
  if (n == 0 || fields[0][0] == '#') return;
  if (n < 4) fail("a short fstab line");
  char *source = fields[0], *target = fields[1], *type = fields[2];
  unescape(source);
  unescape(target);
  unsigned long flags = 0;
  int bind = 0, rbind = 0, remount = 0, mkdirs = 0;
  char data[4096] = "";
  for (char *save = NULL, *o = strtok_r(fields[3], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    if (strcmp(o, "bind") == 0) bind = 1;
    else if (strcmp(o, "rbind") == 0) bind = rbind = 1;
    else if (strcmp(o, "remount") == 0) remount = 1;
    else if (strcmp(o, "ro") == 0) flags |= MS_RDONLY;
    else if (strcmp(o, "rw") == 0) flags &= ~MS_RDONLY;
    else if (strcmp(o, "nosuid") == 0) flags |= MS_NOSUID;
    else if (strcmp(o, "nodev") == 0) flags |= MS_NODEV;
    else if (strcmp(o, "noexec") == 0) flags |= MS_NOEXEC;
    else if (strcmp(o, "X-mount.mkdir") == 0) mkdirs = 1;
    else if (strcmp(o, "defaults") == 0) continue;
    else {
      if (strlen(data) + strlen(o) + 2 > sizeof data) fail("fstab options too long");
      if (data[0]) strcat(data, ",");
      strcat(data, o);
    }
  }
  if (mkdirs) make_dirs(target);
  if (remount) {
    unsigned long how = MS_REMOUNT | flags | (bind ? MS_BIND | locked_flags(target) : 0);
    if (mount(NULL, target, NULL, how, data[0] ? data : NULL) != 0) {
      fail("mount: %s: cannot remount: %s", target, strerror(errno));
    }
  } else if (bind) {
    if (mount(source, target, NULL, MS_BIND | (rbind ? MS_REC : 0), NULL) != 0) {
      fail("mount: %s: cannot bind %s: %s", target, source, strerror(errno));
    }
    if (flags != 0) {
      unsigned long how = MS_REMOUNT | MS_BIND | flags | locked_flags(target);
      if (mount(NULL, target, NULL, how, NULL) != 0) {
        fail("mount: %s: cannot remount: %s", target, strerror(errno));
      }
    }
  } else if (mount(source, target, type, flags, data[0] ? data : NULL) != 0) {
    fail("mount: %s: cannot mount %s (%s): %s", target, source, type, strerror(errno));
  }
}

/* The job's mounts: `inline:` and the fstab's text itself (no file made and removed per job:
 * docs/SCALE.md "The provider's fstab inline"), else the path of the file holding it. */
static void mount_all(const char *fstab) {
  static const char prefix[] = "inline:";
  int inline_text = strncmp(fstab, prefix, sizeof prefix - 1) == 0;
  const char *text = fstab + sizeof prefix - 1;
  FILE *f = inline_text ? fmemopen((void *)text, strlen(text), "r") : fopen(fstab, "re");
  if (!f) fail("cannot read %s: %s", inline_text ? "the inline fstab" : fstab, strerror(errno));
  char *line = NULL;
  size_t size = 0;
  ssize_t len;
  while ((len = getline(&line, &size, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[len - 1] = 0;
    mount_line(line);
  }
  free(line);
  fclose(f);
}

static void join_cgroup(const char *dir) {
  if (strcmp(dir, "-") == 0) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  if (write_file(path, "0") != 0) fail("cannot join %s", dir);
}

/* The init's end of the status pipe, kept at this descriptor (close-on-exec). */
#define STATUS_FD 3

/* Descriptors the provider inherited from its own parent are not the job's business: all but
 * 0-2 and the status pipe go. */
static void close_inherited(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, STATUS_FD + 1U, ~0U, 0U) == 0) return;
#endif
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  int own = dirfd(d);
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name);
    if (fd > STATUS_FD && fd != own) close(fd);
  }
  closedir(d);
}

static void limit(int resource, const char *value, unsigned long long scale, const char *name) {
  if (strcmp(value, "-") == 0) return;
  char *end;
  unsigned long long n = strtoull(value, &end, 10);
  if (*end != 0) fail("ulimit %s: %s is not a number", name, value);
  struct rlimit rl = {n * scale, n * scale};
  if (setrlimit(resource, &rl) != 0) fail("ulimit %s: %s", name, strerror(errno));
}

static void drop_capabilities(void);

/* Root mode's drop of the user: no groups, gid and uid 65534 (after the capabilities). */
static void become_nobody(void) {
  if (setgroups(0, NULL) != 0) fail("setgroups: %s", strerror(errno));
  int gid = setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID);
  if (gid != 0) fail("setgid: %s", strerror(errno));
  int uid = setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID);
  if (uid != 0) fail("setuid: %s", strerror(errno));
}

/* The model gateway's relay started without a shell (sandbox_gateway.ts, `relay <port> <program>
 * <socket>`): the loopback brought up, then `<program> --relay-gateway <port> <socket>` (this
 * program's copy the job may run) as the job's user with no capabilities, as the shell step's
 * setpriv would start it, waited for until it says ready. Five processes fewer than the shell
 * step (bash, ip, env, setpriv and a subshell: docs/SCALE.md "The gateway's relay started by the
 * setup itself"). */
static void start_relay(char *spec, const char *dropto) {
  char *port = strtok(spec + 6, " "), *program = strtok(NULL, " ");
  char *socket_path = strtok(NULL, " ");
  if (!port || !program || !socket_path || strtok(NULL, " ")) {
    fail("the gateway's relay step is `relay <port> <program> <socket>`");
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    fail("cannot bring the loopback up for the model gateway: %s", strerror(errno));
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    fail("cannot bring the loopback up for the model gateway: %s", strerror(errno));
  }
  close(s);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) fail("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) fail("fork: %s", strerror(errno));
  if (pid == 0) {
    if (dup2(ready[1], 1) < 0 || chdir("/") != 0) fail("the relay's start: %s", strerror(errno));
    drop_capabilities();
    if (strcmp(dropto, "nobody") == 0) become_nobody();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    char *argv[] = {program, "--relay-gateway", port, socket_path, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    execve(program, argv, envp);
    fail("cannot run the model gateway's relay %s: %s", program, strerror(errno));
  }
  close(ready[1]);
  char line[16];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(ready[0], line + n, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || line[n] == '\n' || ++n == sizeof line - 1) break;
  }
  line[n] = 0;
  close(ready[0]);
  if (strcmp(line, "ready") != 0) fail("the model gateway's relay did not start");
}

/* The model gateway's step (sandbox_gateway.ts): the relay's start above, or shell run as the
 * namespace's root (the forwarder's, where the relay's copy could not be made). */
static void run_gateway(char *script, const char *dropto) {
  if (strcmp(script, "-") == 0) return;
  if (strncmp(script, "relay ", 6) == 0) {
    start_relay(script, dropto);
    return;
  }
  static const char prelude[] =
      "fail() { echo \"turnpike-sandbox: $*\" >&2; exit 125; }\n"
      "PATH=$PATH:/usr/sbin:/sbin\n";
  char *text = malloc(sizeof prelude + strlen(script));
  if (!text) fail("out of memory");
  strcpy(text, prelude);
  strcat(text, script);
  pid_t pid = fork();
  if (pid < 0) fail("fork: %s", strerror(errno));
  if (pid == 0) {
    execlp("bash", "bash", "-c", text, (char *)NULL);
    fail("cannot run bash for the model gateway: %s", strerror(errno));
  }
  free(text);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid: %s", strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(SETUP_EXIT);
}

/* A prepared sandbox waits here for one line: "go" starts the job, anything else or end of
 * input (the provider gone) ends it. A byte at a time: the rest of stdin is the job's input. */
static void wait_for_go(void) {
  char line[16];
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(0, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) exit(0);
    if (c == '\n') break;
    if (n == sizeof line - 1) exit(0);
    line[n++] = c;
  }
  line[n] = 0;
  if (strcmp(line, "go") != 0) exit(0);
}

/* No capability survives into the job: bounding set, inheritable and ambient sets cleared. */
static void drop_capabilities(void) {
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
    fclose(f);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    fail("cannot clear the ambient capabilities: %s", strerror(errno));
  }
  for (int cap = 0; cap <= last; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      fail("cannot drop capability %d: %s", cap, strerror(errno));
    }
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2];
  if (syscall(SYS_capget, &header, caps) != 0) fail("capget: %s", strerror(errno));
  caps[0].inheritable = caps[1].inheritable = 0;
  if (syscall(SYS_capset, &header, caps) != 0) fail("capset: %s", strerror(errno));
}

static void set_pdeathsig(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("pdeathsig: %s", strerror(errno));
}

/* The init's arguments copied, then wiped from its command line: the job sees its init, and the
 * host's paths (state dir, home) and the gateway's script are none of its business. The outer
 * process, outside the job's PID namespace, keeps them (the orphan reaper finds jobs by them). */
static char **hide_arguments(int argc, char **argv) {
  char **copy = calloc(argc + 1, sizeof *copy);
  if (!copy) fail("out of memory");
  for (int i = 0; i < argc; i++) {
    copy[i] = strdup(argv[i]);
    if (!copy[i]) fail("out of memory");
  }
  char *end = argv[argc - 1] + strlen(argv[argc - 1]);
  memset(argv[0], 0, end - argv[0]);
  static const char name[] = "turnpike-sandbox-init";
  if ((size_t)(end - argv[0]) >= sizeof name) memcpy(argv[0], name, sizeof name);
  return copy;
}

/* PID 1 of the job's namespace: the setup script's steps, then the skill. */
static void job_init(char **pos, char **command) {
  const char *fstab = pos[0], *root = pos[1], *memcg = pos[4];
  char *gateway = pos[3];
  const char *pidscg = pos[5], *nproc = pos[6], *datakb = pos[7], *fsizekb = pos[8];
  const char *dropto = pos[9], *wait = pos[10];
  // The cgroups first: everything the job allocates from here on (its tmpfs too) counts.
  join_cgroup(memcg);
  join_cgroup(pidscg);
  close_inherited();
  mount_all(fstab);
  if (chdir(root) != 0) fail("cd %s: %s", root, strerror(errno));
  if (syscall(SYS_pivot_root, ".", ".") != 0) fail("pivot_root failed: %s", strerror(errno));
  if (umount2(".", MNT_DETACH) != 0) fail("cannot detach the host's root: %s", strerror(errno));
  if (chdir(WORK_DIR) != 0) fail("cd %s: %s", WORK_DIR, strerror(errno));
  limit(RLIMIT_NPROC, nproc, 1, "-u");
  limit(RLIMIT_DATA, datakb, 1024, "-d");
  // No one file larger than the work dir may hold (the sum is sampled: see superviseJob).
  limit(RLIMIT_FSIZE, fsizekb, 1024, "-f");
  run_gateway(gateway, dropto);
  if (strcmp(wait, "go") == 0) wait_for_go();
  int rootless = strcmp(dropto, "nobody") != 0;
  if (rootless) {
    // Rootless: the last user namespace maps the job to 65534 (sandbox_setup_script.ts says
    // why), and no namespace below it may be made (a tmpfs no limit sees); SysV segments no
    // process maps die.
    if (write_file("/proc/sys/user/max_user_namespaces", "1") != 0) {
      fail("cannot limit nested user namespaces");
    }
    if (write_file("/proc/sys/kernel/shm_rmid_forced", "1") != 0) {
      fail("cannot set shm_rmid_forced");
    }
  }
  pid_t skill = fork();
  if (skill < 0) fail("fork: %s", strerror(errno));
  if (skill == 0) {
    if (rootless) {
      unsigned uid = geteuid(), gid = getegid();
      if (unshare(CLONE_NEWUSER) != 0) fail("unshare --user: %s", strerror(errno));
      map_ids(SANDBOX_UID, uid, gid);
      drop_capabilities();
    } else {
      drop_capabilities();
      become_nobody();
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    // With its init: the init dies with the outer process, and the namespace with the init.
    set_pdeathsig();
    execvp(command[0], command);
    int saved = errno;
    fprintf(stderr, "turnpike-sandbox: cannot run %s: %s\n", command[0], strerror(saved));
    exit(saved == ENOENT ? 127 : 126);
  }
  // The job's pipes are the skill's alone: its output ends when it and its children do.
  close(0);
  close(1);
  close(2);
  // PID 1: reaps what is orphaned in the namespace until the skill ends, then ends it.
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) exit(SETUP_EXIT);
    if (pid == skill) {
      ssize_t w = write(STATUS_FD, &status, sizeof status);
      exit(w == sizeof status ? 0 : SETUP_EXIT);
    }
  }
}

/* One close of the gateway at `socket_path` (the header comment): 0 once a connection is refused */
static int close_gateway(const char *socket_path) {
  static const char request[] = "POST /turnpike/agent-over HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) return 1;
  strcpy(addr.sun_path, socket_path);
  for (int attempt = 0; attempt < 1000; attempt++) {
    /* The gateway stops listening right after its answer: the first try again goes at once. */
    if (attempt > 1) usleep(10000);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      close(fd);
      return 0; /* refused, or no socket: nothing reaches the model API from here on */
    }
    /* Each attempt asks again: a connection the gateway's cap refused asked nothing. */
    size_t sent = 0;
    while (sent < sizeof request - 1) {
      /* MSG_NOSIGNAL: a connection the gateway closed first is an error here, not a SIGPIPE. */
      ssize_t n = send(fd, request + sent, sizeof request - 1 - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += (size_t)n;
    }
    /* The answer, until the gateway closes the connection (10 s at most). */
    char buf[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 10000) > 0 && read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }
  return 1;
}

/* One connection of the relay, in its own process: both directions through non-blocking sockets,
 * each shut down for writing when its source ends, both closed when either side fails. */
static void __attribute__((noreturn)) relay_connection(int client,
                                                       const struct sockaddr_un *addr) {
  int up = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (up < 0 || connect(up, (const struct sockaddr *)addr, sizeof *addr) != 0) _exit(0);
  struct {
    int from, to, done;
    size_t len, off;
    char buf[65536];
  } dir[2] = {{.from = client, .to = up}, {.from = up, .to = client}};
  for (int i = 0; i < 2; i++) fcntl(dir[i].from, F_SETFL, O_NONBLOCK);
  for (;;) {
    struct pollfd p[4];
    int n = 0, at[2][2] = {{-1, -1}, {-1, -1}};
    for (int i = 0; i < 2; i++) {
      if (dir[i].len > dir[i].off) {
        at[i][1] = n;
        p[n++] = (struct pollfd){.fd = dir[i].to, .events = POLLOUT};
      } else if (!dir[i].done) {
        at[i][0] = n;
        p[n++] = (struct pollfd){.fd = dir[i].from, .events = POLLIN};
      }
    }
    if (n == 0) _exit(0); /* both directions ended and delivered */
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    for (int i = 0; i < 2; i++) {
      if (at[i][0] >= 0 && p[at[i][0]].revents != 0) {
        ssize_t r = read(dir[i].from, dir[i].buf, sizeof dir[i].buf);
        if (r > 0) {
          dir[i].len = (size_t)r;
          dir[i].off = 0;
        } else if (r == 0) {
          dir[i].done = 1;
          shutdown(dir[i].to, SHUT_WR);
        } else if (errno != EAGAIN && errno != EINTR) {
          _exit(0);
        }
      }
      if (at[i][1] >= 0 && p[at[i][1]].revents != 0) {
        ssize_t w = send(dir[i].to, dir[i].buf + dir[i].off, dir[i].len - dir[i].off,
                         MSG_NOSIGNAL);
        if (w > 0) dir[i].off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR) _exit(0);
      }
    }
  }
}

/* The relay (the header comment): listens on 127.0.0.1:<port>, says `ready`, then gives each
 * connection a process of its own that relays it to the gateway's socket. */
static void __attribute__((noreturn)) relay_gateway(const char *port_text,
                                                    const char *socket_path) {
  char *end;
  long port = strtol(port_text, &end, 10);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (*end != 0 || port < 1 || port > 65535 || strlen(socket_path) >= sizeof addr.sun_path) {
    fail("usage: sandbox-init --relay-gateway <port 1-65535> <socket>");
  }
  strcpy(addr.sun_path, socket_path);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(listener, (struct sockaddr *)&in, sizeof in) != 0 || listen(listener, 128) != 0) {
    fail("cannot listen on 127.0.0.1:%ld: %s", port, strerror(errno));
  }
  signal(SIGCHLD, SIG_IGN); /* each connection's process is reaped by the kernel */
  puts("ready");
  fflush(stdout);
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      /* Out of descriptors or memory (the job's limits): a moment, then accept again. */
      usleep(10000);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(listener);
      relay_connection(client, &addr);
    }
    close(client); /* the child's now; or, without a process for it (the job's limit), refused */
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    puts(VERSION);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "--close-gateway") == 0) return close_gateway(argv[2]);
  if (argc == 4 && strcmp(argv[1], "--relay-gateway") == 0) relay_gateway(argv[2], argv[3]);

  int i = 1, user = 0, net = 0;
  long parent = -1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2] != 0; i++) {
    if (strcmp(argv[i], "--user") == 0) user = 1;
    else if (strcmp(argv[i], "--net") == 0) net = 1;
    else if (strncmp(argv[i], "--parent=", 9) == 0) parent = strtol(argv[i] + 9, NULL, 10);
    else fail("unknown option %s", argv[i]);
  }
  if (argc - i < 13 || strcmp(argv[i + 11], "--") != 0) {
    fail("usage: sandbox-init [--user] [--net] [--parent=<pid>] fstab root work gateway memcg "
         "pidscg nproc datakb fsizekb dropto wait -- command...");
  }
  char **pos = argv + i;
  // Dies with the provider (parent_death.ts); a provider gone already is seen by its pid.
  set_pdeathsig();
  if (parent > 0 && getppid() != parent) return SETUP_EXIT;
  unsigned uid = geteuid(), gid = getegid();
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (user) flags |= CLONE_NEWUSER;
  if (net) flags |= CLONE_NEWNET;
  if (unshare(flags) != 0) fail("unshare failed: %s", strerror(errno));
  if (user) map_ids(0, uid, gid);
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    fail("cannot make the mounts private: %s", strerror(errno));
  }
  // As unshare --fork: the outer process ignores SIGINT and SIGTERM while it waits.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  // alive: the init sees the outer process gone (the hang-up of its end) if it died before the
  // init asked to die with it; status: the skill's wait status, from the init.
  int alive[2], status_pipe[2];
  if (pipe2(alive, O_CLOEXEC) != 0 || pipe2(status_pipe, O_CLOEXEC) != 0) {
    fail("pipe: %s", strerror(errno));
  }
  pid_t me = getpid();
  pid_t child = fork();
  if (child < 0) fail("fork: %s", strerror(errno));
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    set_pdeathsig(); // --kill-child (getppid() reads 0 in the namespace: the pipe tells instead)
    close(alive[1]);
    struct pollfd gone = {alive[0], POLLIN, 0};
    if (poll(&gone, 1, 0) != 0) _exit(SETUP_EXIT);
    close(alive[0]);
    close(status_pipe[0]);
    if (status_pipe[1] != STATUS_FD) {
      if (dup3(status_pipe[1], STATUS_FD, O_CLOEXEC) < 0) fail("dup3: %s", strerror(errno));
      close(status_pipe[1]);
    }
    char **args = hide_arguments(argc, argv);
    job_init(args + (pos - argv), args + (pos - argv) + 12);
  }
  close(alive[0]);
  close(status_pipe[1]);
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid: %s", strerror(errno));
  }
  // The init ended on its own after the skill: the skill's status is the job's.
  int skill_status;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      read(status_pipe[0], &skill_status, sizeof skill_status) == sizeof skill_status) {
    status = skill_status;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    kill(me, sig);
    return 128 + sig;
  }
  return WEXITSTATUS(status);
}
