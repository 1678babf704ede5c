// The owner's management journey in a real browser: a server, a token shown once, association,
// revocation, the signing key and the audit log.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatehouse, launchBrowser, newPage, waitHydrated, screenshotDir, signUp } from './helpers.mjs';

for (const backend of ['sqlite', 'postgres']) {
  describe(`management in the browser (${backend})`, () => {
    let gatehouse;
    let browser;
    before(async () => {
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
    });

    test('add a server, create a token, see it once, revoke it', async () => {
      const page = await newPage(browser);
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gatehouse.url });
      const base = gatehouse.url;
      await signUp(page, base, 'owner@example.com', 'correct horse battery');

      // A server, with an upstream header whose value is never shown again.
      await page.goto(`${base}/servers/new`);
      await waitHydrated(page);
      await page.getByLabel('Name').fill('Docs search');
      await page.getByLabel('Upstream URL').fill('ftp://nope');
      await page.getByRole('button', { name: 'Add server' }).click();
      await page.getByText('Use an http:// or https:// URL.').waitFor();
      await page.getByLabel('Upstream URL').fill('http://127.0.0.1:9/mcp');
      await page.getByLabel('Upstream headers').fill('Authorization: Bearer upstream-secret-123');
      await page.getByRole('button', { name: 'Add server' }).click();
      await page.getByRole('heading', { name: 'Docs search', level: 1 }).waitFor();
      const serverUrl = page.url();
      assert.match(serverUrl, /\/servers\/[0-9a-f-]{36}$/);
      const html = await page.content();
      assert.ok(!html.includes('upstream-secret-123'), 'the header value is never shown');
      assert.ok(html.includes('authorization:'), 'its name is');
      const serverId = serverUrl.split('/').pop();
      assert.ok(html.includes(`${base}/s/${serverId}/mcp`), 'the hosted endpoint is shown');
      await page.screenshot({ path: `${screenshotDir}/server-detail-${backend}-1280.png`, fullPage: true });

      // A token for it, shown once with snippets.
      await page.getByRole('link', { name: 'New token for this server' }).click();
      await page.getByRole('heading', { name: 'New token', level: 1 }).waitFor();
      await waitHydrated(page);
      await page.getByLabel('Description').fill('Claude Desktop');
      await page.getByLabel('Expires').selectOption('7d');
      assert.ok(await page.getByLabel('Docs search').isChecked(), 'the server is preselected');
      await page.getByRole('button', { name: 'Create token' }).click();
      const dialog = page.getByRole('dialog', { name: 'Your new token' });
      await dialog.waitFor();
      const token = (await dialog.getByTestId('new-token').inputValue()).trim();
      assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWT');
      await dialog.getByRole('button', { name: 'Copy token' }).click();
      await dialog.getByRole('button', { name: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, 'the clipboard holds the token');
      await dialog.getByRole('tab', { name: 'Client config' }).click();
      const config = await dialog.getByRole('tabpanel', { name: 'Client config' }).locator('code').textContent();
      const parsed = JSON.parse(config);
      assert.equal(parsed.mcpServers['docs-search'].url, `${base}/s/${serverId}/mcp`);
      assert.equal(parsed.mcpServers['docs-search'].headers.Authorization, `Bearer ${token}`);
      await page.screenshot({ path: `${screenshotDir}/token-dialog-${backend}-1280.png`, fullPage: true });
      await dialog.getByRole('link', { name: 'I have copied it' }).click();

      // The token's page keeps only the display form.
      await page.getByRole('heading', { name: 'Claude Desktop', level: 1 }).waitFor();
      const detail = await page.content();
      assert.ok(!detail.includes(token), 'the token string is not shown again');
      assert.ok(detail.includes(`${token.slice(0, 8)}…${token.slice(-4)}`), 'its display form is');
      await page.getByRole('link', { name: 'Docs search' }).first().waitFor();

      // The list shows it active; revoking asks first and names it.
      await page.goto(`${base}/tokens`);
      await waitHydrated(page);
      const row = page.locator('tr', { hasText: 'Claude Desktop' });
      await row.getByText('active').waitFor();
      await row.getByRole('link', { name: 'Claude Desktop' }).click();
      await page.getByRole('heading', { name: 'Claude Desktop', level: 1 }).waitFor();
      await page.getByText('Revoke “Claude Desktop”…').click();
      await page.getByRole('button', { name: 'Revoke “Claude Desktop”' }).click();
      await page.getByText('revoked', { exact: true }).first().waitFor();
      await page.goto(`${base}/tokens?status=revoked`);
      await page.locator('tr', { hasText: 'Claude Desktop' }).getByText('revoked').waitFor();

      // The signing key was made with the first token; rotate it.
      await page.goto(`${base}/signing-key`);
      await waitHydrated(page);
      await page.getByRole('heading', { name: 'Active key' }).waitFor();
      await page.getByText('Rotate key…').click();
      await page.getByRole('button', { name: /^Rotate key [0-9a-f]{8} now$/ }).click();
      await page.getByText(/Revoke key [0-9a-f]{8}…/).waitFor();

      // Everything is in the audit log.
      await page.goto(`${base}/audit`);
      for (const action of ['account.signed_up', 'server.created', 'token.created', 'token.revoked', 'signing_key.rotated']) {
        await page.getByRole('cell', { name: action, exact: true }).first().waitFor();
      }
      await page.screenshot({ path: `${screenshotDir}/audit-log-${backend}-1280.png`, fullPage: true });
      assert.deepEqual(page.errors, [], 'no console errors or failed requests');
      await page.context().close();
    });

    test('without JavaScript a new token is still shown, once', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const base = gatehouse.url;
      await page.goto(`${base}/login`);
      await page.getByLabel('Email').fill('owner@example.com');
      await page.getByLabel('Password').fill('correct horse battery');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      await page.goto(`${base}/tokens/new`);
      await page.getByLabel('Description').fill('cron job');
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.waitForURL(/\/tokens\/[0-9a-f-]{36}$/);
      const token = (await page.getByTestId('new-token').inputValue()).trim();
      assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      await page.reload();
      await page.getByRole('heading', { name: 'cron job', level: 1 }).waitFor();
      assert.equal(await page.getByTestId('new-token').count(), 0, 'shown once, then gone');
      assert.ok(!(await page.content()).includes(token));
      await context.close();
    });
  });
}
