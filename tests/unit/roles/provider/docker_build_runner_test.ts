/**
 * The docker-build request's test settings: a `test` command, or `test-image-cmd` (the image's
 * own ENTRYPOINT/CMD), never both.
 */
import { assertEquals, assertThrows } from "../../../../harness/assert.ts";
import {
  checkDockerBuildRequest,
  DockerBuildRequestError,
} from "../../../../roles/provider/docker/docker_build_runner.ts";

const engine = { platform: "linux/amd64" };
const context = ["i", "dGFy", "text"];

Deno.test("docker-build request: test command, the image's own CMD, or neither; not both", () => {
  const cmd = checkDockerBuildRequest([context, ["param", "test", "sh /app/test.sh"]], engine);
  assertEquals([cmd.test, cmd.testImageCmd], ["sh /app/test.sh", undefined]);
  const own = checkDockerBuildRequest([context, ["param", "test-image-cmd", "true"]], engine);
  assertEquals([own.test, own.testImageCmd], [undefined, true]);
  const none = checkDockerBuildRequest([context], engine);
  assertEquals([none.test, none.testImageCmd], [undefined, undefined]);
  const both = assertThrows(
    () =>
      checkDockerBuildRequest([
        context,
        ["param", "test", "true"],
        ["param", "test-image-cmd", "true"],
      ], engine),
    DockerBuildRequestError,
  );
  assertEquals(both.status, "bad-input");
});
