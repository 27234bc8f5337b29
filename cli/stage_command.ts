/**
 * `turnpike stage <name> [--flag value...]`: runs one stage alone on stdin/stdout in the record
 * framing (TOON records separated by a blank line, or JSON lines), so fixtures can be piped
 * through one stage or a chain of them:
 *
 *     cat fixtures/corpus.toon | turnpike stage kind-extractor
 *
 * @module
 */
import type { Command } from "commander";
import { loadStage, stageNames, UnknownStageError } from "../stages/stage_registry.ts";
import { parseStageFlags, runStageAlone } from "../stages/stage_runner.ts";
import { StageOptionsError } from "../stages/stage.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";

/**
 * Adds `stage <name>` to the program.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * registerStageCommand(new Command("turnpike"));
 * ```
 */
export function registerStageCommand(program: Command): void {
  program
    .command("stage")
    .description("run one pipeline stage alone on stdin/stdout (see docs/PROTOCOL.md framing)")
    .argument("<name>", "stage name, e.g. kind-extractor")
    .argument("[flags...]", "the stage's own flags, e.g. --relay ws://127.0.0.1:7100")
    .allowUnknownOption()
    .helpOption(false)
    .addHelpText(
      "after",
      `\nStages: ${stageNames().join(", ")} (\`turnpike stage list\` describes them)`,
    )
    .action(async (name: string, flags: string[]) => {
      if (name === "list") return console.log(await stageListText());
      await runNamedStage(name, flags);
    });
}

async function stageListText(): Promise<string> {
  const stages = await Promise.all(stageNames().map((name) => loadStage(name)));
  return stages.map((s) => `${s.name.padEnd(18)} ${s.role.padEnd(10)} ${s.description}`).join("\n");
}

async function runNamedStage(name: string, args: string[]): Promise<void> {
  try {
    const stage = await loadStage(name);
    await runStageAlone(stage, { flags: parseStageFlags(args) });
  } catch (err) {
    if (err instanceof UnknownStageError) {
      throw new CliError(err.message, {
        suggestion: "run `turnpike stage list` for the stage names",
        exitCode: ExitCode.Usage,
      });
    }
    if (err instanceof StageOptionsError) {
      throw new CliError(err.message, { context: `stage ${name}`, exitCode: ExitCode.Usage });
    }
    throw new CliError((err as Error).message, {
      context: `stage ${name}, ${(err as Error).name}`,
      cause: err,
    });
  }
}
