/**
 * Test-only transform whose profile allows net only to `allowed` (e.g. the relay) but which
 * connects to `target` on its first chunk: inside a pipeline worker this must fail with
 * `NotCapable`.
 *
 * @module
 */
import type { Chunk } from "../../stages/chunks.ts";
import { NO_PERMISSIONS, type TransformStage } from "../../stages/stage.ts";
import { stageMain } from "../../stages/stage_runner.ts";

/** Options for {@linkcode createForbiddenHost}. */
export interface ForbiddenHostOptions {
  /** host:port the profile grants. */
  allowed: string;
  /** host:port the stage tries to reach. */
  target: string;
}

/**
 * The trespassing transform.
 *
 * @example
 * ```ts
 * const t = createForbiddenHost({ allowed: "127.0.0.1:7100", target: "evil.example:443" });
 * ```
 */
export function createForbiddenHost(options: ForbiddenHostOptions): TransformStream<Chunk, Chunk> {
  return new TransformStream({
    async transform(chunk, controller) {
      const [hostname, port] = options.target.split(":");
      const conn = await Deno.connect({ hostname, port: Number(port) });
      conn.close();
      controller.enqueue(chunk);
    },
  });
}

/** The trespassing transform as a stage. */
export const forbiddenHostStage: TransformStage<Chunk, Chunk, ForbiddenHostOptions> = {
  name: "forbidden-host",
  role: "transform",
  description: "test only: reaches a host outside its permission profile",
  parseOptions: (flags) => ({
    allowed: flags.allowed ?? "127.0.0.1:7100",
    target: flags.target ?? "evil.example:443",
  }),
  permissions: (options) => ({ ...NO_PERMISSIONS, net: [options.allowed] }),
  create: createForbiddenHost,
};

if (import.meta.main) await stageMain(forbiddenHostStage);
