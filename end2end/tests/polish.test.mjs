// What a demanding owner expects around the main journey: the token inspector, expiring-soon
// tokens, toasts, error pages, and coming back to the same page after the session expired.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatehouse, launchBrowser, newPage, waitHydrated, screenshotDir, signUp } from './helpers.mjs';

for (const backend of ['sqlite', 'postgres']) {
  describe(`polish in the browser (${backend})`, () => {
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

    test('inspector, expiring soon, toasts, 404 and an expired session', async () => {
      const page = await newPage(browser);
      const base = gatehouse.url;
      await signUp(page, base, 'owner@example.com', 'correct horse battery');

      // Two servers; a token for one of them that expires in three days.
      const serverIds = [];
      for (const name of ['Docs', 'Search']) {
        await page.goto(`${base}/servers/new`);
        await waitHydrated(page);
        await page.getByLabel('Name').fill(name);
        await page.getByLabel('Upstream URL').fill('http://127.0.0.1:9/mcp');
        await page.getByRole('button', { name: 'Add server' }).click();
        await page.getByRole('heading', { name, level: 1 }).waitFor();
        serverIds.push(page.url().split('/').pop());
      }
      await page.goto(`${base}/tokens/new?server=${serverIds[0]}`);
      await waitHydrated(page);
      await page.getByLabel('Description').fill('CI runner');
      await page.getByLabel('Expires').selectOption('date');
      const inThreeDays = new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10);
      await page.getByLabel('Date (if “On a date…”)').fill(inThreeDays);
      await page.getByRole('button', { name: 'Create token' }).click();
      const dialog = page.getByRole('dialog', { name: 'Your new token' });
      const token = (await dialog.getByTestId('new-token').inputValue()).trim();
      await dialog.getByRole('link', { name: 'I have copied it' }).click();
      await page.getByRole('heading', { name: 'CI runner', level: 1 }).waitFor();
      await page.getByText(/^expires in \d days?$/).first().waitFor();

      // The list badges it and filters to it.
      await page.goto(`${base}/tokens`);
      await waitHydrated(page);
      await page.getByRole('link', { name: 'Expiring soon' }).click();
      await page.waitForURL(`${base}/tokens?status=expiring`);
      await page.locator('tr', { hasText: 'CI runner' }).getByText(/^expires in/).waitFor();

      // The inspector: decoded claims and a verdict per server.
      await page.getByRole('link', { name: 'Inspect a token' }).first().click();
      await page.getByRole('heading', { name: 'Inspect a token', level: 1 }).waitFor();
      await waitHydrated(page);
      await page.getByLabel('Token', { exact: true }).fill(token);
      await page.getByRole('button', { name: 'Inspect' }).click();
      const result = page.getByTestId('inspection');
      await result.getByRole('heading', { name: 'A valid token of this organisation' }).waitFor();
      assert.match(await page.getByTestId('decoded-header').textContent(), /"alg": "HS256"/);
      assert.equal(await page.locator('[data-server-verdict="Docs"]').getAttribute('data-accepted'), 'true');
      await page.locator('[data-server-verdict="Search"]').getByText('Not associated with this server.').waitFor();
      await page.screenshot({ path: `${screenshotDir}/inspector-${backend}-1280.png`, fullPage: true });
      await page.getByLabel('Token', { exact: true }).fill('not a token');
      await page.getByRole('button', { name: 'Inspect' }).click();
      await page.getByText('A JWT has three parts separated by dots.').waitFor();

      // Revoking says so in a toast; the inspector then says when.
      await page.goto(`${base}/tokens`);
      await waitHydrated(page);
      await page.getByRole('link', { name: 'CI runner' }).click();
      await page.getByRole('heading', { name: 'CI runner', level: 1 }).waitFor();
      await page.getByText('Revoke “CI runner”…').click();
      await page.getByRole('button', { name: 'Revoke “CI runner”' }).click();
      await page.getByRole('status').filter({ hasText: '“CI runner” revoked.' }).waitFor();
      await page.goto(`${base}/inspect`);
      await waitHydrated(page);
      await page.getByLabel('Token', { exact: true }).fill(token);
      await page.getByRole('button', { name: 'Inspect' }).click();
      await page.locator('[data-server-verdict="Docs"]').getByText(/^Revoked at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/).waitFor();

      // Unknown pages and objects.
      const missing = await page.goto(`${base}/no/such/page`);
      assert.equal(missing.status(), 404);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      const gone = await page.goto(`${base}/tokens/00000000-0000-0000-0000-000000000000`);
      assert.equal(gone.status(), 404);
      await page.getByText('Not found', { exact: true }).waitFor();

      // The session expires while a page is open: the next step goes to the login page, and
      // logging in comes back to where the owner was going.
      await page.goto(`${base}/servers/${serverIds[1]}`);
      await waitHydrated(page);
      await page.context().clearCookies();
      await page.getByRole('navigation', { name: 'Sidebar' }).getByRole('link', { name: 'Tokens', exact: true }).click();
      await page.waitForURL(`${base}/login?next=/tokens`);
      await waitHydrated(page);
      await page.getByLabel('Email').fill('owner@example.com');
      await page.getByLabel('Password').fill('correct horse battery');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${base}/tokens`);
      await page.getByRole('heading', { name: 'Tokens', level: 1 }).waitFor();
      assert.deepEqual(page.errors.filter((e) => !/401/.test(e)), [], 'no console errors beyond the expected 401');
      await page.context().close();
    });
  });
}
