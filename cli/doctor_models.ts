/**
 * `turnpike doctor`'s model preset checks: each `[models.<name>]` of the profile's config
 * (config/model_presets.ts) is asked for its model list (`GET /v1/models`, with the preset's key
 * as a call would carry it), so an operator learns a wrong URL, key or server before a job does.
 * Ok when it answers 2xx, a failure otherwise (docs/OPERATIONS.md "Model presets").
 *
 * @module
 */
import type { LoadedSettings } from "../config/settings.ts";
import { type ModelPreset, parseModelPresets } from "../config/model_presets.ts";
import type { DoctorCheck } from "./doctor_command.ts";

/**
 * One check per model preset (none without `[models]`); a config that does not parse is one
 * failed check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelPresetChecks } from "./doctor_models.ts";
 * import { loadSettings } from "../config/settings.ts";
 *
 * const stateDir = await Deno.makeTempDir(); // a profile with no [models] preset: nothing to check
 * const checks = await modelPresetChecks(await loadSettings({ flags: { stateDir } }), 2000);
 * assert.deepEqual(checks, []);
 * await Deno.remove(stateDir, { recursive: true });
 * ```
 */
export async function modelPresetChecks(
  loaded: LoadedSettings,
  timeoutMs: number,
): Promise<DoctorCheck[]> {
  let presets: Record<string, ModelPreset>;
  try {
    presets = parseModelPresets(loaded.sections.models);
  } catch (err) {
    return [{ name: "model presets", status: "fail", detail: (err as Error).message }];
  }
  return await Promise.all(Object.values(presets).map((p) => reach(p, timeoutMs)));
}

async function reach(preset: ModelPreset, timeoutMs: number): Promise<DoctorCheck> {
  const name = `model ${preset.name}`;
  const url = `${preset.upstream}/v1/models`;
  const headers = new Headers(preset.headers);
  if (preset.apiKey !== "") {
    if (preset.api === "anthropic") headers.set("x-api-key", preset.apiKey);
    else headers.set("authorization", `Bearer ${preset.apiKey}`);
  }
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok
      ? { name, status: "ok", detail: `${url} answered ${res.status} (${preset.api} shape)` }
      : { name, status: "fail", detail: `${url} answered ${res.status}: check its key and URL` };
  } catch (err) {
    return { name, status: "fail", detail: `${url} does not answer: ${(err as Error).message}` };
  }
}
