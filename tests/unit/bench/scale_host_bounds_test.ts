/** The requester hosts' bounds over a scale run: one series per host, one sample a second. */
import { assertEquals } from "../../../harness/assert.ts";
import { HostBoundRecorder, hostBoundsCell } from "../../../bench/scale_host_bounds.ts";

Deno.test("host bound recorder: each host's bound, jobs held and median each second, null while it is down", () => {
  const rec = new HostBoundRecorder(2);
  rec.sample([{ max: 16, held: 16 }, { max: 16, held: 2 }]);
  rec.sample([{ max: 8, held: 8, medianMs: 4100.4 }, undefined]);
  rec.sample([{ max: 6, held: 5, medianMs: 2600 }, { max: 16, held: 0 }]);
  assertEquals(rec.series(), [
    {
      host: 0,
      boundPerS: [16, 8, 6],
      heldPerS: [16, 8, 5],
      medianMsPerS: [null, 4100, 2600],
    },
    {
      host: 1,
      boundPerS: [16, null, 16],
      heldPerS: [2, null, 0],
      medianMsPerS: [null, null, null],
    },
  ]);
  assertEquals(
    hostBoundsCell(rec.series()),
    "host 0: 16, least 6, most 16, last 6; host 1: 16, least 16, most 16, last 16",
  );
});

Deno.test("host bounds cell: a host that never said a bound is left out; none at all is a dash", () => {
  const silent = { host: 0, boundPerS: [null], heldPerS: [null], medianMsPerS: [null] };
  assertEquals(hostBoundsCell([silent]), "-");
  assertEquals(hostBoundsCell([]), "-");
});
