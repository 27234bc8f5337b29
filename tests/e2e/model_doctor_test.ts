/**
 * `turnpike doctor` reaches each model preset's upstream (cli/doctor_models.ts): a stand-in
 * OpenAI-compatible server (harness/stand_in_model_api.ts, a mock: no real model runs
 * here) answers the preset with the right key, refuses the one with a wrong key, and a dead port
 * does not answer.
 */
import { assertEquals, assertStringIncludes } from "../../harness/assert.ts";
import { runCli } from "../../harness/run_cli.ts";
import { deadPort } from "../support/dead_port.ts";
import { withTempDir } from "../support/temp_dir.ts";
import { startStandInModelApi } from "../../harness/stand_in_model_api.ts";
import type { DoctorCheck } from "../../cli/doctor_command.ts";

Deno.test("doctor: each model preset's upstream is reached with its key: ok when it answers, a failure for a wrong key or a server that does not answer", async () => {
  await using api = await startStandInModelApi({ apiKey: "sk-doctor" });
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      [
        `role = "provider"`,
        `[models.good]`,
        `upstream = "${api.url}"`,
        `api_key_env = "DOCTOR_MODEL_KEY"`,
        `[models.wrongkey]`,
        `upstream = "${api.url}/v1"`,
        `api = "responses"`,
        `api_key_env = "DOCTOR_OTHER_KEY"`,
        `[models.down]`,
        `upstream = "http://127.0.0.1:${deadPort()}"`,
      ].join("\n") + "\n",
    );
    const out = await runCli(["--state-dir", dir, "--output", "json", "doctor"], {
      env: { DOCTOR_MODEL_KEY: "sk-doctor", DOCTOR_OTHER_KEY: "sk-wrong" },
    });
    const checks = new Map(
      (JSON.parse(out.stdout).checks as DoctorCheck[]).map((c) => [c.name, c]),
    );
    assertEquals(checks.get("model good")?.status, "ok", out.stdout);
    assertStringIncludes(checks.get("model good")!.detail, `${api.url}/v1/models answered 200`);
    assertEquals(checks.get("model wrongkey")?.status, "fail");
    assertStringIncludes(checks.get("model wrongkey")!.detail, "answered 401");
    assertEquals(checks.get("model down")?.status, "fail");
    assertStringIncludes(checks.get("model down")!.detail, "does not answer");
    assertEquals(out.code, 1);
    // The stand-in saw each key as a call would carry it.
    const auth = api.seen.map((r) => r.headers.authorization).sort();
    assertEquals(auth, ["Bearer sk-doctor", "Bearer sk-wrong"]);
  });
});
