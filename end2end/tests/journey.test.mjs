// The owner's journey, end to end: sign up, put a real MCP server (`gatehouse demo-mcp`) behind
// Gatehouse on both transports, make one token for both, copy it, use it from the MCP TypeScript
// SDK over Streamable HTTP and over SSE, watch the usage arrive, revoke it, and see the next
// call refused and the open stream ended.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, screenshotDir, signUp } from './helpers.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `message` if `promise` has not settled within `ms`. */
function within(ms, promise, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Runs a TypeScript SDK snippet as shown to the owner (in end2end/, where the SDK resolves)
 * until it prints `want`; it stays connected, so it is stopped then.
 */
async function runSnippet(code, want) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: new URL('..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await within(20_000, new Promise((resolve, reject) => {
      const onData = (chunk) => { out += chunk; if (want.test(out)) resolve(); };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => { if (!want.test(out)) reject(new Error(`the snippet exited with ${code}:\n${out}`)); });
    }), `the snippet did not print ${want} in 20 s:\n${out}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return out;
}

/** An MCP client connected through Gatehouse with the token, over either transport. */
async function connectMcp(kind, url, token) {
  const requestInit = { headers: { Authorization: `Bearer ${token}` } };
  // The SDK sends requestInit.headers on the SSE GET as well as on every POST.
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(url), { requestInit })
    : new StreamableHTTPClientTransport(new URL(url), { requestInit });
  const client = new Client({ name: `gatehouse-journey-${kind}`, version: '1.0.0' });
  const events = { errors: [], closed: false };
  let ended;
  events.ended = new Promise((resolve) => { ended = resolve; });
  client.onerror = (error) => { events.errors.push(error); ended(`error: ${error?.message ?? error}`); };
  client.onclose = () => { events.closed = true; ended('closed'); };
  await client.connect(transport);
  return { client, transport, events };
}

async function echoThrough(client, text) {
  const tools = await client.listTools();
  assert.ok(tools.tools.some((t) => t.name === 'echo'), `echo is listed: ${tools.tools.map((t) => t.name)}`);
  const result = await client.callTool({ name: 'echo', arguments: { text } });
  assert.equal(result.isError ?? false, false);
  assert.deepEqual(result.content, [{ type: 'text', text }]);
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`the owner's journey (${backend})`, () => {
    let gatehouse;
    let demo;
    let browser;
    const clients = [];
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, {
        GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true',
        GATEHOUSE_USAGE_FLUSH_MS: '200',
      });
      browser = await launchBrowser();
    });
    after(async () => {
      for (const c of clients) await c.client.close().catch(() => {});
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('sign up, host a real MCP server, use it with a token, revoke it', async (t) => {
      const base = gatehouse.url;
      const page = await newPage(browser);
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
      // Full-page screenshots at desktop and phone widths.
      const shoot = async (what) => {
        for (const width of [1280, 375]) {
          await page.setViewportSize({ width, height: 900 });
          await sleep(100);
          await page.screenshot({ path: `${screenshotDir}/journey-${backend}-${what}-${width}.png`, fullPage: true });
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      };
      // Parts of the page promised by work in progress are checked softly on the way, so the
      // rest of the journey still runs, and all at once at the end.
      const contract = [];
      const soft = async (what, check) => {
        try { await check(); } catch (error) { contract.push(`${what}: ${error.message.split('\n')[0]}`); }
      };

      await signUp(page, base, 'owner@example.com', 'correct horse battery');

      // One Gatehouse server per upstream transport, both the same demo server.
      const servers = {};
      for (const [key, name, transport, path] of [
        ['mcp', 'Demo (Streamable HTTP)', 'Streamable HTTP', '/mcp'],
        ['sse', 'Demo (SSE)', 'SSE (HTTP+SSE, 2024-11-05)', '/sse'],
      ]) {
        await page.goto(`${base}/servers/new`);
        await waitHydrated(page);
        await page.getByLabel('Name').fill(name);
        await page.getByLabel('Upstream URL').fill(`${demo.url}${path}`);
        await page.getByLabel('Upstream transport').selectOption({ label: transport });
        await page.getByRole('button', { name: 'Add server' }).click();
        await page.getByRole('heading', { name, level: 1 }).waitFor();
        assert.match(page.url(), /\/servers\/[0-9a-f-]{36}$/);
        const id = page.url().split('/').pop();
        await page.getByText(`Upstream ${demo.url}${path} (`).waitFor();
        const html = await page.content();
        const endpoint = `${base}/s/${id}/${key}`;
        assert.ok(html.includes(endpoint), `the hosted endpoint ${endpoint} is shown`);
        servers[key] = { id, name, url: page.url(), endpoint };
      }

      // One token for both, copied from the dialog.
      const description = 'Journey client';
      await page.goto(`${base}/tokens/new`);
      await waitHydrated(page);
      await page.getByLabel('Description').fill(description);
      for (const s of Object.values(servers)) {
        const box = page.getByLabel(s.name, { exact: true });
        assert.equal(await box.isChecked(), false);
        await box.check();
      }
      await page.getByRole('button', { name: 'Create token' }).click();
      const dialog = page.getByRole('dialog', { name: 'Your new token' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Copy token' }).click();
      await dialog.getByRole('button', { name: 'Copied' }).waitFor();
      const token = (await page.evaluate(() => navigator.clipboard.readText())).trim();
      assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, `the clipboard holds a compact JWT: ${token.slice(0, 20)}…`);
      assert.equal((await dialog.getByTestId('new-token').inputValue()).trim(), token, 'the copied token is the one shown');
      await shoot('token-created');
      // The TypeScript example in the dialog, filled in with the token, works as it stands.
      await dialog.getByRole('tab', { name: 'TypeScript SDK' }).click();
      const example = await dialog.getByRole('tabpanel', { name: 'TypeScript SDK' }).locator('code').textContent();
      assert.ok(example.includes(`Bearer ${token}`), 'the example carries the token');
      await dialog.getByRole('link', { name: 'I have copied it' }).click();
      await page.getByRole('heading', { name: description, level: 1 }).waitFor();
      await waitHydrated(page);
      const tokenUrl = page.url();
      for (const s of Object.values(servers)) await page.getByRole('link', { name: s.name, exact: true }).waitFor();
      const lastUsed = page.locator('dt', { hasText: 'Last used' }).locator('xpath=following-sibling::dd[1]');
      assert.equal((await lastUsed.textContent()).trim(), 'never', 'a new token has not been used');
      await soft('"Last used" has data-testid="last-used", "never" before use', async () => {
        assert.equal((await page.getByTestId('last-used').textContent({ timeout: 1000 })).trim(), 'never');
      });

      // The server page now lists the token.
      await page.goto(servers.mcp.url);
      await waitHydrated(page);
      await page.getByRole('link', { name: description }).waitFor();
      await shoot('server-detail');

      // The token works from the MCP SDK, on both transports.
      const http = await connectMcp('mcp', servers.mcp.endpoint, token);
      clients.push(http);
      await echoThrough(http.client, 'hello over Streamable HTTP');
      const sse = await connectMcp('sse', servers.sse.endpoint, token);
      clients.push(sse);
      await echoThrough(sse.client, 'hello over SSE');

      // So does the TypeScript example from the dialog, as it stands.
      const printed = await runSnippet(example, /name: 'echo'/);
      assert.match(printed, /name: 'ticker'/, 'it lists the demo server\'s tools');

      // Without the token, or over the wrong transport, the gateway says no.
      const bare = await fetch(servers.mcp.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(bare.status, 401);
      assert.ok(bare.headers.get('www-authenticate'), 'a 401 names its scheme');
      const wrong = await fetch(`${base}/s/${servers.mcp.id}/sse`, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } });
      assert.equal(wrong.status, 404);
      assert.match((await wrong.json()).message, new RegExp(`connect to /s/${servers.mcp.id}/mcp`));

      // Usage reaches the token page within moments.
      await page.goto(tokenUrl);
      const deadline = Date.now() + 10_000;
      while ((await lastUsed.textContent()).trim() === 'never') {
        assert.ok(Date.now() < deadline, '"Last used" moved from "never" within 10 s');
        await sleep(300);
        await page.reload();
      }
      await waitHydrated(page);
      assert.equal((await lastUsed.textContent()).trim(), 'just now');
      await soft('"Last used" (data-testid) reads "just now" after use', async () => {
        assert.equal((await page.getByTestId('last-used').textContent({ timeout: 1000 })).trim(), 'just now');
      });
      await soft('the hourly chart counts the calls and the one refusal', async () => {
        // The SDK sessions made at least initialize, tools/list and tools/call each; the
        // wrong-transport request above was made with this token, so it is its one refusal.
        // Both arrive with a flush (every 200 ms here), so wait for them rather than race it.
        let requests = 0;
        let refusals = 0;
        const until = Date.now() + 5_000;
        for (;;) {
          const chart = page.locator('figure[data-chart="hourly"]');
          requests = Number(await chart.getAttribute('data-requests', { timeout: 1000 }));
          refusals = Number(await chart.getAttribute('data-refusals', { timeout: 1000 }));
          if ((requests >= 2 && refusals >= 1) || Date.now() > until) break;
          await sleep(300);
          await page.reload();
        }
        t.diagnostic(`the hourly chart counted ${requests} requests and ${refusals} refusals`);
        assert.ok(requests >= 2, `data-requests of the hourly chart is ${requests}, want ≥ 2`);
        assert.equal(refusals, 1, 'the wrong-transport request is the one refusal');
        assert.ok(Number(await page.locator('figure[data-chart="daily"]').getAttribute('data-requests')) >= 2, 'the daily chart too');
      });
      await shoot('token-detail');
      await page.goto(`${base}/`);
      await waitHydrated(page);
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      await shoot('dashboard');

      // An SSE stream is open (the SSE client's); revoke the token while it is.
      assert.equal(sse.events.closed, false, 'the SSE stream is still open');
      assert.deepEqual(sse.events.errors, [], 'and has had no error');
      await page.goto(tokenUrl);
      await waitHydrated(page);
      await page.getByText(`Revoke “${description}”…`).click();
      await page.getByRole('button', { name: `Revoke “${description}”` }).click();
      const revokedAt = Date.now();
      await soft('a toast says the token was revoked', async () => {
        await page.getByRole('status').filter({ hasText: /revoked/i }).first().waitFor({ timeout: 5000 });
      });
      await page.getByText('revoked', { exact: true }).first().waitFor();

      // The open stream is ended by the gateway…
      const how = await within(5000, sse.events.ended, 'the SSE stream of the revoked token was still open after 5 s');
      const streamEndedMs = Date.now() - revokedAt;
      assert.ok(how === 'closed' || how.startsWith('error'), how);
      // …and the next call is refused with 401.
      const refused = await http.client.callTool({ name: 'echo', arguments: { text: 'after revoking' } }).then(
        () => null, (error) => error);
      assert.ok(refused, 'a call with the revoked token fails');
      assert.ok(refused.code === 401 || /\b401\b/.test(refused.message), `it fails with 401: ${refused.code} ${refused.message}`);
      // The SDK's SSE client (its EventSource) reconnects after ~3 s, and is turned away.
      const until401 = Date.now() + 8000;
      while (!sse.events.errors.some((e) => e?.code === 401)) {
        assert.ok(Date.now() < until401, `the SSE client's reconnect is refused with 401; errors: ${sse.events.errors.map((e) => e?.message)}`);
        await sleep(100);
      }
      const direct = await fetch(servers.sse.endpoint, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } });
      assert.equal(direct.status, 401, 'a new SSE stream is refused too');
      assert.ok(direct.headers.get('www-authenticate'));
      await direct.body?.cancel();
      t.diagnostic(`SSE stream ended ${streamEndedMs} ms after the revoke click (${how}); the call after: ${refused.message}`);

      // The token page says so.
      await page.reload();
      await waitHydrated(page);
      await page.getByRole('heading', { name: description, level: 1 }).waitFor();
      await page.getByText('revoked', { exact: true }).first().waitFor();
      assert.equal(await page.getByText(`Revoke “${description}”…`).count(), 0, 'nothing left to revoke');

      await page.goto(`${base}/audit`);
      await waitHydrated(page);
      for (const action of ['account.signed_up', 'server.created', 'token.created', 'token.revoked']) {
        await page.getByRole('cell', { name: action, exact: true }).first().waitFor();
      }
      await shoot('audit');

      assert.deepEqual(page.errors, [], 'no console errors or failed requests');
      assert.deepEqual(contract, [], 'the usage charts, "Last used" test id and revoke toast are there');
      await page.context().close();
    });
  });
}
