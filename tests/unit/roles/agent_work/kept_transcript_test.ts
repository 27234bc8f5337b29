/**
 * Every ended agent-task keeps its transcript on the provider
 * (roles/agent_work/provider/kept_transcript.ts, docs/SKILLS.md "agent-task"), on real files: what
 * a job left in `out/agent.log`, what a job cut off by a crash left (read at the restart), and
 * never a link the job's code made to a host file.
 */
import { assertEquals } from "../../../../harness/assert.ts";
import {
  keepLeftTranscript,
  keepTranscript,
  readKeptTranscript,
} from "../../../../roles/agent_work/provider/kept_transcript.ts";

Deno.test("kept transcript: an ended job's agent log is kept, mode 0600, and read back by job id", async () => {
  const state = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${state}/work/job-1/out`, { recursive: true });
    const line = '{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash"}]}}\n';
    await Deno.writeTextFile(`${state}/work/job-1/out/agent.log`, line);
    const dir = `${state}/agent-transcripts`;
    const kept = await keepTranscript({
      dir,
      jobId: "job-1",
      log: `${state}/work/job-1/out/agent.log`,
    });
    assertEquals(kept?.path, `${dir}/job-1.log`);
    assertEquals([kept?.bytes, kept?.totalBytes, kept?.truncated], [
      line.length,
      line.length,
      false,
    ]);
    assertEquals((await Deno.stat(`${dir}/job-1.log`)).mode! & 0o777, 0o600);
    assertEquals(await readKeptTranscript(dir, "job-1"), line);
    assertEquals(await readKeptTranscript(dir, "../job-1"), undefined);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("kept transcript: a job cut off by a crash keeps what its agent wrote; a link to a host file is not followed", async () => {
  const state = await Deno.makeTempDir();
  try {
    const secret = `${state}/host-secret`;
    await Deno.writeTextFile(secret, "the provider's own file\n");
    await Deno.mkdir(`${state}/work/crashed/out`, { recursive: true });
    await Deno.writeTextFile(`${state}/work/crashed/out/agent.log`, "halfway\n");
    await Deno.mkdir(`${state}/work/linked/out`, { recursive: true });
    await Deno.symlink(secret, `${state}/work/linked/out/agent.log`);
    assertEquals((await keepLeftTranscript(state, "crashed"))?.bytes, 8);
    assertEquals(await readKeptTranscript(`${state}/agent-transcripts`, "crashed"), "halfway\n");
    assertEquals(await keepLeftTranscript(state, "linked"), undefined);
    assertEquals(await readKeptTranscript(`${state}/agent-transcripts`, "linked"), undefined);
    assertEquals(await keepLeftTranscript(state, "never-ran"), undefined);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});
