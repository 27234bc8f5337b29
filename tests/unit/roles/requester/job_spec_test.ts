import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  JobSpecError,
  jobSpecFromJson,
  jobSpecToJson,
  parseThenSpec,
  resolveJobKind,
} from "../../../../roles/requester/job_spec.ts";
import { UnknownJobKindError } from "../../../../protocol/job_kind_names.ts";

const defaults = { skill: "none", timeoutMs: 300_000, providers: [] };

Deno.test("resolveJobKind: numbers and documented names; unknown names and ranges refused", () => {
  assertEquals(resolveJobKind("ci-run"), 5600);
  assertEquals(resolveJobKind("echo"), 5601);
  assertEquals(resolveJobKind("5100"), 5100);
  assertThrows(() => resolveJobKind("no-such-kind"), UnknownJobKindError);
  assertThrows(() => resolveJobKind("6000"), JobSpecError, "not 5000-5999");
});

Deno.test("parseThenSpec: kind, bid, skill, param, timeout; bad parts named", () => {
  const spec = parseThenSpec(
    "echo,bid=500,skill=notify,param=cmd=sh test.sh,timeout=2.5",
    defaults,
  );
  assertEquals(spec.kind, 5601);
  assertEquals(spec.bid, 500n);
  assertEquals(spec.skill, "notify");
  assertEquals(spec.params, [{ name: "cmd", values: ["sh test.sh"] }]);
  assertEquals(spec.timeoutMs, 2500);
  assertThrows(() => parseThenSpec("echo,bid=-1", defaults), JobSpecError, "bid");
  assertThrows(
    () => parseThenSpec("echo,colour=red", defaults),
    JobSpecError,
    "unknown --then key",
  );
  assertThrows(() => parseThenSpec("echo,skill=../x", defaults), JobSpecError, "skill");
  assertThrows(() => parseThenSpec("", defaults), JobSpecError);
});

Deno.test("job spec JSON round trip (chains included); bad JSON refused", () => {
  const spec = parseThenSpec("ci-run,bid=5000", defaults);
  spec.then = [parseThenSpec("echo", defaults)];
  assertEquals(jobSpecFromJson(JSON.parse(JSON.stringify(jobSpecToJson(spec)))), spec);
  assertThrows(() => jobSpecFromJson({ kind: 1 }), JobSpecError);
  assertThrows(() => jobSpecFromJson("x"), JobSpecError);
});

Deno.test("job spec JSON round trip keeps a Gas Town worker (the sidecar a restarted node reads); a malformed one is refused", () => {
  const spec = parseThenSpec("echo", defaults);
  spec.worker = { address: "myrig/polecats/p1", rotation: 2 };
  assertEquals(jobSpecFromJson(JSON.parse(JSON.stringify(jobSpecToJson(spec)))), spec);
  const json = jobSpecToJson(spec) as Record<string, unknown>;
  assertThrows(
    () => jobSpecFromJson({ ...json, worker: { address: "myrig/polecats/p1", rotation: -1 } }),
    JobSpecError,
    "worker",
  );
  assertThrows(() => jobSpecFromJson({ ...json, worker: "p1" }), JobSpecError, "worker");
});
