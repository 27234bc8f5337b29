/**
 * `ilp-packet` and `btp-packet`, the CommonJS libraries behind the general paths of
 * protocol/ilp_packet.ts and protocol/btp_message.ts, loaded at their first use instead of at
 * start. A CommonJS package makes Deno load its CommonJS loader and the part of its Node layer
 * that goes with it: 4-5 MiB of resident memory that an idle town never used (docs/SCALE.md "An
 * idle town's memory"). The paid-write path's codecs (protocol/ilp_fast_codec.ts,
 * protocol/btp_fast_codec.ts) do without them; the first packet they leave to a library loads it,
 * synchronously (`require`, once per process), so every codec keeps its synchronous signature.
 * A worker without read access cannot `require` (Deno reads the package's files then): its module
 * imports protocol/packet_libraries_static.ts, which hands them over loaded by its static imports.
 *
 * @module
 */
import { createRequire } from "node:module";
import type * as IlpLib from "ilp-packet";
import type * as BtpLib from "btp-packet";

const require = createRequire(import.meta.url);
let ilp: typeof IlpLib | undefined;
let btp: typeof BtpLib | undefined;

/**
 * `ilp-packet`, loaded at the first call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(ilpPacketLibrary().IlpError.T05_RATE_LIMITED, "T05");
 * ```
 */
export function ilpPacketLibrary(): typeof IlpLib {
  return ilp ??= require("ilp-packet") as typeof IlpLib;
}

/**
 * `btp-packet`, loaded at the first call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(btpPacketLibrary().Type.TYPE_MESSAGE, 6);
 * ```
 */
export function btpPacketLibrary(): typeof BtpLib {
  return btp ??= require("btp-packet") as typeof BtpLib;
}

/** Options for {@linkcode usePacketLibraries}: the two libraries, loaded already. */
export interface PacketLibraries {
  ilp: typeof IlpLib;
  btp: typeof BtpLib;
}

/**
 * Uses libraries loaded by a static import instead of `require` at first use (a worker without
 * read access: protocol/packet_libraries_static.ts). Libraries loaded already are kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as ilp from "ilp-packet";
 * import * as btp from "btp-packet";
 * usePacketLibraries({ ilp, btp });
 * assert.equal(ilpPacketLibrary().IlpError.F02_UNREACHABLE, "F02");
 * ```
 */
export function usePacketLibraries(libraries: PacketLibraries): void {
  ilp ??= libraries.ilp;
  btp ??= libraries.btp;
}
