// Tool rules seen from a real MCP client: the official TypeScript SDK, through the gateway, on
// both transports. A token limited to `echo` lists only echo, may call it, and gets the
// gateway's JSON-RPC refusal for another tool; lifted, every tool is back. Both engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, startDemoMcp, signedIn } from './helpers.mjs';

async function connect(kind, url, token) {
  const requestInit = { headers: { Authorization: `Bearer ${token}` } };
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(url), { requestInit })
    : new StreamableHTTPClientTransport(new URL(url), { requestInit });
  const client = new Client({ name: `gatehouse-tool-rules-${kind}`, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`tool rules through the TypeScript SDK (${backend})`, () => {
    let gatehouse;
    let demo;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
    });
    after(async () => {
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('a token limited to echo sees only echo and is refused another tool, on both transports', async (t) => {
      const { api } = await signedIn(gatehouse.url, 'owner@example.com');
      const servers = [];
      for (const [transport, path] of [['streamable_http', '/mcp'], ['sse', '/sse']]) {
        servers.push(await api('POST', '/servers', { name: `demo ${transport}`, upstream_url: `${demo.url}${path}`, transport }));
      }
      const created = await api('POST', '/tokens', {
        description: 'limited client', expires: 'never', server_ids: servers.map((s) => s.id),
      });
      const token = created.token;
      for (const server of servers) {
        const view = await api('PUT', `/tokens/${created.details.id}/servers/${server.id}/tools`, { mode: 'only', tools: ['echo'] });
        assert.deepEqual(view.servers.find((s) => s.id === server.id).tools, { mode: 'only', tools: ['echo'] });
      }

      for (const [kind, endpoint] of [['mcp', servers[0].mcp_endpoint], ['sse', servers[1].sse_endpoint]]) {
        const client = await connect(kind, endpoint, token);
        try {
          const listed = await client.listTools();
          assert.deepEqual(listed.tools.map((tool) => tool.name), ['echo'], `${kind}: only the allowed tool is listed`);
          const echoed = await client.callTool({ name: 'echo', arguments: { text: `allowed over ${kind}` } });
          assert.deepEqual(echoed.content, [{ type: 'text', text: `allowed over ${kind}` }]);
          const refused = await client.callTool({ name: 'ticker', arguments: { ticks: 0 } }).then(() => null, (error) => error);
          assert.ok(refused, `${kind}: a call of another tool fails`);
          assert.equal(refused.code, -32602, `${kind}: ${refused.message}`);
          assert.match(refused.message, /may not call the tool "ticker"/);
          t.diagnostic(`${kind}: listed [echo], refused ticker with "${refused.message}"`);
        } finally {
          await client.close();
        }
      }

      // Lifted: the next session lists every tool and may call them.
      await api('PUT', `/tokens/${created.details.id}/servers/${servers[0].id}/tools`, { mode: 'all' });
      const client = await connect('mcp', servers[0].mcp_endpoint, token);
      try {
        const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
        assert.deepEqual(names, ['echo', 'slow_echo', 'ticker']);
        const ticked = await client.callTool({ name: 'ticker', arguments: { ticks: 0 } });
        assert.deepEqual(ticked.content, [{ type: 'text', text: '0 ticks' }]);
      } finally {
        await client.close();
      }
    });
  });
}
