// Identity for upstreams, end to end: an upstream built with the official TypeScript MCP SDK
// verifies Gatehouse's identity header against the published JWKS with `jose` and answers with
// the caller's `sub`; a client (the same SDK) calls it through the gateway with its token. The
// upstream refuses a request without the header, and one whose assertion was tampered with.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startGatehouse, signedIn } from './helpers.mjs';

/** An MCP server (stateless Streamable HTTP) whose one tool says who Gatehouse says is calling. */
async function startWhoamiUpstream(gatehouseUrl) {
  const jwks = createRemoteJWKSet(new URL(`${gatehouseUrl}/.well-known/jwks.json`));
  let audience;
  const http = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const mcp = new McpServer({ name: 'whoami-upstream', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'The caller, as verified from the identity header' }, async (extra) => {
      const assertion = extra.requestInfo?.headers?.['gatehouse-identity'];
      if (!assertion) return { isError: true, content: [{ type: 'text', text: 'no identity header' }] };
      try {
        const { payload } = await jwtVerify(assertion, jwks, { issuer: gatehouseUrl, audience, algorithms: ['EdDSA'] });
        return { content: [{ type: 'text', text: JSON.stringify({ sub: payload.sub, email: payload.email, role: payload.role }) }] };
      } catch (error) {
        return { isError: true, content: [{ type: 'text', text: `identity refused: ${error.code}` }] };
      }
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { transport.close(); mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, raw ? JSON.parse(raw) : undefined);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  audience = `http://127.0.0.1:${http.address().port}/mcp`;
  return { url: audience, stop: () => new Promise((resolve) => http.close(resolve)) };
}

async function whoami(url, headers) {
  const client = new Client({ name: 'gatehouse-identity-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  try {
    return await client.callTool({ name: 'whoami', arguments: {} });
  } finally {
    await client.close();
  }
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`identity for the upstream, verified with jose (${backend})`, () => {
    let gatehouse;
    let upstream;
    before(async () => {
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      upstream = await startWhoamiUpstream(gatehouse.url);
    });
    after(async () => {
      await upstream?.stop();
      await gatehouse?.stop();
    });

    test('the upstream verifies who is calling and answers with their sub', async (t) => {
      const { api, id } = await signedIn(gatehouse.url, 'grace@example.com');
      const server = await api('POST', '/servers', {
        name: 'whoami', upstream_url: upstream.url, transport: 'streamable_http', identity_header: 'Gatehouse-Identity',
      });
      assert.equal(server.health.status, 'up', 'checked on save with the SDK upstream');
      const created = await api('POST', '/tokens', { description: 'sdk client', expires: '1d', server_ids: [server.id] });

      const answer = await whoami(server.mcp_endpoint, { Authorization: `Bearer ${created.token}` });
      assert.ok(!answer.isError, JSON.stringify(answer));
      const said = JSON.parse(answer.content[0].text);
      assert.deepEqual(said, { sub: id, email: 'grace@example.com', role: 'owner' });
      t.diagnostic(`the upstream verified ${said.email} (${said.sub}) from the JWKS`);

      // Straight to the upstream, without Gatehouse: no identity, so it refuses.
      const direct = await whoami(upstream.url, {});
      assert.ok(direct.isError);
      assert.equal(direct.content[0].text, 'no identity header');
      // A forged assertion (a claim changed, the signature kept) fails verification.
      const jwks = await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).json();
      assert.ok(jwks.keys.length >= 1 && jwks.keys.every((k) => k.kty === 'OKP' && k.alg === 'EdDSA'));
      const forgedPayload = Buffer.from(JSON.stringify({ sub: 'someone-else', iss: gatehouse.url, aud: upstream.url, exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
      const forged = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: jwks.keys[0].kid })).toString('base64url')}.${forgedPayload}.${'A'.repeat(86)}`;
      const refused = await whoami(upstream.url, { 'Gatehouse-Identity': forged });
      assert.ok(refused.isError);
      assert.match(refused.content[0].text, /identity refused/);
    });
  });
}
