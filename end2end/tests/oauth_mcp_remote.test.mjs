// A real MCP client signs in with OAuth: mcp-remote (npm), the stdio proxy that local-only MCP
// clients use to reach a remote server. It discovers Gatehouse's authorization server from the
// endpoint's 401, registers itself (a public client: token_endpoint_auth_method none) and prints
// the authorization URL; the owner opens it in Chromium and allows it, and the browser brings the
// code back to mcp-remote's own loopback callback. Then tools are listed and called over its stdio
// side, and a second run with the same config dir connects on the stored tokens without asking
// anyone. Both database engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, signUp, screenshotDir } from './helpers.mjs';

const PROXY = fileURLToPath(new URL('../node_modules/mcp-remote/dist/proxy.js', import.meta.url));
const { version: MCP_REMOTE_VERSION } = JSON.parse(readFileSync(new URL('../node_modules/mcp-remote/package.json', import.meta.url)));
// mcp-remote's registration names itself so (src/lib/node-oauth-client-provider.ts).
const CLIENT_NAME = 'MCP CLI Proxy';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';

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

async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs mcp-remote's proxy for `url` with its callback on `port`. It logs to stderr; its stdout
 * is the stdio side of MCP, one JSON-RPC message a line.
 */
function startProxy(url, port, configDir) {
  const env = { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: 'true' };
  // With no desktop, `open`'s xdg-open runs $BROWSER with the URL: `true` opens nothing, and
  // the test reads the URL from stderr instead.
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.XDG_CURRENT_DESKTOP;
  const child = spawn(process.execPath, [PROXY, url, String(port), '--host', '127.0.0.1'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let exit;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { exit = code ?? signal; resolve(exit); }));
  const messages = [];
  const watchers = new Set();
  const notify = () => { for (const w of [...watchers]) w(); };
  child.stderr.on('data', (chunk) => { stderr += chunk; notify(); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    try { messages.push(JSON.parse(line)); } catch { /* not JSON-RPC: kept in the transcript */ }
    notify();
  });
  exited.then(notify);
  const transcript = () => `exit ${exit ?? 'not yet'}\n--- stdout\n${stdout}--- stderr (last 6000 chars)\n${stderr.slice(-6000)}`;
  /** Resolves with `check()` once it is truthy; fails if the proxy exits first or it takes too long. */
  const until = (what, check, timeoutMs) => new Promise((resolve, reject) => {
    const watcher = () => {
      const value = check();
      if (value) { done(); resolve(value); } else if (exit !== undefined) { done(); reject(new Error(`mcp-remote exited before ${what}\n${transcript()}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`mcp-remote: no ${what} within ${timeoutMs} ms\n${transcript()}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); watchers.delete(watcher); };
    watchers.add(watcher);
    watcher();
  });
  let nextId = 1;
  return {
    exited,
    transcript,
    stderr: () => stderr,
    until,
    /** The authorization URL mcp-remote asks the user to open. */
    authorizationUrl: (timeoutMs) =>
      until('authorization URL', () => stderr.match(/Please authorize this client by visiting:\s*\n(\S+)/)?.[1], timeoutMs).then((u) => new URL(u)),
    established: (timeoutMs) => until('"Proxy established successfully"', () => stderr.includes('Proxy established successfully'), timeoutMs),
    notify(method, params) { child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, ...(params && { params }) })}\n`); },
    /** Sends a request on the stdio side and resolves with its response. */
    async request(method, params, timeoutMs = 10_000) {
      const id = nextId++;
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params && { params }) })}\n`);
      const response = await until(`response to ${method} (id ${id})`, () => messages.find((m) => m.id === id && !m.method), timeoutMs);
      if (response.error) throw new Error(`${method} failed: ${JSON.stringify(response.error)}\n${transcript()}`);
      return response.result;
    },
    /** Closes stdin, which ends the proxy; kills it if it lingers. */
    async close() {
      child.stdin.end();
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('lingered'), 5000))]);
      if (code === 'lingered') { child.kill('SIGKILL'); await exited; }
      return code;
    },
    kill() { if (exit === undefined) child.kill('SIGKILL'); },
  };
}

/** initialize + initialized on the stdio side, then tools/list and an echo call. */
async function useTools(proxy, text) {
  const init = await proxy.request('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'gatehouse-e2e', version: '1.0.0' },
  });
  assert.equal(init.serverInfo.name, 'gatehouse-demo-mcp', 'the upstream answers through the gateway');
  proxy.notify('notifications/initialized');
  const { tools } = await proxy.request('tools/list', {});
  assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'slow_echo', 'ticker']);
  const echoed = await proxy.request('tools/call', { name: 'echo', arguments: { text } });
  assert.deepEqual(echoed.content, [{ type: 'text', text }]);
}

/** mcp-remote's stored file whose name ends with `suffix` (in its mcp-remote-<version> dir). */
function stored(configDir, suffix) {
  const dirs = readdirSync(configDir).filter((d) => d.startsWith('mcp-remote-'));
  for (const dir of dirs) {
    const file = readdirSync(join(configDir, dir)).find((f) => f.endsWith(suffix));
    if (file) return JSON.parse(readFileSync(join(configDir, dir, file), 'utf8'));
  }
  throw new Error(`mcp-remote stored no *${suffix} in ${configDir} (${dirs.join(', ') || 'no mcp-remote-* dir'})`);
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`An MCP client signs in with OAuth: mcp-remote ${MCP_REMOTE_VERSION} (${backend})`, () => {
    let demo;
    let gatehouse;
    let browser;
    let configDir;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      browser = await launchBrowser();
      configDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-mcp-remote-'));
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
      if (configDir) rmSync(configDir, { recursive: true, force: true });
    });

    test('sign in through the consent page, list and call tools over stdio; a second run reuses the tokens', { timeout: 90_000 }, async () => {
      const base = gatehouse.url;
      const page = await newPage(browser);
      await signUp(page, base, EMAIL, PASSWORD);
      const created = await page.request.post(`${base}/api/v1/servers`, {
        data: { name: 'demo tools', upstream_url: `${demo.url}/mcp`, transport: 'streamable_http' },
      });
      assert.equal(created.status(), 201, await created.text());
      const server = await created.json();
      assert.equal(server.oauth_enabled, true, 'a new server offers OAuth sign-in');
      const endpoint = `${base}/s/${server.id}/mcp`;
      const port = await freePort();
      const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;

      let proxy = startProxy(endpoint, port, configDir);
      try {
        // 1. mcp-remote registers and asks for a sign-in.
        const authorizationUrl = await proxy.authorizationUrl(20_000);
        assert.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${base}/oauth/authorize`);
        const asked = authorizationUrl.searchParams;
        assert.equal(asked.get('redirect_uri'), redirectUri);
        assert.equal(asked.get('resource'), endpoint);
        assert.equal(asked.get('code_challenge_method'), 'S256');
        const client = stored(configDir, '_client_info.json');
        assert.equal(client.client_id, asked.get('client_id'));
        assert.equal(client.token_endpoint_auth_method, 'none', 'mcp-remote registers as a public client');
        assert.equal(client.client_secret, undefined, 'a public client gets no secret');
        assert.deepEqual(client.redirect_uris, [redirectUri]);

        // 2. The owner allows it; the browser goes on to mcp-remote's callback.
        await page.goto(authorizationUrl.href);
        await page.waitForURL((u) => u.pathname === '/oauth/consent');
        await hydratedOrFail(page, 'the consent page');
        await page.getByRole('heading', { name: `Connect ${CLIENT_NAME} to your servers?` }).waitFor();
        assert.equal((await page.locator('[data-redirect-host]').textContent()).trim(), `127.0.0.1:${port}`);
        assert.equal(await page.locator(`input[name="server"][value="${server.id}"]`).isChecked(), true, 'the requested server is ticked');
        assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions on the consent page');
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.waitForURL((u) => u.origin === `http://127.0.0.1:${port}` && u.pathname === '/oauth/callback', { timeout: 10_000 });
        assert.equal(new URL(page.url()).searchParams.get('iss'), base, 'iss names the issuer (mcp-remote insists)');
        await page.getByText('Authorization successful!').waitFor();
        // mcp-remote closes its callback server once it has the code, so what the browser logs
        // there afterwards (its favicon request is refused) is not Gatehouse's.
        await page.goto('about:blank');
        page.errors.length = 0;

        // 3. It exchanges the code and connects; tools work over stdio.
        await proxy.established(20_000);
        await useTools(proxy, 'through mcp-remote');
        const tokens = stored(configDir, '_tokens.json');
        assert.ok(tokens.access_token && tokens.refresh_token, 'mcp-remote stored an access and a refresh token');
        assert.equal(await proxy.close(), 0, `mcp-remote did not end cleanly\n${proxy.transcript()}`);

        // The grant is an ordinary token of the owner's, for this server, named after the app,
        // and Connected apps shows the app.
        const listed = await (await page.request.get(`${base}/api/v1/tokens`)).json();
        const grants = listed.filter((t) => t.description === `via OAuth: ${CLIENT_NAME}`);
        assert.equal(grants.length, 1, `one grant for mcp-remote: ${JSON.stringify(listed.map((t) => t.description))}`);
        assert.equal(grants[0].status, 'active');
        assert.deepEqual(grants[0].servers.map((s) => s.id), [server.id]);
        await page.goto(`${base}/connected-apps`);
        await waitHydrated(page);
        const app = page.locator('[data-connected-app]').filter({ hasText: CLIENT_NAME });
        await app.getByText(client.client_id, { exact: true }).waitFor();
        await app.getByRole('link', { name: `via OAuth: ${CLIENT_NAME}` }).waitFor();

        // 4. A second run with the same config dir signs in with the stored tokens, asking no one.
        proxy = startProxy(endpoint, port, configDir);
        await proxy.established(20_000);
        assert.doesNotMatch(proxy.stderr(), /Please authorize this client/, 'no new sign-in on the second run');
        await useTools(proxy, 'second run');
        assert.equal(await proxy.close(), 0, `mcp-remote did not end cleanly\n${proxy.transcript()}`);
        const again = await (await page.request.get(`${base}/api/v1/tokens`)).json();
        assert.equal(again.filter((t) => t.description === `via OAuth: ${CLIENT_NAME}`).length, 1, 'still the one grant');
        assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions');
      } catch (error) {
        proxy.kill();
        await proxy.exited;
        await page.screenshot({ path: `${screenshotDir}oauth-mcp-remote-${backend}.png` }).catch(() => {});
        const shown = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '(no page)');
        console.error(`--- the page at ${page.url()}\n${shown}\n--- page errors\n${page.errors.join('\n')}\n--- mcp-remote\n${proxy.transcript()}` +
          `\n--- gatehouse log (last 4000 chars)\n${gatehouse.log().slice(-4000)}`);
        throw error;
      } finally {
        proxy.kill();
        await page.context().close();
      }
    });
  });
}
