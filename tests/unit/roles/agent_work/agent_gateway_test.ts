import { assert, assertEquals, assertStringIncludes } from "../../../../harness/assert.ts";
import {
  type AgentGateway,
  type AgentGatewayOptions,
  startAgentGateway,
} from "../../../../roles/agent_work/provider/agent_gateway.ts";
import {
  GatewayLedger,
  type GatewaySpend,
} from "../../../../roles/agent_work/provider/gateway_ledger.ts";
import {
  type StandInModelApi,
  startStandInModelApi,
} from "../../../../harness/stand_in_model_api.ts";

const KEY = "sk-provider-secret";
/** 1 unit per input token, 5 per output token: a stand-in call (1000 in, 200 out) costs 2000. */
const PRICES = { inputPerMillion: 1_000_000n, outputPerMillion: 5_000_000n };

interface Rig {
  api: StandInModelApi;
  gateway: AgentGateway;
  /** A call through the gateway's socket, as the job's programs make it. */
  call(path: string, init?: RequestInit & { host?: string }): Promise<Response>;
  budgetReached: GatewaySpend[];
}

async function withRig(
  options: Partial<AgentGatewayOptions>,
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  await using api = await startStandInModelApi({ apiKey: KEY });
  const budgetReached: GatewaySpend[] = [];
  await using gateway = await startAgentGateway({
    socketPath: `${dir}/gateway.sock`,
    upstream: api.url,
    flavor: "anthropic",
    apiKey: KEY,
    prices: PRICES,
    budget: 1_000_000n,
    onBudgetReached: (s) => budgetReached.push(s),
    ...options,
  });
  using client = Deno.createHttpClient({
    proxy: { transport: "unix", path: gateway.socketPath },
  });
  const call = (path: string, init: RequestInit & { host?: string } = {}) =>
    fetch(`http://${init.host ?? "127.0.0.1:8080"}${path}`, { method: "POST", ...init, client });
  try {
    await fn({ api, gateway, call, budgetReached });
  } finally {
    await gateway.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const body = (o: unknown) =>
  JSON.stringify({ model: "m", max_tokens: 10, messages: [], ...o as object });

Deno.test("agent gateway: forwards an allowed call with the provider's key instead of the agent's, and meters its usage", async () => {
  await withRig(
    { headers: { "anthropic-version": "2023-06-01" } },
    async ({ api, gateway, call }) => {
      const res = await call("/v1/messages?beta=true", {
        body: body({}),
        headers: { "x-api-key": "agent-guess", authorization: "Bearer agent", "x-trace": "t1" },
      });
      assertEquals(res.status, 200);
      assertEquals((await res.json()).usage, { input_tokens: 1000, output_tokens: 200 });
      assertEquals(api.seen.length, 1);
      const seen = api.seen[0];
      assertEquals([seen.method, seen.target], ["POST", "/v1/messages?beta=true"]);
      assertEquals(seen.headers["x-api-key"], KEY);
      assertEquals(seen.headers["authorization"], undefined);
      assertEquals(seen.headers["anthropic-version"], "2023-06-01");
      assertEquals(seen.headers["x-trace"], "t1");
      assertEquals(JSON.parse(seen.body).model, "m");
      const spend = gateway.spend();
      assertEquals(
        [spend.calls, spend.inputTokens, spend.outputTokens, spend.cost, spend.exhausted],
        [1, 1000, 200, 2000n, false],
      );
      // The per-call line, once the call has ended (close waits for it).
      await gateway.close();
      const [line, ...more] = gateway.callLog();
      assertEquals(more.length, 0);
      assertEquals({ ...line, at: "" }, {
        at: "",
        ok: true,
        inputTokens: 1000,
        outputTokens: 200,
        cost: "2000",
      });
      assertEquals(Number.isNaN(Date.parse(line.at)), false);
    },
  );
});

Deno.test("agent gateway: a streamed Anthropic answer passes unchanged and is metered from message_start and message_delta", async () => {
  await withRig({}, async ({ gateway, call }) => {
    const res = await call("/v1/messages", { body: body({ stream: true }) });
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assertEquals(events, ["message_start", "content_block_delta", "message_delta", "message_stop"]);
    assertStringIncludes(text, '"text":"stand-in"');
    const spend = gateway.spend();
    assertEquals([spend.inputTokens, spend.outputTokens, spend.cost], [1000, 200, 2000n]);
  });
});

Deno.test("agent gateway: a caller that leaves mid-stream leaves the rest to the meter, which reads on", async () => {
  await withRig({}, async ({ gateway, call }) => {
    const res = await call("/v1/messages", { body: body({ stream: true }) });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assertStringIncludes(new TextDecoder().decode(first.value), "message_start");
    await reader.cancel();
    // close() waits for the calls under way: by then the meter has read the body's end.
    await gateway.close();
    const spend = gateway.spend();
    assertEquals([spend.calls, spend.inputTokens, spend.outputTokens], [1, 1000, 200]);
  });
});

Deno.test("agent gateway (openai): Bearer key, chat and responses metered; a stream is asked for its usage", async () => {
  await withRig({ flavor: "openai" }, async ({ api, gateway, call }) => {
    const chat = await call("/v1/chat/completions", {
      body: body({}),
      headers: { authorization: "Bearer agent-guess", "openai-organization": "org-other" },
    });
    assertEquals((await chat.json()).usage, { prompt_tokens: 1000, completion_tokens: 200 });
    assertEquals(api.seen[0].headers["authorization"], `Bearer ${KEY}`);
    assertEquals(api.seen[0].headers["openai-organization"], undefined);
    const streamed = await call("/v1/chat/completions", { body: body({ stream: true }) });
    const chunks = (await streamed.text()).split("\n\n").filter((c) => c !== "");
    assertEquals(chunks.at(-1), "data: [DONE]");
    assertEquals(JSON.parse(api.seen[1].body).stream_options, { include_usage: true });
    await (await call("/v1/responses", { body: body({ input: "hi" }) })).json();
    const spend = gateway.spend();
    assertEquals([spend.calls, spend.unmeteredCalls], [3, 0]);
    assertEquals([spend.inputTokens, spend.outputTokens, spend.cost], [3000, 600, 6000n]);
    // The other flavor's path is not this gateway's.
    const other = await call("/v1/messages", { body: body({}) });
    assertEquals(other.status, 403);
    await other.body?.cancel();
  });
});

Deno.test("agent gateway: another path, method or host is refused 403, logged, and never reaches the upstream", async () => {
  await withRig({}, async ({ api, gateway, call }) => {
    const path = await call("/v1/files", { body: "x" });
    assertEquals(path.status, 403);
    const error = await path.json();
    assertEquals(error.error.code, "forbidden");
    assertStringIncludes(error.error.message, "POST /v1/files is not an allowed call");
    const method = await call("/v1/messages", { method: "DELETE" });
    assertEquals(method.status, 403);
    await method.body?.cancel();
    const host = await call("/v1/messages", { body: body({}), host: "api.other.example:443" });
    assertEquals(host.status, 403);
    await host.body?.cancel();
    assertEquals(api.seen, []);
    const log = gateway.refusals();
    assertEquals(log.map((r) => [r.code, r.status, r.method, r.target]), [
      ["forbidden", 403, "POST", "/v1/files"],
      ["forbidden", 403, "DELETE", "/v1/messages"],
      ["forbidden", 403, "POST", "api.other.example:443/v1/messages"],
    ]);
    assert(log.every((r) => !Number.isNaN(Date.parse(r.at))));
    assertEquals(gateway.spend().refused, 3);
  });
});

Deno.test("agent gateway: the call that reaches the budget fires the callback once; later calls get 402", async () => {
  // Each call costs 2000: the second reaches 3000.
  await withRig({ budget: 3000n }, async ({ api, gateway, call, budgetReached }) => {
    for (let i = 0; i < 2; i++) await (await call("/v1/messages", { body: body({}) })).json();
    assertEquals(budgetReached.length, 1);
    assertEquals([budgetReached[0].cost, budgetReached[0].exhausted], [4000n, true]);
    const refused = await call("/v1/messages", { body: body({}) });
    assertEquals(refused.status, 402);
    const error = await refused.json();
    assertEquals(error.error.code, "budget-spent");
    assertStringIncludes(error.error.message, "4000 of 3000");
    assertEquals(api.seen.length, 2);
    assertEquals(budgetReached.length, 1);
    assertEquals(gateway.refusals().map((r) => r.code), ["budget-spent"]);
  });
});

Deno.test("agent gateway: a streamed call reaches the budget as its usage arrives", async () => {
  await withRig({ budget: 1500n }, async ({ gateway, call, budgetReached }) => {
    await (await call("/v1/messages", { body: body({ stream: true }) })).text();
    // message_start alone (1000 in, 1 out) costs 1005; message_delta brings it to 2000.
    assertEquals(budgetReached.map((s) => s.cost), [2000n]);
    assertEquals(gateway.spend().exhausted, true);
  });
});

Deno.test("agent gateway: body size, total calls, calls in flight and call time are bounded, each with its own error", async () => {
  const routes = [{ method: "POST", path: "/v1/messages" }, { method: "POST", path: "/v1/hang" }];
  await withRig({ maxRequestBytes: 100, maxCalls: 1, routes }, async ({ api, call }) => {
    const large = await call("/v1/messages", { body: "x".repeat(101) });
    assertEquals([large.status, (await large.json()).error.code], [413, "request-too-large"]);
    await (await call("/v1/messages", { body: "{}" })).json();
    const more = await call("/v1/messages", { body: "{}" });
    assertEquals([more.status, (await more.json()).error.code], [429, "too-many-calls"]);
    assertEquals(api.seen.length, 1);
  });
  await withRig({ maxInFlight: 1, callTimeoutMs: 200, routes }, async ({ gateway, call }) => {
    const hanging = call("/v1/hang", { body: "{}" });
    // The stand-in holds the first call (its headers never come): wait until it has it.
    while (gateway.spend().calls === 0) await new Promise((r) => setTimeout(r, 10));
    const second = await call("/v1/messages", { body: "{}" });
    assertEquals([second.status, (await second.json()).error.code], [429, "too-many-in-flight"]);
    const first = await hanging;
    assertEquals([first.status, (await first.json()).error.code], [504, "call-timeout"]);
    assertEquals(gateway.refusals().map((r) => r.code), ["too-many-in-flight", "call-timeout"]);
  });
});

Deno.test("agent gateway: an unreachable upstream is a 502 and the socket goes with close", async () => {
  const dir = await Deno.makeTempDir();
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closed.close(); // a port nothing listens on
  try {
    const gateway = await startAgentGateway({
      socketPath: `${dir}/g.sock`,
      upstream: `http://127.0.0.1:${closed.addr.port}`,
      flavor: "openai",
      apiKey: KEY,
      prices: PRICES,
      budget: 10n,
    });
    using client = Deno.createHttpClient({
      proxy: { transport: "unix", path: gateway.socketPath },
    });
    const res = await fetch("http://127.0.0.1:8080/v1/responses", {
      method: "POST",
      body: "{}",
      client,
    });
    assertEquals([res.status, (await res.json()).error.code], [502, "upstream-unreachable"]);
    assertEquals((await Deno.stat(gateway.socketPath)).isSocket, true);
    assertEquals((await Deno.stat(gateway.socketPath)).mode! & 0o777, 0o666);
    await gateway.close();
    assertEquals(await Deno.stat(gateway.socketPath).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway ledger: each ended call's line with its exact cost (fractions of a unit kept), the last maxCalls kept", () => {
  const ledger = new GatewayLedger({
    prices: { inputPerMillion: 1n, outputPerMillion: 3n },
    budget: 10n,
    maxCalls: 2,
  });
  for (
    const [input, output, ok] of [[1000, 200, true], [2_000_000, 0, true], [5, 5, false]] as const
  ) {
    const call = ledger.startCall();
    call.report({ inputTokens: input, outputTokens: output });
    call.end(ok);
  }
  assertEquals(
    ledger.callLog().map((c) => [c.ok, c.inputTokens, c.outputTokens, c.cost]),
    [[true, 2_000_000, 0, "2"], [false, 5, 5, "0.00002"]],
  );
  // The total is rounded up once: 0.0016 + 2 + 0.00002 units is 3.
  assertEquals([ledger.spend().calls, ledger.spend().cost], [3, 3n]);
});

Deno.test("agent gateway: with no upstream (a preset with no model) every call is refused 403 no-model, none forwarded", async () => {
  await withRig({ upstream: undefined, budget: 0n }, async ({ api, gateway, call }) => {
    const res = await call("/v1/messages", { body: body({}) });
    assertEquals(res.status, 403);
    assertStringIncludes(await res.text(), "no model API");
    assertEquals(api.seen.length, 0);
    assertEquals(gateway.refusals().map((r) => r.code), ["no-model"]);
    assertEquals(gateway.spend().calls, 0);
  });
});
