// What an admin sets up for scripts and colleagues in the browser: an API key made on the
// Account page drives the REST API; an invite link lets a colleague sign up when sign-up is by
// invitation only. Both database engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatehouse, launchBrowser, newPage, waitHydrated, signUp } from './helpers.mjs';

for (const backend of ['sqlite', 'postgres']) {
  describe(`API keys and invites in the browser (${backend})`, () => {
    let gatehouse;
    let browser;
    before(async () => {
      gatehouse = await startGatehouse(backend, { GATEHOUSE_SIGNUP: 'invite', GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
    });

    test('make an API key and use it, invite a colleague who signs up with the link', async () => {
      const base = gatehouse.url;
      const page = await newPage(browser);
      // The first account may always sign up; it is the admin.
      await signUp(page, base, 'ada@example.com', 'analytical engine');

      await page.goto(`${base}/account`);
      await waitHydrated(page);
      await page.getByLabel('Description').fill('deploy script');
      await page.getByLabel('Scope').selectOption('write');
      await page.getByRole('button', { name: 'Create API key' }).click();
      const shown = page.getByLabel('New API key');
      await shown.waitFor();
      const key = (await shown.textContent()).trim();
      assert.match(key, /^ghk_[A-Za-z0-9_-]{43}$/);
      await page.locator('[data-api-key]').filter({ hasText: 'deploy script' }).waitFor();

      // The key works without the browser's cookie; the same call without it does not.
      const created = await fetch(`${base}/api/v1/servers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'from a script', upstream_url: 'http://127.0.0.1:9/mcp', transport: 'streamable_http' }),
      });
      assert.equal(created.status, 201);
      assert.equal((await fetch(`${base}/api/v1/servers`)).status, 401);
      await page.goto(`${base}/servers`);
      await page.getByRole('link', { name: 'from a script' }).waitFor();

      // Revoked on the page: the script's next call is refused.
      await page.goto(`${base}/account`);
      await waitHydrated(page);
      const row = page.locator('[data-api-key]').filter({ hasText: 'deploy script' });
      await row.getByText('Revoke', { exact: true }).click();
      await row.getByRole('button', { name: 'Revoke key' }).click();
      await row.getByText('revoked', { exact: true }).waitFor();
      assert.equal((await fetch(`${base}/api/v1/servers`, { headers: { authorization: `Bearer ${key}` } })).status, 401);

      // Sign-up is by invitation: without a link it is refused, with one it works once.
      const stranger = await newPage(browser);
      await stranger.goto(`${base}/signup`);
      await waitHydrated(stranger);
      await stranger.getByLabel('Email').fill('mallory@example.com');
      await stranger.getByLabel('Password').fill('correct horse battery');
      await stranger.getByRole('button', { name: 'Create account' }).click();
      await stranger.getByText('by invitation').waitFor();
      await stranger.context().close();

      await page.goto(`${base}/admin/users`);
      await waitHydrated(page);
      await page.getByRole('button', { name: 'Make invite link' }).click();
      const link = (await page.getByLabel('Invite link').textContent()).trim();
      assert.ok(link.startsWith(`${base}/signup?invite=`), link);

      const colleague = await newPage(browser);
      await colleague.goto(link);
      await waitHydrated(colleague);
      await colleague.getByLabel('Email').fill('grace@example.com');
      await colleague.getByLabel('Password').fill('correct horse battery');
      await colleague.getByRole('button', { name: 'Create account' }).click();
      await colleague.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      assert.deepEqual(colleague.errors, [], 'no console errors for the colleague');
      await colleague.context().close();

      assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions');
      await page.context().close();
    });
  });
}
