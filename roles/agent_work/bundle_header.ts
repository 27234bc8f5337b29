/**
 * A git bundle's header, read by this code before git reads the rest: what a bundle needs
 * (prerequisites) and what it carries (refs), so that a bundle with more or other than agreed is
 * refused before any of its objects enter a repository. The format is git's
 * (`gitformat-bundle`): a signature line (`# v2 git bundle` or `# v3 git bundle`), for v3
 * capability lines (`@object-format=sha1`), prerequisite lines (`-<oid> <subject>`), ref lines
 * (`<oid> <refname>`), an empty line, then a pack (`PACK...`).
 *
 * @module
 */
import { BundleFormatError, BundleTooLargeError } from "./agent_work_errors.ts";

/** The most header a bundle may have: far more than one ref and a few prerequisites need. */
export const MAX_BUNDLE_HEADER = 64 * 1024;

/** A bundle's header. */
export interface BundleHeader {
  /** 2 or 3. */
  version: 2 | 3;
  /** The commits the bundle needs and does not carry (full object ids). */
  prerequisites: string[];
  /** The refs it carries, in its order. */
  refs: { oid: string; name: string }[];
  /** The byte offset of its pack. */
  packOffset: number;
}

/** A git object id as git writes it: SHA-1 or SHA-256, lowercase hex. */
export const GIT_OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * Reads a bundle's header; throws {@linkcode BundleFormatError} on anything git would not write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBundleHeader } from "./bundle_header.ts";
 *
 * const oid = "a".repeat(40);
 * const bytes = new TextEncoder().encode(`# v2 git bundle\n${oid} refs/heads/main\n\nPACK`);
 * assert.deepEqual(parseBundleHeader(bytes).refs, [{ oid, name: "refs/heads/main" }]);
 * ```
 */
export function parseBundleHeader(bytes: Uint8Array): BundleHeader {
  const end = headerEnd(bytes);
  const lines = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, end))
    .split("\n");
  const signature = lines.shift();
  const version = signature === "# v2 git bundle" ? 2 : signature === "# v3 git bundle" ? 3 : 0;
  if (version === 0) throw new BundleFormatError("not a git bundle: no v2 or v3 signature");
  const header: BundleHeader = { version, prerequisites: [], refs: [], packOffset: end + 2 };
  for (const line of lines) {
    if (line.startsWith("@")) {
      if (version !== 3) throw new BundleFormatError("a capability line in a v2 bundle");
      if (line !== "@object-format=sha1") {
        throw new BundleFormatError(`a capability this code does not read: ${line.slice(0, 80)}`);
      }
    } else if (line.startsWith("-")) {
      const oid = line.slice(1).split(" ", 1)[0];
      if (!GIT_OBJECT_ID.test(oid)) {
        throw new BundleFormatError("a prerequisite that is not an object id");
      }
      header.prerequisites.push(oid);
    } else {
      const space = line.indexOf(" ");
      const oid = line.slice(0, space);
      const name = line.slice(space + 1);
      if (space < 0 || !GIT_OBJECT_ID.test(oid) || !/^[\x21-\x7e]+$/.test(name)) {
        throw new BundleFormatError(`a header line git would not write: ${line.slice(0, 80)}`);
      }
      header.refs.push({ oid, name });
    }
  }
  if (bytes.length < header.packOffset + 4 || !isPackSignature(bytes, header.packOffset)) {
    throw new BundleFormatError("no pack after the bundle's header");
  }
  return header;
}

/**
 * Reads the header of a bundle file of at most `maxBytes`: throws
 * {@linkcode BundleTooLargeError} past the limit (from the file's size, before reading it) and
 * {@linkcode BundleFormatError} for a header git would not write. Reads only the header's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBundleHeader } from "./bundle_header.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const oid = "a".repeat(40);
 * await Deno.writeTextFile(`${dir}/work.bundle`, `# v2 git bundle\n${oid} refs/heads/main\n\nPACK`);
 * const header = await readBundleHeader(`${dir}/work.bundle`, 64 * 1024 * 1024);
 * assert.deepEqual(header.refs, [{ oid, name: "refs/heads/main" }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readBundleHeader(path: string, maxBytes: number): Promise<BundleHeader> {
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  if (size > maxBytes) throw new BundleTooLargeError(size, maxBytes);
  const want = Math.min(size, MAX_BUNDLE_HEADER + 4);
  const head = new Uint8Array(want);
  let got = 0;
  while (got < want) {
    const n = await file.read(head.subarray(got));
    if (n === null) break;
    got += n;
  }
  return parseBundleHeader(head.subarray(0, got));
}

/** The offset of the header's last newline before the empty line that ends it. */
function headerEnd(bytes: Uint8Array): number {
  const limit = Math.min(bytes.length - 1, MAX_BUNDLE_HEADER);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x0a) return i;
  }
  throw new BundleFormatError(`no end of a bundle header in the first ${MAX_BUNDLE_HEADER} bytes`);
}

function isPackSignature(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0x50 && bytes[at + 1] === 0x41 && bytes[at + 2] === 0x43 &&
    bytes[at + 3] === 0x4b;
}
