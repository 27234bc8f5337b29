/**
 * Test helper: a CA and two server certificates for 127.0.0.1 and localhost made with `openssl`
 * (serials 1001 and 1002) in a directory, and the serial of the certificate a new TLS connection
 * to a port gets (read by `openssl s_client`).
 *
 * @module
 */
import { assertEquals } from "../../harness/assert.ts";

/** Runs a command; its stdout, or a failure with its stderr. */
export async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assertEquals(out.code, 0, `${cmd} ${args.join(" ")}: ${text(out.stderr)}`);
  return text(out.stdout);
}

/** A CA and two server certificates for 127.0.0.1 and localhost (serials 1001, 1002). */
export async function makeCertificates(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=turnpike test CA",
  ], dir);
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const serial of [1001, 1002]) {
    const name = `server-${serial}`;
    await run("openssl", [
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      "/CN=127.0.0.1",
    ], dir);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(serial),
      "-days",
      "2",
      "-extfile",
      "san.cnf",
      "-out",
      `${name}.pem`,
    ], dir);
  }
}

/** The serial of the certificate a new TLS connection to `port` gets (hex, as openssl prints). */
export async function servedSerial(port: number, caFile: string): Promise<string> {
  const pem = await run("sh", [
    "-c",
    `openssl s_client -connect 127.0.0.1:${port} -CAfile ${caFile} -verify_return_error ` +
    `</dev/null 2>/dev/null | openssl x509 -noout -serial`,
  ]);
  return pem.trim().replace(/^serial=/, "");
}
