/**
 * transport/proxy_protocol.ts: the PROXY v1 line and v2 header as HAProxy sends them, read
 * exactly (what follows is left on the connection), LOCAL and UNKNOWN naming no client, and
 * anything else refused.
 */
import { assertEquals, assertRejects } from "../../../harness/assert.ts";
import { ProxyHeaderError, readProxyHeader } from "../../../transport/proxy_protocol.ts";

/** A connection that hands out `bytes` a few at a time; `left()` is what was not read. */
function feed(bytes: Uint8Array, step = 5) {
  let at = 0;
  return {
    read(buf: Uint8Array): Promise<number | null> {
      const n = Math.min(buf.length, bytes.length - at, step);
      buf.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n === 0 ? null : n);
    },
    left: () => new TextDecoder().decode(bytes.subarray(at)),
  };
}

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const rest = [...new TextEncoder().encode("GET / HTTP/1.1\r\n")];

function v2(cmd: number, family: number, body: number[]): Uint8Array {
  return new Uint8Array([
    ...SIG,
    0x20 | cmd,
    family,
    body.length >> 8,
    body.length & 0xff,
    ...body,
    ...rest,
  ]);
}

Deno.test("proxy protocol: v2 PROXY over IPv4 and IPv6 names the source; v2 LOCAL and v1 UNKNOWN none", async () => {
  const ipv4 = feed(v2(1, 0x11, [192, 0, 2, 7, 10, 0, 0, 1, 0xc3, 0x50, 0x1b, 0xbc]));
  assertEquals(await readProxyHeader(ipv4), "192.0.2.7");
  assertEquals(ipv4.left(), "GET / HTTP/1.1\r\n");
  const source = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x01];
  const ipv6 = feed(v2(1, 0x21, [...source, ...new Array(16).fill(0), 0, 1, 0, 2]));
  assertEquals(await readProxyHeader(ipv6), "2001:db8::1");
  assertEquals(ipv6.left(), "GET / HTTP/1.1\r\n");
  assertEquals(await readProxyHeader(feed(v2(0, 0x00, []))), undefined);
  const v1 = feed(new TextEncoder().encode("PROXY TCP4 198.51.100.9 10.0.0.1 5000 7100\r\nGET"));
  assertEquals(await readProxyHeader(v1), "198.51.100.9");
  assertEquals(v1.left(), "GET");
  assertEquals(
    await readProxyHeader(feed(new TextEncoder().encode("PROXY UNKNOWN\r\n"))),
    undefined,
  );
});

Deno.test("proxy protocol: a request without the header, a cut header and a v1 line without end are refused", async () => {
  for (
    const bytes of [
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      new Uint8Array([...SIG, 0x21, 0x11, 0, 12, 1, 2]),
      new TextEncoder().encode("PROXY TCP4 " + "1".repeat(200)),
    ]
  ) {
    await assertRejects(() => readProxyHeader(feed(bytes)), ProxyHeaderError);
  }
});
