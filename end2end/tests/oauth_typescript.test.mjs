// A real MCP client signs in with OAuth: the official MCP TypeScript SDK's client auth
// (@modelcontextprotocol/sdk: an OAuthClientProvider given to StreamableHTTPClientTransport,
// auth() and finishAuth()). It discovers Gatehouse's authorization server from the endpoint's
// 401 and registers itself as a confidential client (client_secret_basic); the owner allows it on
// the consent page in Chromium, and the browser brings the code back to the app's loopback
// redirect URI. The app then lists and calls tools through the gateway and refreshes after a 401.
// The owner revokes the grant on its token page while a long call and the GET stream are open:
// both end at once, the access token is refused and so is the refresh token (invalid_grant), and
// the SDK, seeing that, starts a new sign-in. Both database engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { InvalidGrantError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, signUp, screenshotDir } from './helpers.mjs';

const CLIENT_NAME = 'Gatehouse e2e (TypeScript SDK)';
const GRANT = `via OAuth: ${CLIENT_NAME}`;
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
const ACCESS_TOKEN_SECONDS = 300;
// The revoked streams must end well inside this (the gateway applies revocations within
// events_poll_ms; the rest is the dashboard's server function and the network).
const STREAM_END_MS = 2000;

/** Resolves with `promise`, or fails with `what` after `ms`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits until `check()` is truthy (polling), or fails with `what()`. */
async function until(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what()} (waited ${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The claims of a JWT (not verified: Gatehouse checks it; the test only reads it). */
function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/**
 * Waits until the wasm bundle has hydrated `page`, failing at once (with what the browser
 * reported) if it panics instead.
 */
async function hydratedOrFail(page, what) {
  const deadline = Date.now() + 20_000;
  while ((await page.locator('html[data-hydrated="true"]').count()) === 0) {
    if (page.errors.length) throw new Error(`${what} did not hydrate; the browser reported:\n${page.errors.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`${what} did not hydrate within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The app's redirect URI: a loopback HTTP server, as a native MCP client runs one. Each hit on
 * /callback is recorded; `next()` resolves with the next one's query parameters.
 */
async function startCallback() {
  const hits = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
    const params = Object.fromEntries(url.searchParams);
    hits.push(params);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><title>Signed in</title><p>You can close this window.</p>');
    waiters.shift()?.(params);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/callback`,
    hits,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** An OAuthClientProvider that keeps everything in memory and records what the SDK asks of it. */
class MemoryProvider {
  constructor(redirectUrl) {
    this._redirectUrl = redirectUrl;
    this.client = undefined;
    this.stored = undefined;
    this.verifier = undefined;
    this.discovery = undefined;
    this.lastState = undefined;
    this.saved = []; // every saveTokens() call
    this.redirects = []; // every authorization URL the SDK sent the user to
    this.invalidated = []; // every invalidateCredentials() scope
    this._redirectWaiters = [];
  }
  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    };
  }
  state() { this.lastState = randomBytes(16).toString('hex'); return this.lastState; }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.stored; }
  saveTokens(tokens) { this.stored = tokens; this.saved.push(tokens); }
  redirectToAuthorization(url) {
    this.redirects.push(url);
    for (const w of this._redirectWaiters.splice(0)) w(url);
  }
  nextRedirect() {
    return new Promise((resolve) => this._redirectWaiters.push(resolve));
  }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
  saveDiscoveryState(state) { this.discovery = state; }
  discoveryState() { return this.discovery; }
  invalidateCredentials(scope) {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.stored = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
}

/**
 * A fetch for the transport that records every SSE response it hands over (a POST's stream or
 * the GET stream): when it opened and when, and how, it ended.
 */
function recordingFetch(streams) {
  return async (url, init = {}) => {
    const response = await fetch(url, init);
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok || !response.body || !type.startsWith('text/event-stream')) return response;
    let rpc;
    try { rpc = JSON.parse(init.body).method; } catch { rpc = undefined; }
    const entry = { method: init.method ?? 'GET', rpc, openedAt: Date.now(), endedAt: undefined, how: undefined };
    streams.push(entry);
    const end = (how) => { if (entry.endedAt === undefined) { entry.endedAt = Date.now(); entry.how = how; } };
    const reader = response.body.getReader();
    const body = new ReadableStream({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) { end('closed by the server'); controller.close(); } else controller.enqueue(value);
        } catch (error) {
          end(`broken: ${error.cause?.code ?? error.message}`);
          controller.error(error);
        }
      },
      cancel(reason) { end('cancelled by the client'); return reader.cancel(reason); },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`An MCP client signs in with OAuth: the TypeScript SDK (${backend})`, () => {
    let demo;
    let gatehouse;
    let browser;
    let callback;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, {
        GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true',
        GATEHOUSE_OAUTH_ACCESS_TOKEN_SECONDS: String(ACCESS_TOKEN_SECONDS),
      });
      browser = await launchBrowser();
      callback = await startCallback();
    });
    after(async () => {
      await callback?.close();
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('sign in on the consent page, call tools, refresh; revoking the grant ends its streams and its refresh token', { timeout: 90_000 }, async () => {
      const base = gatehouse.url;
      const page = await newPage(browser);
      await signUp(page, base, EMAIL, PASSWORD);
      // The page's context holds the owner's session: REST calls through it are the owner's.
      const created = await page.request.post(`${base}/api/v1/servers`, {
        data: { name: 'demo tools', upstream_url: `${demo.url}/mcp`, transport: 'streamable_http' },
      });
      assert.equal(created.status(), 201, await created.text());
      const server = await created.json();
      assert.equal(server.oauth_enabled, true, 'a new server offers OAuth sign-in');
      const endpoint = `${base}/s/${server.id}/mcp`;
      const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
      assert.equal(metadata.issuer, base);

      const provider = new MemoryProvider(callback.url);
      const streams = [];
      const tracedFetch = recordingFetch(streams);
      const transportErrors = [];
      const newTransport = () => new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider, fetch: tracedFetch });
      const newClient = () => new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
      let client;
      try {
        // 1. No token: the endpoint's 401 sends the SDK through discovery and registration to
        // the authorization endpoint, and connect() stops with UnauthorizedError.
        const redirected = provider.nextRedirect();
        const first = newTransport();
        await assert.rejects(newClient().connect(first), UnauthorizedError);
        const authorizationUrl = await within(1000, 'redirectToAuthorization', redirected);
        assert.ok(provider.client?.client_id, 'the SDK registered a client');
        assert.ok(provider.client.client_secret, 'a client_secret_basic client gets a secret');
        assert.equal(provider.client.token_endpoint_auth_method, 'client_secret_basic');
        assert.deepEqual(provider.client.redirect_uris, [callback.url]);
        assert.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${base}/oauth/authorize`);
        const asked = authorizationUrl.searchParams;
        assert.equal(asked.get('client_id'), provider.client.client_id);
        assert.equal(asked.get('resource'), endpoint, 'the SDK sends the PRM resource: the endpoint itself');
        assert.equal(asked.get('scope'), 'mcp', "the scope comes from the 401's WWW-Authenticate");
        assert.equal(asked.get('code_challenge_method'), 'S256');

        // 2. The owner allows it in the browser; the code comes back to the app's redirect URI.
        const returned = callback.next();
        await page.goto(authorizationUrl.href);
        await page.waitForURL((u) => u.pathname === '/oauth/consent');
        await hydratedOrFail(page, 'the consent page');
        await page.getByRole('heading', { name: `Connect ${CLIENT_NAME} to your servers?` }).waitFor();
        assert.equal((await page.locator('[data-redirect-host]').textContent()).trim(), new URL(callback.url).host);
        const box = page.locator(`input[name="server"][value="${server.id}"]`);
        assert.equal(await box.isChecked(), true, 'the requested server is ticked');
        await page.getByLabel('For how long').selectOption('30d');
        await page.getByRole('button', { name: 'Allow' }).click();
        const answer = await within(10_000, 'the browser bringing the code to the redirect URI', returned);
        assert.ok(answer.code, `the redirect carries a code: ${JSON.stringify(answer)}`);
        assert.equal(answer.error, undefined);
        // The SDK checks neither: the app must (RFC 6749 §10.12, RFC 9207).
        assert.equal(answer.state, provider.lastState, 'state comes back unchanged');
        assert.equal(answer.iss, metadata.issuer, 'iss names the issuer');

        // 3. finishAuth exchanges the code (HTTP Basic); a new transport connects with the token.
        await first.finishAuth(answer.code);
        const tokens = provider.stored;
        assert.ok(tokens?.access_token && tokens.refresh_token, 'an access and a refresh token');
        assert.equal(tokens.token_type.toLowerCase(), 'bearer');
        assert.equal(tokens.expires_in, ACCESS_TOKEN_SECONDS, 'expires_in is GATEHOUSE_OAUTH_ACCESS_TOKEN_SECONDS');
        const grantId = claims(tokens.access_token).jti;
        assert.ok(claims(tokens.access_token).aud.includes(endpoint), `aud names the resource: ${JSON.stringify(claims(tokens.access_token).aud)}`);

        client = newClient();
        const transport = newTransport();
        transport.onerror = (e) => transportErrors.push(`${Date.now()}: ${e.message}`);
        await client.connect(transport);
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'slow_echo', 'ticker']);
        const echoed = await client.callTool({ name: 'echo', arguments: { text: 'signed in with OAuth' } });
        assert.deepEqual(echoed.content, [{ type: 'text', text: 'signed in with OAuth' }]);

        // The grant is an ordinary token of the owner's, for this server, named after the app,
        // for the 30 days chosen on the consent page.
        const grant = await (await page.request.get(`${base}/api/v1/tokens/${grantId}`)).json();
        assert.equal(grant.description, GRANT);
        assert.equal(grant.status, 'active');
        assert.deepEqual(grant.servers.map((s) => s.id), [server.id]);
        const days = (Date.parse(grant.expires_at) - Date.now()) / 86_400_000;
        assert.ok(days > 29.9 && days <= 30, `the grant ends in 30 days (${grant.expires_at})`);

        // 4. Refresh: an access token the gateway refuses (as an expired one is) makes the SDK
        // refresh after the 401 and retry, on the same grant.
        const spoiled = tokens.access_token.split('.');
        spoiled[2] = 'A'.repeat(spoiled[2].length);
        provider.stored = { ...tokens, access_token: spoiled.join('.') };
        const refreshedEcho = await client.callTool({ name: 'echo', arguments: { text: 'after the refresh' } });
        assert.deepEqual(refreshedEcho.content, [{ type: 'text', text: 'after the refresh' }]);
        assert.equal(provider.saved.length, 2, 'the SDK saved refreshed tokens');
        const refreshed = provider.stored;
        // (The new access token may equal the first one byte for byte: the same grant's claims,
        // issued within the same second.)
        assert.ok(refreshed.access_token !== spoiled.join('.'), 'a working access token replaced the spoiled one');
        assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'the refresh token is rotated');
        assert.equal(claims(refreshed.access_token).jti, grantId, 'the refreshed token is the same grant');
        assert.equal(provider.redirects.length, 1, 'no second sign-in was needed');

        // 5. The owner opens the grant's page from Tokens and gets the revoke button ready.
        await page.goto(`${base}/tokens`);
        await waitHydrated(page);
        await page.locator(`[data-token-row="${grantId}"]`).getByRole('link', { name: GRANT }).click();
        await page.waitForURL(`${base}/tokens/${grantId}`);
        await waitHydrated(page);
        await page.getByText(`Revoke “${GRANT}”…`, { exact: true }).click();
        const revokeButton = page.getByRole('button', { name: `Revoke “${GRANT}”`, exact: true });
        await revokeButton.waitFor();

        // A long call (10 s) is open, and so is the transport's GET stream.
        let callEnded;
        const opened = streams.length;
        const call = client.callTool({ name: 'ticker', arguments: { ticks: 100 } }, undefined, { timeout: 30_000 })
          .then((r) => { callEnded = { at: Date.now(), result: r }; }, (e) => { callEnded = { at: Date.now(), error: e.message }; });
        const tickerStream = await until(() => streams.slice(opened).find((s) => s.rpc === 'tools/call'),
          () => `the ticker call opened no SSE stream: ${JSON.stringify(streams)}`);
        const getStream = streams.find((s) => s.method === 'GET' && s.endedAt === undefined);
        assert.ok(getStream, `the SDK holds a GET stream open: ${JSON.stringify(streams)}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(tickerStream.endedAt, undefined, 'the ticker call is still running');

        // 6. Revoke: both streams end at once.
        const revokedAt = Date.now();
        await revokeButton.click();
        await page.getByText(`“${GRANT}” revoked. It no longer works anywhere.`).waitFor();
        for (const [name, stream] of [['ticker call', tickerStream], ['GET stream', getStream]]) {
          await until(() => stream.endedAt !== undefined, () => `the ${name} did not end after the revocation: ${JSON.stringify(stream)}`, 10_000);
          const took = stream.endedAt - revokedAt;
          assert.ok(took >= 0 && took < STREAM_END_MS,
            `the ${name} ended ${took} ms after the click on revoke (${stream.how}); within ${STREAM_END_MS} ms expected`);
          console.log(`  ${name} ended ${took} ms after the click (${stream.how})`);
        }
        assert.equal(callEnded?.result, undefined, 'the ticker call got no result');

        // 7. The access token no longer works, and the refresh token is refused.
        const refusedCall = await fetch(endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${refreshed.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        assert.equal(refusedCall.status, 401, 'the revoked access token is refused');
        await refusedCall.body?.cancel();
        const clientInformation = provider.client;
        await assert.rejects(
          refreshAuthorization(base, { metadata, clientInformation, refreshToken: refreshed.refresh_token, resource: new URL(endpoint) }),
          (e) => e instanceof InvalidGrantError || assert.fail(`expected InvalidGrantError, got ${e?.constructor?.name}: ${e?.message}`),
        );
        const raw = await fetch(`${base}/oauth/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${clientInformation.client_id}:${clientInformation.client_secret}`).toString('base64')}`,
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token, resource: endpoint }),
        });
        assert.equal(raw.status, 400);
        assert.equal((await raw.json()).error, 'invalid_grant');

        // The SDK's own answer to a refused refresh token: drop the tokens, sign in again.
        const afresh = new MemoryProvider(callback.url);
        Object.assign(afresh, { client: clientInformation, stored: refreshed, discovery: provider.discovery });
        assert.equal(await auth(afresh, { serverUrl: new URL(endpoint) }), 'REDIRECT');
        assert.deepEqual(afresh.invalidated, ['tokens']);
        assert.equal(afresh.redirects.length, 1, 'a new sign-in was started');

        await client.close();
        await within(5000, 'the ticker call settling after close()', call);
        assert.ok(callEnded.error, 'the ticker call failed');
        const after = await (await page.request.get(`${base}/api/v1/tokens/${grantId}`)).json();
        assert.equal(after.status, 'revoked');
        assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions');
      } catch (error) {
        await page.screenshot({ path: `${screenshotDir}oauth-typescript-${backend}.png` }).catch(() => {});
        const shown = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '(no page)');
        console.error(`--- the page at ${page.url()}\n${shown}\n--- page errors\n${page.errors.join('\n')}` +
          `\n--- SSE streams\n${JSON.stringify(streams)}\n--- transport errors\n${transportErrors.join('\n')}` +
          `\n--- gatehouse log (last 4000 chars)\n${gatehouse.log().slice(-4000)}`);
        throw error;
      } finally {
        await client?.close().catch(() => {});
        await page.context().close();
      }
    });
  });
}
