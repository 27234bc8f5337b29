// A job that holds memory where no process's RSS shows it (tests/unit/roles/provider/sandbox_hidden_memory_test.ts).
// argv: the trick (memfd, sysv, sysv-kept, socket) and the MiB to hold; prints "held", then waits 30 s.
const [trick, mibText] = Deno.args;
const mib = Number(mibText);
const libc = Deno.dlopen("libc.so.6", {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shmget: { parameters: ["i32", "usize", "i32"], result: "i32" },
  shmat: { parameters: ["i32", "pointer", "i32"], result: "pointer" },
  shmdt: { parameters: ["pointer"], result: "i32" },
  shmctl: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
});
const f = libc.symbols;
const MiB = 1 << 20;
const chunk = new Uint8Array(MiB).fill(1);
if (trick === "memfd") {
  const fd = f.memfd_create(new TextEncoder().encode("hog\0"), 0);
  if (fd < 0) throw new Error("memfd_create failed");
  for (let i = 0; i < mib; i++) {
    if (f.write(fd, chunk, MiB) !== BigInt(MiB)) throw new Error(`write ${i} failed`);
  }
} else if (trick === "sysv") {
  const ids = [];
  const size = 16 * MiB;
  for (let i = 0; i < mib / 16; i++) {
    const id = f.shmget(0, BigInt(size), 0o1000 | 0o600); // IPC_PRIVATE, IPC_CREAT
    if (id < 0) throw new Error(`shmget ${i} failed`);
    const at = f.shmat(id, null, 0);
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(at, size)).fill(1);
    f.shmdt(at);
    ids.push(id);
  }
  const stat = new Uint8Array(256);
  for (const id of ids) {
    if (f.shmctl(id, 2, stat) < 0) throw new Error(`segment ${id} is gone once detached`);
  }
} else if (trick === "sysv-kept") {
  // Segments of 16 MiB, each mapped twice and filled through one mapping, which then goes: the
  // other keeps the segment but maps none of its pages (no RSS shows more than one at a time).
  const size = 16 * MiB;
  for (let i = 0; i < mib / 16; i++) {
    const id = f.shmget(0, BigInt(size), 0o1000 | 0o600);
    if (id < 0) throw new Error(`shmget ${i} failed`);
    const kept = f.shmat(id, null, 0);
    const filled = f.shmat(id, null, 0);
    if (kept === null || filled === null) throw new Error(`shmat ${i} failed`);
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(filled, size)).fill(1);
    f.shmdt(filled);
  }
} else if (trick === "socket") {
  const held = mib * MiB;
  let queued = 0;
  const big = new Int32Array([4 * MiB]);
  while (queued < held) {
    const sv = new Int32Array(2);
    if (f.socketpair(1, 1, 0, new Uint8Array(sv.buffer)) < 0) throw new Error("socketpair failed");
    f.setsockopt(sv[0], 1, 7, new Uint8Array(big.buffer), 4); // SOL_SOCKET, SO_SNDBUF
    for (;;) {
      const n = Number(f.send(sv[0], chunk, 65536, 0x40)); // MSG_DONTWAIT
      if (n <= 0) break;
      queued += n;
    }
  }
} else throw new Error(`unknown trick ${trick}`);
console.log(`held ${mib} MiB by ${trick}`);
await new Promise((r) => setTimeout(r, 30_000));
console.log("survived");
