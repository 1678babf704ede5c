// A real MCP client signs in with OAuth: the official MCP Python SDK's OAuthClientProvider
// (end2end/python/oauth_client.py, run with GATEHOUSE_PYTHON) discovers Gatehouse's
// authorization server from the endpoint's 401, registers itself, is allowed on the consent page
// by the server's owner, lists and calls tools through the gateway and refreshes its token.
// Then the owner disconnects the app in the browser: its open stream ends at once and its
// refresh token is refused. Both database engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, signUp } from './helpers.mjs';

const SCRIPT = fileURLToPath(new URL('../python/oauth_client.py', import.meta.url));
const CLIENT_NAME = 'Gatehouse e2e (Python SDK)';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
// The revoked stream must end well inside this (the gateway applies revocations within
// events_poll_ms; the rest is the dashboard's server function and the network).
const STREAM_END_MS = 2000;

/** Runs the Python client; its stdout is one JSON event a line. */
function startClient(args) {
  const python = process.env.GATEHOUSE_PYTHON;
  if (!python) throw new Error('GATEHOUSE_PYTHON must name a Python with mcp==2.3.0 (./dev test makes one in ~/.cache/gatehouse/venv)');
  const child = spawn(python, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  const events = [];
  const waiters = [];
  let stderr = '';
  let stdout = '';
  let exit;
  // 'close', not 'exit': by then every line it printed has been read.
  const exited = new Promise((resolve) => child.once('close', (code, signal) => { exit = code ?? signal; resolve(exit); }));
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    let event;
    try { event = JSON.parse(line); } catch { return; }
    events.push(event);
    for (const w of [...waiters]) if (w.name === event.event) { waiters.splice(waiters.indexOf(w), 1); w.resolve(event); }
  });
  const transcript = () => `exit ${exit ?? 'not yet'}\n--- stdout\n${stdout}--- stderr (last 4000 chars)\n${stderr.slice(-4000)}`;
  return {
    events,
    exited,
    transcript,
    /** The event `name`, once the client prints it; fails if it exits first or takes too long. */
    waitFor(name, timeoutMs) {
      const seen = events.find((e) => e.event === name);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the Python client printed no "${name}" within ${timeoutMs} ms\n${transcript()}`)), timeoutMs);
        const waiter = { name, resolve: (e) => { clearTimeout(timer); resolve(e); } };
        waiters.push(waiter);
        exited.then(() => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`the Python client exited before printing "${name}"\n${transcript()}`));
        });
      });
    },
    event(name) { return events.find((e) => e.event === name); },
    /** Its exit code, or 'still running' after `timeoutMs`. */
    async exit(timeoutMs) {
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(() => resolve('still running'), timeoutMs); });
      try { return await Promise.race([exited, late]); } finally { clearTimeout(timer); }
    },
    kill() { if (exit === undefined) child.kill('SIGKILL'); },
  };
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`An MCP client signs in with OAuth: the Python SDK (${backend})`, () => {
    let demo;
    let gatehouse;
    let browser;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true', GATEHOUSE_OAUTH_ACCESS_TOKEN_SECONDS: '300' });
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('sign in, list and call tools, refresh; disconnecting the app ends its stream and its refresh token', { timeout: 90_000 }, async () => {
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
      assert.equal(server.mcp_endpoint, `${base}/s/${server.id}/mcp`);

      const client = startClient(['--base', base, '--mcp-url', server.mcp_endpoint, '--server-id', server.id,
        '--email', EMAIL, '--password', PASSWORD, '--client-name', CLIENT_NAME]);
      try {
        const ready = await client.waitFor('ready_for_revoke', 40_000);
        const authorized = client.event('authorized');
        assert.equal(authorized.client_name, CLIENT_NAME);
        assert.equal(authorized.expires_in, 300, 'expires_in is GATEHOUSE_OAUTH_ACCESS_TOKEN_SECONDS');
        assert.ok(authorized.aud.includes(server.mcp_endpoint), `aud names the resource: ${JSON.stringify(authorized.aud)}`);
        assert.deepEqual(client.event('tools').names, ['echo', 'slow_echo', 'ticker']);
        assert.equal(client.event('refreshed').echo, 'after the refresh');

        // The grant is an ordinary token of the owner's, for this server, named after the app.
        const listed = await page.request.get(`${base}/api/v1/tokens`);
        assert.equal(listed.status(), 200);
        const grant = (await listed.json()).find((t) => t.id === ready.token_id);
        assert.ok(grant, `GET /api/v1/tokens lists the grant ${ready.token_id}`);
        assert.equal(grant.description, `via OAuth: ${CLIENT_NAME}`);
        assert.ok(grant.oauth_client, 'the grant names its OAuth client');
        assert.equal(grant.status, 'active');
        assert.deepEqual(grant.servers.map((s) => s.id), [server.id]);

        // The owner disconnects the app on Connected apps while its ticker call is open.
        await page.goto(`${base}/connected-apps`);
        await waitHydrated(page);
        const app = page.locator('[data-connected-app]').filter({ hasText: CLIENT_NAME });
        await app.getByRole('link', { name: `via OAuth: ${CLIENT_NAME}` }).waitFor();
        await app.getByText('Disconnect', { exact: true }).click();
        const revokedAt = Date.now();
        await app.getByRole('button', { name: 'Disconnect app' }).click();
        await page.getByText('Disconnected: 1 grant(s) revoked').waitFor();
        await app.getByText('revoked', { exact: true }).waitFor();

        const ended = await client.waitFor('stream_ended', 20_000);
        const tookMs = ended.at - revokedAt;
        assert.ok(tookMs >= 0 && tookMs < STREAM_END_MS,
          `the open stream ended ${tookMs} ms after the click on Disconnect app (${ended.how}); within ${STREAM_END_MS} ms expected`);
        const code = await client.exit(30_000);
        assert.equal(code, 0, 'the Python client failed (its output follows)');
        const callEnded = client.event('call_ended');
        assert.ok(callEnded.error, 'the open call ended with an error');
        const refused = client.event('refresh_after_revoke');
        assert.equal(refused.status, 400);
        assert.equal(refused.body.error, 'invalid_grant');
        console.log(`  stream ended ${tookMs} ms after the click; the call failed ${callEnded.at - revokedAt} ms after it (${callEnded.error})`);

        const afterwards = await (await page.request.get(`${base}/api/v1/tokens/${ready.token_id}`)).json();
        assert.equal(afterwards.status, 'revoked');
        assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions');
      } catch (error) {
        client.kill();
        await client.exited;
        if (!error.message.includes('--- stdout')) error.message += `\n${client.transcript()}`;
        throw error;
      } finally {
        client.kill();
        await page.context().close();
      }
    });
  });
}
