import { assert, assertEquals, assertRejects } from "../../../harness/assert.ts";
import {
  WorkerCrashedError,
  WorkerHost,
  WorkerTimeoutError,
} from "../../../transport/worker_host.ts";
import type { EchoRequest } from "../../support/echo_service_worker.ts";

const URL_ = new URL("../../support/echo_service_worker.ts", import.meta.url);

class TeapotError extends Error {
  override name = "TeapotError";
}

/** A hang guard, not a time limit: a broken host would otherwise leave the test waiting. */
function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no outcome in 60 s`)), 60_000);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function host(options: { name?: string; onCrash?: (e: WorkerCrashedError) => void } = {}) {
  return new WorkerHost<EchoRequest, unknown>({
    url: URL_,
    permissions: { read: [new URL("./", URL_)] },
    errors: { TeapotError },
    ...options,
  });
}

Deno.test("worker host: requests sent before ready are answered by id, in any number", async () => {
  const h = host();
  try {
    const answers = await guard(
      Promise.all(["a", "b", "c"].map((value) => h.request({ op: "echo", value }))),
      "answers",
    );
    assertEquals(answers, ["a", "b", "c"]);
    assert(h.isReady);
    assertEquals(h.pending, 0);
  } finally {
    h.terminate();
  }
});

Deno.test("worker host: a thrown error comes back as the caller's class; unknown ones by name", async () => {
  const h = host();
  try {
    const err = await guard(
      assertRejects(() => h.request({ op: "throw", value: "short and stout" }), TeapotError),
      "error",
    );
    assertEquals(err.message, "short and stout");
    // Reading outside its permission set: Deno's NotCapable, carried by name.
    const denied = await guard(
      h.request({ op: "read", value: "/etc/hostname" }).catch((e) => e),
      "read",
    );
    assert(denied instanceof Error);
    assertEquals(denied.name, "NotCapable");
    // And the worker still answers after both.
    assertEquals(await guard(h.request({ op: "echo", value: "still" }), "echo"), "still");
  } finally {
    h.terminate();
  }
});

Deno.test("worker host: a crash fails every pending request, is told once, and refuses later ones", async () => {
  const crashes: WorkerCrashedError[] = [];
  const h = host({ onCrash: (e) => crashes.push(e) });
  const hung = h.request({ op: "hang" });
  const crashed = h.request({ op: "crash" });
  await guard(assertRejects(() => hung, WorkerCrashedError, "crashed on purpose"), "hung");
  await guard(assertRejects(() => crashed, WorkerCrashedError), "crashed");
  assertEquals(crashes.length, 1);
  await assertRejects(() => h.request({ op: "echo" }), WorkerCrashedError);
});

Deno.test("worker host: a setup that throws is a crash before ready", async () => {
  const crashes: WorkerCrashedError[] = [];
  const h = host({ name: "fail-setup", onCrash: (e) => crashes.push(e) });
  const pending = h.request({ op: "echo", value: "never" });
  const err = await guard(assertRejects(() => h.ready, WorkerCrashedError), "ready");
  assertEquals(err.errorName, "TeapotError");
  await assertRejects(() => pending, WorkerCrashedError, "setup failed on purpose");
  assertEquals(crashes.length, 1);
});

Deno.test("worker host: an unanswered request times out; close waits for the others", async () => {
  const h = host();
  await guard(
    assertRejects(() => h.request({ op: "hang" }, { timeoutMs: 50 }), WorkerTimeoutError),
    "timeout",
  );
  const answered = h.request({ op: "echo", value: "before close" });
  const closed = h.close();
  await assertRejects(() => h.request({ op: "echo" }), WorkerCrashedError, "closed");
  assertEquals(await guard(answered, "answered"), "before close");
  await guard(closed, "closed");
  assert(h.failure instanceof WorkerCrashedError);
});

Deno.test("worker host: events go both ways", async () => {
  const heard = Promise.withResolvers<unknown>();
  const h = new WorkerHost<EchoRequest, unknown>({
    url: URL_,
    permissions: { read: [new URL("./", URL_)] },
    onEvent: (body) => heard.resolve(body),
  });
  try {
    h.post("ping");
    assertEquals(await guard(heard.promise, "event"), { heard: "ping" });
  } finally {
    h.terminate();
  }
});
