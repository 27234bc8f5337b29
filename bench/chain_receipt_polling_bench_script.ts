/**
 * RPC calls per transaction on a chain with 2 s blocks, as a public RPC sees them: anvil with
 * `--chain-id 84532 --block-time 2` (Base Sepolia's id and block time) behind a counting proxy.
 * It deploys the TokenNetwork and a test token, then opens a channel with the node's
 * TokenNetworkClient (approve + openChannel + setTotalDeposit: 3 transactions) and reports the
 * JSON-RPC calls the client made, by method.
 *
 * Measured 2026-11-23 (2 cores, loaded): polling every 10 ms (before), 488 calls in 6.0 s
 * (eth_blockNumber 459); every 1000 ms, 38 calls in 6.1 s (eth_blockNumber 9, receipts 9).
 *
 * Run: deno run -A bench/chain_receipt_polling_bench_script.ts
 *
 * @module
 */
import { ANVIL_ACCOUNT_KEYS, anvilBinaryPath } from "../chain/anvil.ts";
import { deployTokenNetwork, mintTestTokens } from "../chain/contract_deployer.ts";
import { BASE_SEPOLIA_CHAIN, resolveChainConfig } from "../config/chain_config.ts";
import { TokenNetworkClient } from "../chain/token_network_client.ts";
import { privateKeyToAccount } from "viem/accounts";

const port = (() => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
})();
const anvil = new Deno.Command(anvilBinaryPath(), {
  args: ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "84532", "--block-time", "2"],
  stdout: "null",
  stderr: "null",
}).spawn();
const upstream = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  const ok = await fetch(upstream, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
  }).then((r) => r.body?.cancel().then(() => true), () => false);
  if (ok) break;
  await new Promise((r) => setTimeout(r, 100));
}
const calls = new Map<string, number>();
const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
  const body = await req.text();
  const parsed = JSON.parse(body);
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    calls.set(m.method, (calls.get(m.method) ?? 0) + 1);
  }
  const res = await fetch(upstream, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return new Response(await res.text(), { headers: { "content-type": "application/json" } });
});
try {
  const account = privateKeyToAccount(ANVIL_ACCOUNT_KEYS[0]);
  const deployed = await deployTokenNetwork({ rpcUrl: upstream, chainId: 84532, account });
  await mintTestTokens({
    rpcUrl: upstream,
    chainId: 84532,
    account,
    token: deployed.tokenAddress,
    to: account.address,
    amount: 100_000_000n,
  });
  const chain = resolveChainConfig(BASE_SEPOLIA_CHAIN, {
    overrides: {
      rpcUrl: `http://127.0.0.1:${proxy.addr.port}`,
      tokenAddress: deployed.tokenAddress,
      tokenNetworkAddress: deployed.tokenNetworkAddress,
    },
  });
  const client = new TokenNetworkClient({ chain, account });
  calls.clear();
  const t0 = performance.now();
  await client.openChannel({
    partner: privateKeyToAccount(ANVIL_ACCOUNT_KEYS[1]).address,
    deposit: 5_000_000n,
    settleTimeout: 600n,
  });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const total = [...calls.values()].reduce((a, b) => a + b, 0);
  console.log(
    `${client.publicClient.pollingInterval} ms polling: open channel ` +
      `in ${seconds} s, ${total} RPC calls (${
        [...calls].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${n}`).join(", ")
      })`,
  );
} finally {
  await proxy.shutdown();
  anvil.kill("SIGKILL");
  await anvil.status;
}
