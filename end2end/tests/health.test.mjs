// Server health in a real browser: "Detect" on the form finds the transport of the URL typed
// (the demo's SSE endpoint, typed with the form's default Streamable HTTP), the saved server's
// page says it is up with its tools, and "Check now" checks again. Both engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, screenshotDir, signUp } from './helpers.mjs';

for (const backend of ['sqlite', 'postgres']) {
  describe(`server health in the browser (${backend})`, () => {
    let gatehouse;
    let demo;
    let browser;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, { GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('Detect picks the transport; the page shows the upstream up with its tools', async (t) => {
      const page = await newPage(browser);
      const base = gatehouse.url;
      await signUp(page, base, 'owner@example.com', 'correct horse battery');
      await page.goto(`${base}/servers/new`);
      await waitHydrated(page);
      await page.getByLabel('Name').fill('Demo over SSE');
      await page.getByLabel('Upstream URL').fill(`${demo.url}/sse`);
      assert.equal(await page.locator('#field-transport').inputValue(), 'streamable_http', 'the form starts on Streamable HTTP');
      await page.getByRole('button', { name: 'Detect' }).click();
      await page.getByText('answers over SSE').waitFor();
      assert.equal(await page.locator('#field-transport').inputValue(), 'sse', 'Detect chose SSE');
      await page.getByRole('button', { name: 'Add server' }).click();
      await page.getByRole('heading', { name: 'Demo over SSE', level: 1 }).waitFor();

      const summary = page.locator('[data-health-summary]');
      assert.match(await summary.innerText(), /^Up · 3 tools · checked /);
      const echo = page.locator('[data-tool="echo"]');
      assert.match(await echo.innerText(), /read-only/, 'echo is marked read-only');
      await waitHydrated(page);
      await page.getByRole('button', { name: 'Check now' }).click();
      await page.waitForFunction(() => document.querySelector('[data-health-summary]')?.textContent?.includes('checked just now'));
      await page.screenshot({ path: `${screenshotDir}/server-health-${backend}-1280.png`, fullPage: true });

      // Detect says why when nothing answers.
      await page.goto(`${base}/servers/new`);
      await waitHydrated(page);
      await page.getByLabel('Upstream URL').fill('http://127.0.0.1:9/mcp');
      await page.getByRole('button', { name: 'Detect' }).click();
      await page.getByText('Could not connect to 127.0.0.1:9').waitFor();
      assert.deepEqual(page.errors, []);
      t.diagnostic('Detect chose SSE; the page said Up with 3 tools; Check now checked again');
    });
  });
}
