/**
 * A new skill's folder, ready to run: a SKILL.md with every field at its default and a Deno
 * `run` that decodes the job (TOON) and counts the words of its text input. It imports the TOON
 * module from where the sandbox provides it (SANDBOX_TOON_MODULE) and runs with `--no-config`, so
 * it works from any folder, with no project and no network: copied into a skills dir that lies
 * inside a Deno project (the repository's `skills/`), it does not load that project's deno.json
 * and npm packages, which `--cached-only` could not fetch. The manifest's limits are the
 * documented defaults (docs/SKILLS.md: memory 256 MiB, disk 1024 MiB).
 *
 * @module
 */
import { RoleError } from "../../role_error.ts";
import { SANDBOX_TOON_MODULE } from "../sandbox/sandbox_mounts.ts";

/** Options for {@linkcode writeSkillScaffold}. */
export interface SkillScaffoldOptions {
  /** The skill's name ([a-z0-9-], at most 64). */
  name: string;
  /** Where its folder is created (made, with its parents, when missing). */
  parentDir: string;
  /** The job request kind it serves. */
  kind: number;
}

/** The folder exists already, or the name is not a skill name. */
export class SkillScaffoldError extends RoleError {
  override name = "SkillScaffoldError";
}

/**
 * Writes `<parentDir>/<name>/{SKILL.md,run}` and returns the folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSkillManifest } from "./skill_manifest.ts";
 * import { writeSkillScaffold } from "./skill_scaffold.ts";
 *
 * const parentDir = await Deno.makeTempDir();
 * const dir = await writeSkillScaffold({ name: "wordcount", parentDir, kind: 5700 });
 * const manifest = parseSkillManifest(await Deno.readTextFile(`${dir}/SKILL.md`));
 * assert.deepEqual([manifest.name, manifest.kinds], ["wordcount", [5700]]);
 * assert((await Deno.stat(`${dir}/run`)).mode! & 0o100);
 * await Deno.remove(parentDir, { recursive: true });
 * ```
 * @throws {SkillScaffoldError} for a bad name or an existing folder.
 */
export async function writeSkillScaffold(o: SkillScaffoldOptions): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(o.name)) {
    throw new SkillScaffoldError(`"${o.name}" is not a skill name ([a-z0-9-], at most 64)`);
  }
  const parent = o.parentDir.replace(/\/+$/, "") || "/";
  try {
    await Deno.mkdir(parent, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new SkillScaffoldError(`cannot create ${parent}: ${(err as Error).message}`);
  }
  const dir = `${parent}/${o.name}`;
  try {
    await Deno.mkdir(dir, { recursive: false, mode: 0o755 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new SkillScaffoldError(`${dir} exists already`);
    }
    throw err;
  }
  await Deno.writeTextFile(`${dir}/SKILL.md`, manifestText(o));
  await Deno.writeTextFile(`${dir}/run`, RUN, { mode: 0o755 });
  // The mode is filtered by the umask; the sandbox user must be able to run it.
  await Deno.chmod(`${dir}/run`, 0o755);
  return await Deno.realPath(dir);
}

function manifestText(o: SkillScaffoldOptions): string {
  return `---
name: ${o.name}
description: Counts the words of the job's text input (change this to what your skill does).
metadata:
  kinds: [${o.kind}]
  price: 100
  timeout: 30
  memory: 256
  disk: 1024
  idempotent: true
  result_bytes: 1024
  output_mib: 0
  output_files: 0
  required_params: []
  permissions:
    network: false
    read: []
    write: []
---

# ${o.name}

- Input: the job request (kind ${o.kind}) as TOON on stdin; the text of its first \`i\` tag.
- Output: \`<n> words\` on stdout.
- Exit codes: 0 ok, 2 bad input.

Try it: \`turnpike skill test . --input "text:three little words"\`. Serve it: put this folder in
a provider's skills dir. The contract is docs/SKILLS.md of turnpike.
`;
}

const RUN = `#!/usr/bin/env -S deno run --quiet --no-prompt --no-lock --no-config --cached-only
// A turnpike skill. stdin: the job (TOON); stdout: the result; exit 2: bad input.
// The sandbox provides the TOON module at this path (no project, no network needed);
// --no-config: a deno.json above the skills dir is not this skill's (its npm packages would not
// be in the sandbox's cache).
import { decode } from "${SANDBOX_TOON_MODULE}";

const event = decode(await new Response(Deno.stdin.readable).text()) as { tags?: unknown };
const tags = Array.isArray(event.tags) ? (event.tags as unknown[][]) : [];
const input = tags.find((t) => Array.isArray(t) && t[0] === "i");
if (input === undefined || typeof input[1] !== "string") {
  console.error("bad input: the job has no text input (an i tag)");
  Deno.exit(2);
}
const words = input[1].split(/\\s+/).filter((w) => w !== "").length;
console.error(\`counted \${words} words\`);
await Deno.stdout.write(new TextEncoder().encode(\`\${words} words\\n\`));
`;
