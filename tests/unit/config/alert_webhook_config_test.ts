/** The alert webhook's one precedence: flag, then a non-empty environment variable, then config. */
import { assertEquals, assertThrows } from "../../../harness/assert.ts";
import { loadSettings } from "../../../config/settings.ts";
import { resolveAlertWebhook } from "../../../config/alert_webhook.ts";
import { ConfigError } from "../../../config/config_error.ts";

async function withConfig(toml: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "alert_webhook_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("alert webhook: flag over environment over [alerts] webhook; empty env ignored", async () => {
  await withConfig('[alerts]\nwebhook = "http://file.example/hook"\n', async (dir) => {
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: env({}) });
    const resolve = (flag: string | undefined, vars: Record<string, string>) =>
      resolveAlertWebhook({ loaded, flag, env: env(vars) });
    assertEquals(resolve(undefined, {}), "http://file.example/hook");
    assertEquals(resolve(undefined, { TURNPIKE_ALERT_WEBHOOK: "" }), "http://file.example/hook");
    assertEquals(
      resolve(undefined, { TURNPIKE_ALERT_WEBHOOK: "http://env.example/hook" }),
      "http://env.example/hook",
    );
    assertEquals(
      resolve("http://flag.example/hook", { TURNPIKE_ALERT_WEBHOOK: "http://env.example/hook" }),
      "http://flag.example/hook",
    );
  });
});

Deno.test("alert webhook: none set is none; a non-string in config is a ConfigError", async () => {
  await withConfig("", async (dir) => {
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: env({}) });
    assertEquals(resolveAlertWebhook({ loaded, env: env({}) }), undefined);
  });
  await withConfig("[alerts]\nwebhook = 42\n", async (dir) => {
    const loaded = await loadSettings({ flags: { stateDir: dir }, env: env({}) });
    assertThrows(
      () => resolveAlertWebhook({ loaded, env: env({}) }),
      ConfigError,
      "[alerts] webhook must be a URL string",
    );
  });
});
