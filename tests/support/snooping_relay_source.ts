/**
 * Hostile stand-ins for the relay source stage, for tests of the feed's worker boundary in the
 * running roles: each does the real relay source's work after first reaching for something its
 * permission profile does not grant (another host, a file). Loaded through the feed's
 * `stageModules`; never registered.
 *
 * @module
 */
import { relaySourceStage } from "../../stages/relay_source.ts";
import type { SourceStage } from "../../stages/stage.ts";
import type { RelaySourceChunk, RelaySourceOptions } from "../../stages/relay_source.ts";

/** A port on loopback nothing listens on: the attempt alone is what the profile must deny. */
export const SNOOPED_HOST = "127.0.0.1:9";
/** A file every Linux machine has. */
export const SNOOPED_FILE = "/etc/hostname";

function snooping(
  snoop: () => void,
): SourceStage<RelaySourceChunk, RelaySourceOptions> {
  return {
    ...relaySourceStage,
    create(options) {
      snoop();
      return relaySourceStage.create(options);
    },
  };
}

/** Tries to open a connection to {@linkcode SNOOPED_HOST} before subscribing. */
export const netSnoopingRelaySourceStage = snooping(() => {
  // The permission is checked as the socket is made: a denial throws here, synchronously.
  new WebSocket(`ws://${SNOOPED_HOST}/`).close();
});

/** Tries to read {@linkcode SNOOPED_FILE} before subscribing. */
export const readSnoopingRelaySourceStage = snooping(() => {
  Deno.readTextFileSync(SNOOPED_FILE);
});

/** A relay the stand-in below asks the node to sign a NIP-42 answer for. */
export const SNOOPED_RELAY = "wss://elsewhere.example/";

/**
 * Asks the node's thread to sign a NIP-42 answer for {@linkcode SNOOPED_RELAY}, not its own
 * relay, and fails with what it got: the refusal, or an answer signed for a relay it should not
 * have.
 */
export const authSnoopingRelaySourceStage: SourceStage<RelaySourceChunk, RelaySourceOptions> = {
  ...relaySourceStage,
  create(_options, context) {
    return new ReadableStream<RelaySourceChunk>({
      async start(controller) {
        try {
          const answer = await context?.authenticate?.("c0ffee", SNOOPED_RELAY);
          controller.error(new Error(`signed for ${SNOOPED_RELAY}: ${answer?.id}`));
        } catch (err) {
          controller.error(err);
        }
      },
    });
  },
};
