/**
 * Importing a module only when a command gets to it. `deno run` reads and parses every module
 * it can name from the source before the program starts, a dynamic `import("./x.ts")` included
 * (and does the same for a module imported later); a module whose URL is only known when the
 * import runs is read then. So a command that names its other commands' code that way loads none
 * of it (docs/SCALE.md "A command's start"). The type is given with `typeof import(...)`, which
 * costs nothing at run time and keeps the call checked.
 *
 * @module
 */

/**
 * Imports the module at `url` when called (a URL made with `new URL("./x.ts", import.meta.url)`).
 *
 * @example
 * ```ts
 * import { lazyImport } from "./lazy_import.ts";
 *
 * const { createRootCommand } = await lazyImport<typeof import("./root_command.ts")>(
 *   new URL("./root_command.ts", import.meta.url),
 * );
 * createRootCommand();
 * ```
 */
export function lazyImport<T>(url: URL): Promise<T> {
  return import(url.href) as Promise<T>;
}
