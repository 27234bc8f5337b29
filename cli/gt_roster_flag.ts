/**
 * The Mayor's roster as a filter (docs/AGENTS.md "Gas Town workers"): `providers --roster` lists
 * only the providers on the profile's roster (the `p` tags of its newest kind 3 on its towns),
 * and `job submit --provider roster` picks only among them.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import { readWalletFile, walletFilePath } from "../identity/wallet_file.ts";
import { kindOfSkill, type ProviderListing } from "../roles/requester/provider_directory.ts";
import { resolveJobKind } from "../roles/requester/job_spec.ts";
import { AGENT_TASK_KIND } from "../roles/agent_work/agent_task_wire.ts";
import { readRoster } from "../roles/requester/worker_lookup.ts";

/** Options for {@linkcode onRoster}. */
export interface OnRosterOptions {
  /** The profile's state dir: its wallet names the Mayor. */
  stateDir: string;
  /** The towns the roster is read from. */
  relays: string[];
}

/**
 * `directory` less the providers not on the profile's roster.
 *
 * It reads the roster from a town, so it has no example that runs here:
 * tests/e2e/gastown_worker_keys_test.ts
 * @throws {CliError} when the profile has no roster on its towns.
 */
export async function onRoster(
  directory: readonly ProviderListing[],
  o: OnRosterOptions,
): Promise<ProviderListing[]> {
  const mayor = (await readWalletFile(walletFilePath(o.stateDir))).pubkey;
  const roster = new Set(await readRoster(o.relays, mayor));
  if (roster.size === 0) {
    throw new CliError("the profile has no roster on its towns", {
      code: "no-provider",
      fields: { kind: null, offline: [] },
      suggestion: "`turnpike gt roster add <npub>` publishes one",
    });
  }
  return directory.filter((p) => roster.has(p.pubkey));
}

/**
 * `job submit --provider roster`: the directory cut to the roster, and the `--provider` list
 * that goes with it (none for an agent task, which picks one provider from the directory; the
 * roster's providers in the directory for another kind).
 *
 * It reads the roster and the providers from a town, so it has no example that runs here:
 * tests/e2e/gastown_worker_keys_test.ts
 * @throws {CliError} when the profile has no roster on its towns.
 */
export async function rosterProviders(
  kindText: string,
  directory: readonly ProviderListing[],
  o: OnRosterOptions,
): Promise<{ directory: ProviderListing[]; provider?: string[] }> {
  const trusted = await onRoster(directory, o);
  let kind: number | undefined;
  try {
    kind = resolveJobKind(kindText, (name) => kindOfSkill(directory, name));
  } catch {
    kind = undefined; // reported by `job submit` as it reports any unknown kind
  }
  return {
    directory: trusted,
    provider: kind === AGENT_TASK_KIND ? undefined : trusted.map((p) => p.pubkey),
  };
}
