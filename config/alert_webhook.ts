/**
 * Where a node posts its alerts (roles/node_alerts.ts): `--alert-webhook`, else
 * `TURNPIKE_ALERT_WEBHOOK`, else `[alerts] webhook` in config.toml, the one precedence of
 * `roleSettingPicker`. Every role resolves it here.
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";
import { type LoadedSettings, roleSettingPicker } from "./settings.ts";
import type { EnvReader } from "./state_dir.ts";

/** Options for {@linkcode resolveAlertWebhook}. */
export interface AlertWebhookOptions {
  loaded: LoadedSettings;
  /** `--alert-webhook`, when given. */
  flag?: string;
  /** Reads the environment; default `Deno.env.get`. */
  env?: EnvReader;
}

/**
 * The alert webhook URL, or undefined when none is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAlertWebhook } from "./alert_webhook.ts";
 * import { loadSettings } from "./settings.ts";
 *
 * const env = () => undefined; // no TURNPIKE_ALERT_WEBHOOK
 * const loaded = await loadSettings({ readFile: false, flags: { stateDir: "/srv/turnpike" }, env });
 * const webhook = resolveAlertWebhook({ loaded, flag: "https://hooks.example/t", env });
 * assert.equal(webhook, "https://hooks.example/t");
 * ```
 * @throws {ConfigError} when `[alerts] webhook` is not a non-empty string.
 */
export function resolveAlertWebhook(options: AlertWebhookOptions): string | undefined {
  const pick = roleSettingPicker(options.loaded, "alerts", options.env);
  const value = pick(options.flag, "TURNPIKE_ALERT_WEBHOOK", "webhook");
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new ConfigError("[alerts] webhook must be a URL string", { key: "alertWebhook" });
  }
  return value;
}
