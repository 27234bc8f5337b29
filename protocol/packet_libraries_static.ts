/**
 * `ilp-packet` and `btp-packet` by static import, handed to protocol/packet_libraries.ts: for a
 * module that runs in a worker without read access (the ilp-prepare-sink stage), where the lazy
 * `require` cannot read the packages. Importing this module is all it takes; the town's start
 * never imports it (tests/unit/project/town_start_graph_test.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATIC_PACKET_LIBRARIES } from "./packet_libraries_static.ts";
 * import { btpPacketLibrary } from "./packet_libraries.ts";
 * assert.ok(STATIC_PACKET_LIBRARIES);
 * assert.equal(btpPacketLibrary().Type.TYPE_MESSAGE, 6);
 * ```
 *
 * @module
 */
import * as ilp from "ilp-packet";
import * as btp from "btp-packet";
import { usePacketLibraries } from "./packet_libraries.ts";

usePacketLibraries({ ilp, btp });

/** True once this module ran: the libraries are handed over (import it for that). */
export const STATIC_PACKET_LIBRARIES = true;
