/**
 * A config.toml's settings as the roles' resolvers take them: the text written into a fresh state
 * dir and read back by config/settings.ts `loadSettings` (no environment), the dir removed after.
 */
import { type LoadedSettings, loadSettings } from "../../config/settings.ts";
import { ConfigError } from "../../config/config_error.ts";

/** `loadSettings` of a state dir whose config.toml is `toml`. */
export async function loadedFromToml(toml: string): Promise<LoadedSettings> {
  const dir = await Deno.makeTempDir({ prefix: "config_file_" });
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, toml);
    return await loadSettings({ flags: { stateDir: dir }, env: () => undefined });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The `ConfigError` a resolution refused with; throws naming `what` when it resolved or threw another. */
export async function configErrorOf(
  resolving: Promise<unknown>,
  what: string,
): Promise<ConfigError> {
  const err = await resolving.then(() => undefined, (e: unknown) => e);
  if (err instanceof ConfigError) return err;
  throw new Error(`${what}: ${err === undefined ? "accepted" : String(err)}`);
}
