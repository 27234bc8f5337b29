/**
 * `job submit agent-task --quote`: what the task would cost, part by part, read from the
 * provider's 31990 (roles/agent_work/agent_task_quote.ts), printed before anything is posted or
 * paid; the command then exits 0 having posted nothing, paid nothing and started no node
 * (docs/AGENTS.md "What an agent task costs").
 *
 * @module
 */
import type { Command } from "commander";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { printJsonLine } from "./json_line.ts";
import { networkField, printNetworkLine } from "./network_line.ts";
import { loadRequesterConfig, type RequesterCliOptions } from "./job_read_command.ts";
import type { AgentTaskFlags } from "./agent_task_options.ts";
import { AGENT_TASK_KIND } from "../roles/agent_work/agent_task_wire.ts";
import { fetchProviderDirectory } from "../roles/requester/provider_directory.ts";
import {
  type AgentTaskQuote,
  AgentTaskQuoteError,
  quoteAgentTask,
} from "../roles/agent_work/agent_task_quote.ts";

/** `job submit`'s options the quote reads. */
export interface QuoteFlags extends RequesterCliOptions, AgentTaskFlags {
  bid?: string;
  quote?: boolean;
}

const usage = (message: string, suggestion?: string) =>
  new CliError(message, { exitCode: ExitCode.Usage, suggestion });

/**
 * Prints the quote of `job submit <kind> --quote` (agent-task only).
 *
 * It reads the providers' offers from a town, so it has no example that runs here:
 * tests/e2e/agent_task_bill_test.ts
 * @throws {CliError} `usage` for another kind, no preset, or no provider serving it.
 */
export async function printAgentTaskQuote(
  kindText: string,
  opts: QuoteFlags,
  cmd: Command,
): Promise<void> {
  if (kindText !== "agent-task" && kindText !== String(AGENT_TASK_KIND)) {
    throw usage("--quote is for agent-task");
  }
  if (opts.agent === undefined) {
    throw usage("agent-task needs --agent <preset>", "`turnpike providers` lists the presets");
  }
  const config = await loadRequesterConfig(opts, cmd);
  printNetworkLine(config.network);
  const directory = await fetchProviderDirectory({ relayUrl: config.relayUrl });
  const serving = directory.filter((p) =>
    (opts.provider === undefined || opts.provider.includes(p.pubkey)) &&
    (opts.provider !== undefined || p.online) &&
    p.skills.some((s) => s.kinds.includes(AGENT_TASK_KIND))
  );
  const provider =
    serving.find((p) => p.skills.some((s) => s.agents?.some((a) => a.name === opts.agent))) ??
      serving[0];
  if (provider === undefined) {
    throw usage("no provider online serves agent-task", "give --provider <hex>");
  }
  const skill = provider.skills.find((s) => s.kinds.includes(AGENT_TASK_KIND))!;
  let quote: AgentTaskQuote;
  try {
    quote = quoteAgentTask({
      skill,
      agent: opts.agent,
      budget: opts.budget === undefined ? undefined : BigInt(opts.budget),
    });
  } catch (err) {
    if (err instanceof AgentTaskQuoteError || err instanceof SyntaxError) {
      throw usage(err.message, "`turnpike providers --kind agent-task` lists the presets");
    }
    throw err;
  }
  const bid = opts.bid === undefined ? undefined : BigInt(opts.bid);
  const asset = { assetCode: provider.assetCode, assetScale: provider.assetScale };
  if (opts.output === "json") {
    printJsonLine("quote", {
      provider: provider.pubkey,
      ...asset,
      ...quoteFields(quote),
      ...(bid === undefined ? {} : { bid: String(bid), withinBid: quote.most <= bid }),
      posted: false,
      network: networkField(config.network),
    });
    return;
  }
  for (const line of quoteText(quote, provider.name, provider.assetCode ?? "")) console.log(line);
  if (bid !== undefined && quote.most > bid) {
    console.log(`  your bid ${bid} is below the most it can cost: the provider may refuse it`);
  }
  console.log("nothing posted, nothing paid");
}

/** The quote's JSON fields: amounts as decimal strings. */
function quoteFields(q: AgentTaskQuote): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) out[k] = typeof v === "bigint" ? String(v) : v;
  return out;
}

/** The quote in lines of text. */
function quoteText(q: AgentTaskQuote, name: string, asset: string): string[] {
  const unit = asset === "" ? "" : ` ${asset} base units`;
  const model = q.model === undefined
    ? "  model         its token prices not announced; paid by the provider out of the price"
    : `  model         ${q.model.inputPerMillion} per million input tokens, ` +
      `${q.model.outputPerMillion} per million output, paid by the provider out of the price`;
  return [
    `agent-task quote from ${name}, preset ${q.agent}${unit}:`,
    `  price         ${q.price} (skill ${q.skillPrice} + preset ${q.presetPrice})`,
    `  deposit       ${q.deposit} (price share ${q.deposit - q.depositWrites} + its write ` +
    `${q.depositWrites}), paid before the agent runs`,
    `  delivery      ${q.deliveryShare} + the writes the result makes (at most ` +
    `${q.writesReserved} reserved, an unused reserve never charged), paid with the result`,
    `  most          ${q.most}`,
    model,
    `  model budget  ${q.modelBudget}, within the price`,
  ];
}
