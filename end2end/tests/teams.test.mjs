// The team's journey, end to end: an owner makes an organisation and puts a real MCP server in
// it, invites a second person by link (sign-up is by invitation only here), who signs up through
// the link, makes a token for the team's server and uses it from the MCP TypeScript SDK; the
// owner removes them from the Members page, and the SDK's next call is refused with 401.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGatehouse, startDemoMcp, launchBrowser, newPage, waitHydrated, screenshotDir, signUp } from './helpers.mjs';

async function connectMcp(url, token) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  const client = new Client({ name: 'gatehouse-team-journey', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

for (const backend of ['sqlite', 'postgres']) {
  describe(`the team's journey (${backend})`, () => {
    let gatehouse;
    let demo;
    let browser;
    let client;
    before(async () => {
      demo = await startDemoMcp();
      gatehouse = await startGatehouse(backend, { GATEHOUSE_SIGNUP: 'invite', GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true' });
      browser = await launchBrowser();
    });
    after(async () => {
      await client?.close().catch(() => {});
      await browser?.close();
      await gatehouse?.stop();
      await demo?.stop();
    });

    test('invite a second person, who uses the team\'s server until removed', async () => {
      const base = gatehouse.url;
      const owner = await newPage(browser);
      // The very first account may always sign up.
      await signUp(owner, base, 'owner@example.com', 'correct horse battery');

      // A new organisation; the dashboard switches to it.
      await owner.goto(`${base}/members`);
      await waitHydrated(owner);
      await owner.getByLabel('Name', { exact: true }).fill('Acme');
      await owner.getByRole('button', { name: 'Create organisation' }).click();
      await owner.getByRole('heading', { name: 'Members of Acme', level: 1 }).waitFor();
      assert.equal((await owner.getByTestId('current-organisation').textContent()).trim(), 'Acme');

      // The team's server.
      await owner.goto(`${base}/servers/new`);
      await waitHydrated(owner);
      await owner.getByLabel('Name').fill('Team docs');
      await owner.getByLabel('Upstream URL').fill(`${demo.url}/mcp`);
      await owner.getByRole('button', { name: 'Add server' }).click();
      await owner.getByRole('heading', { name: 'Team docs', level: 1 }).waitFor();
      await owner.getByText(`Upstream ${demo.url}/mcp (Streamable HTTP) · in Acme`).waitFor();
      const serverId = owner.url().split('/').pop();
      const endpoint = `${base}/s/${serverId}/mcp`;

      // An invitation link for a member.
      await owner.goto(`${base}/members`);
      await waitHydrated(owner);
      await owner.getByLabel('Role', { exact: true }).selectOption('member');
      await owner.getByRole('button', { name: 'Make invitation link' }).click();
      const link = (await owner.getByLabel('Invitation link').textContent()).trim();
      assert.ok(link.startsWith(`${base}/join?code=ghi_`), link);
      await owner.screenshot({ path: `${screenshotDir}/teams-${backend}-members-invite.png`, fullPage: true });

      // The second person opens it in a browser of their own and signs up through it, although
      // sign-up is otherwise by (instance) invitation only.
      const member = await newPage(browser);
      await member.goto(link);
      await member.getByRole('heading', { name: 'Join Acme' }).waitFor();
      assert.match(await member.getByTestId('offer').textContent(), /invited as member/);
      await member.getByRole('link', { name: 'Sign up to join' }).click();
      await waitHydrated(member);
      await member.getByLabel('Email').fill('second@example.com');
      await member.getByLabel('Password').fill('another horse battery');
      await member.getByRole('button', { name: 'Create account' }).click();
      await member.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      assert.equal((await member.getByTestId('current-organisation').textContent()).trim(), 'Acme', 'the new account starts in Acme');

      // They make a token for the team's server and use it from the SDK.
      await member.goto(`${base}/tokens/new`);
      await waitHydrated(member);
      await member.getByLabel('Description').fill('Second laptop');
      await member.getByLabel('Team docs', { exact: true }).check();
      await member.getByRole('button', { name: 'Create token' }).click();
      const dialog = member.getByRole('dialog', { name: 'Your new token' });
      await dialog.waitFor();
      const token = (await dialog.getByTestId('new-token').inputValue()).trim();
      assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      await dialog.getByRole('link', { name: 'I have copied it' }).click();
      await member.getByText(/made by second@example.com in Acme/).waitFor();
      client = await connectMcp(endpoint, token);
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hello from the team' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'hello from the team' }]);

      // A member sees who is in the team, may leave, and gets no controls over the others.
      await member.goto(`${base}/members`);
      await waitHydrated(member);
      await member.locator('[data-member="owner@example.com"]').waitFor();
      assert.equal(await member.getByRole('button', { name: 'Change role' }).count(), 0);
      await member.getByRole('button', { name: 'Leave this organisation' }).waitFor();

      // The owner sees them, and removes them (their tokens are revoked).
      await owner.reload();
      await waitHydrated(owner);
      const row = owner.locator('[data-member="second@example.com"]');
      await row.waitFor();
      await row.getByText('Remove', { exact: true }).click();
      await row.getByRole('button', { name: 'Remove second@example.com' }).click();
      await owner.locator('[data-member="second@example.com"]').waitFor({ state: 'detached' });

      // The SDK's next call is refused.
      await assert.rejects(
        client.callTool({ name: 'echo', arguments: { text: 'still here?' } }),
        (error) => /401/.test(String(error?.message ?? error)) || error?.code === 401,
        'the removed member\'s token is refused with 401',
      );
      const direct = await fetch(endpoint, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      assert.equal(direct.status, 401);

      // And their dashboard is back in their personal organisation.
      await member.goto(`${base}/servers`);
      await waitHydrated(member);
      assert.equal((await member.getByTestId('current-organisation').textContent()).trim(), 'second@example.com');
      assert.equal(await member.getByText('Team docs').count(), 0, 'the team\'s server is no longer shown');
    });
  });
}
