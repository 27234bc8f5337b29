/**
 * The Dockerfile's build needs are written where a user reads first: every base image it pulls
 * (its `ARG ..._IMAGE`/`BASE` defaults) is named in docs/OPERATIONS.md "Installing" and in the
 * Dockerfile's own header, with the build args that replace it behind a mirror.
 */
import { assert, assertEquals } from "../../../harness/assert.ts";

const root = new URL("../../../", import.meta.url);

Deno.test("Dockerfile: the images it pulls are documented with the build args that replace them", async () => {
  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", root));
  const ops = await Deno.readTextFile(new URL("docs/OPERATIONS.md", root));
  const installing = ops.slice(ops.indexOf("## Installing"), ops.indexOf("## State directory"));
  const args = [...dockerfile.matchAll(/^ARG (\w*IMAGE|BASE)=(\S+)$/gm)].map((m) => [m[1], m[2]]);
  assertEquals(args.map(([name]) => name).sort(), ["BASE", "DENO_IMAGE"]);
  for (const [name, image] of args) {
    assert(installing.includes(image), `docs/OPERATIONS.md "Installing" names ${image}`);
    assert(installing.includes(`--build-arg ${name}=`), `and how to replace it (${name})`);
    const header = dockerfile.slice(0, dockerfile.indexOf("\nARG "));
    assert(header.includes(`--build-arg ${name}=`), `the Dockerfile's header says ${name}`);
  }
  assert(
    /Docker Hub/.test(installing) && /apt/.test(installing) && /npm registry/.test(installing),
  );
});
