/**
 * The `[[towns]]` form of the more towns of config.toml (docs/OPERATIONS.md, "Several towns"):
 * an array of tables, each with an optional `name`, read as the `[towns.<name>]` tables it
 * stands for (config/town_list.ts), so both spellings mean the same:
 *
 * ```toml
 * [[towns]]
 * name = "b"                            # optional: else its place, "town-1", "town-2", ...
 * relay_url = "ws://127.0.0.1:7200"
 * ```
 *
 * @module
 */
import { ConfigError } from "./config_error.ts";

// A letter first: an integer-like key would be put first in a JS object, out of the file's order.
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * The `[[towns]]` entries as a table of tables by name (`name` taken out of each).
 *
 * @example
 * ```ts
 * townArrayAsTable([{ name: "b", relay_url: "ws://127.0.0.1:7200" }, { relay_url: "ws://c" }]);
 * // { b: { relay_url: "ws://127.0.0.1:7200" }, "town-2": { relay_url: "ws://c" } }
 * ```
 * @throws {ConfigError} for an entry that is not a table, a bad or repeated name.
 */
export function townArrayAsTable(entries: readonly unknown[]): Record<string, unknown> {
  const table: Record<string, unknown> = Object.create(null);
  entries.forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError(`[[towns]] entry ${i + 1} must be a table (relay_url, ...)`);
    }
    const { name = `town-${i + 1}`, ...rest } = entry as Record<string, unknown>;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new ConfigError(
        `[[towns]] entry ${
          i + 1
        }: name must be a letter, then letters, digits, "_" or "-" (at most 64)`,
      );
    }
    if (name in table) throw new ConfigError(`[[towns]] names "${name}" twice`);
    table[name] = Object.assign(Object.create(null), rest);
  });
  return table;
}
