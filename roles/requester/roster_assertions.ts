/**
 * The trust assertions a profile reads (docs/PROTOCOL.md "Trust assertions (NIP-85)"): its roster
 * from the towns (the `p` tags of its newest kind 3, worker_lookup.ts), the roster keys' rank
 * services (their newest NIP-85 kind 10040, protocol/trust_provider_list.ts), then the kind 30382
 * assertions of the roster's keys and their services only, a service's counted as the word of the
 * key that names it. The query names those keys as authors, and what a town answers is filtered
 * again by author: a key outside the roster that no roster key names is never counted, whatever a
 * town sends.
 *
 * @module
 */
import {
  newestAssertions,
  TRUST_ASSERTION_KIND,
  type TrustAssertion,
} from "../../protocol/trust_assertion.ts";
import {
  newestProviderLists,
  type RankService,
  TRUST_PROVIDER_LIST_KIND,
  voicesOfRoster,
} from "../../protocol/trust_provider_list.ts";
import { queryRelays } from "../../transport/relay_query_many.ts";
import { readRoster } from "./worker_lookup.ts";

/** Most assertions read (per town). */
const MAX_ASSERTIONS = 5_000;

/** What {@linkcode readRosterAssertions} found. */
export interface RosterAssertions {
  /** The roster's keys (none without a kind 3). */
  roster: string[];
  /** The newest assertion of each roster key about each subject. */
  assertions: TrustAssertion[];
}

/** Options for {@linkcode readRosterAssertions}. */
export interface ReadRosterAssertionsOptions {
  /** The towns read. */
  relays: string[];
  /** The reader: its roster is read, and its own assertions are not counted. */
  reader: string;
  /** Only assertions about these subjects; all without. */
  subjects?: string[];
}

/**
 * The reader's roster and its keys' assertions.
 *
 * It reads towns: no example that runs here: tests/e2e/trust_assertions_test.ts.
 * @throws {RelayQueryError} when no town could be read.
 */
export async function readRosterAssertions(
  o: ReadRosterAssertionsOptions,
): Promise<RosterAssertions> {
  const roster = await readRoster(o.relays, o.reader);
  const members = roster.filter((k) => k !== o.reader);
  if (members.length === 0) return { roster, assertions: [] };
  const limits = { maxEvents: MAX_ASSERTIONS, maxBytes: 8 * 1024 * 1024 };
  // The roster's rank services (kind 10040): their assertions are the naming key's word.
  const listed = await queryRelays(o.relays, [{
    kinds: [TRUST_PROVIDER_LIST_KIND],
    authors: members,
    limit: members.length * 4,
  }], limits);
  const onRoster = new Set(members);
  const lists = newestProviderLists(listed.events.filter((e) => onRoster.has(e.pubkey)));
  const services = [...lists.values()].flat().map((s) => s.pubkey);
  const filter = {
    kinds: [TRUST_ASSERTION_KIND],
    authors: [...new Set([...members, ...services])],
    ...(o.subjects === undefined ? {} : { "#d": o.subjects }),
    limit: MAX_ASSERTIONS,
  };
  const { events } = await queryRelays(o.relays, [filter], limits);
  const said = newestAssertions(events);
  return { roster, assertions: voicesOfRoster(said, { roster: onRoster, lists, self: o.reader }) };
}

/**
 * The newest assertions `author` itself published on the towns: what `trust publish` compares
 * with, so that only a changed rank is sent again.
 *
 * It reads towns: no example that runs here: tests/e2e/trust_assertions_test.ts.
 * @throws {RelayQueryError} when no town could be read.
 */
export async function readOwnAssertions(
  relays: string[],
  author: string,
): Promise<TrustAssertion[]> {
  const { events } = await queryRelays(
    relays,
    [{ kinds: [TRUST_ASSERTION_KIND], authors: [author], limit: MAX_ASSERTIONS }],
    { maxEvents: MAX_ASSERTIONS, maxBytes: 8 * 1024 * 1024 },
  );
  return newestAssertions(events.filter((e) => e.pubkey === author));
}

/**
 * The rank services `author`'s newest kind 10040 on the towns names, or undefined when it has
 * none: what `trust publish` compares with, so that an unchanged list is not sent again.
 *
 * No example that runs here: tests/e2e/trust_assertions_test.ts reads a profile's list from a
 * town.
 *
 * @throws {RelayQueryError} when no town could be read.
 */
export async function readOwnRankServices(
  relays: string[],
  author: string,
): Promise<RankService[] | undefined> {
  const { events } = await queryRelays(
    relays,
    [{ kinds: [TRUST_PROVIDER_LIST_KIND], authors: [author], limit: 4 }],
    { maxEvents: 16, maxBytes: 1024 * 1024 },
  );
  return newestProviderLists(events.filter((e) => e.pubkey === author)).get(author);
}
