/**
 * The project's source modules, read for the tests that scan them (module sizes, error classes,
 * the CLI's error tables): the folders of docs/ARCHITECTURE.md "Layers", walked once per call.
 *
 * @module
 */

/** The source folders, lowest layer first. */
export const SOURCE_FOLDERS: readonly string[] = [
  "protocol",
  "transport",
  "state",
  "config",
  "identity",
  "chain",
  "stages",
  "pipeline",
  "roles",
  "cli",
];

const root = new URL("../../", import.meta.url).pathname;

/**
 * Every file under `folders` (relative to the repository, `node_modules` skipped) whose name
 * matches `name`, with its text, keyed by its path (`roles/town/town_node.ts`).
 *
 * @example
 * ```ts
 * import { sourceFiles } from "./source_files.ts";
 *
 * const cli = await sourceFiles(["cli"]);
 * console.log(cli.has("cli/cli_error.ts")); // true
 * ```
 */
export async function sourceFiles(
  folders: readonly string[] = SOURCE_FOLDERS,
  name: RegExp = /\.ts$/,
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "node_modules") await walk(path);
      else if (name.test(entry.name)) files.set(path, await Deno.readTextFile(`${root}${path}`));
    }
  };
  for (const folder of folders) await walk(folder);
  return files;
}
