// The account journey in a real browser, on both database engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatehouse, launchBrowser, newPage, waitHydrated, screenshotDir } from './helpers.mjs';

for (const backend of ['sqlite', 'postgres']) {
  describe(`accounts in the browser (${backend})`, () => {
    let gatehouse;
    let browser;
    before(async () => {
      gatehouse = await startGatehouse(backend);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
    });

    test('sign up, see the dashboard, log out and log in again', async () => {
      const page = await newPage(browser);
      const base = gatehouse.url;

      await page.goto(`${base}/tokens`);
      await page.waitForURL(`${base}/login?next=/tokens`);
      await waitHydrated(page);
      assert.equal(await page.title(), 'Log in · Gatehouse');

      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL(/\/signup\?next=\/tokens$/);
      await page.getByLabel('Email').fill('Ada@Example.com');
      await page.getByLabel('Password').fill('short');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByText('Use at least 8 characters.').waitFor();

      await page.getByLabel('Password').fill('analytical engine');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${base}/tokens`);
      await page.getByRole('heading', { name: 'Tokens', level: 1 }).waitFor();
      assert.equal(await page.getByTestId('signed-in-as').textContent(), 'ada@example.com');
      assert.equal(await page.title(), 'Tokens · Gatehouse');

      // The first account is the admin: it sees the Users page, listing itself.
      await page.getByRole('navigation', { name: 'Sidebar' }).getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(`${base}/admin/users`);
      await page.getByRole('cell', { name: 'ada@example.com', exact: true }).waitFor();

      await page.getByRole('navigation', { name: 'Sidebar' }).getByRole('link', { name: 'Overview' }).click();
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      await page.screenshot({ path: `${screenshotDir}/dashboard-${backend}-1280.png`, fullPage: true });

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${base}/login`);
      await page.goto(`${base}/`);
      await page.waitForURL(`${base}/login?next=/`);
      await waitHydrated(page);

      await page.getByLabel('Email').fill('ada@example.com');
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByText('Incorrect email or password.').waitFor();

      await page.getByLabel('Password').fill('analytical engine');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${base}/`);
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();

      assert.deepEqual(page.errors, [], 'no console errors or uncaught exceptions');
      await page.context().close();
    });

    test('the dashboard works at 375 px wide', async () => {
      const page = await newPage(browser, 375);
      const base = gatehouse.url;
      await page.goto(`${base}/login`);
      await waitHydrated(page);
      await page.getByLabel('Email').fill('ada@example.com');
      await page.getByLabel('Password').fill('analytical engine');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      const nav = page.getByRole('navigation', { name: 'Main' });
      assert.ok(await nav.isVisible(), 'the compact navigation shows on a phone');
      assert.ok(!(await page.getByRole('navigation', { name: 'Sidebar' }).isVisible()), 'the sidebar hides');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
      await page.screenshot({ path: `${screenshotDir}/dashboard-${backend}-375.png`, fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });
  });
}
