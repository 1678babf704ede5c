// Starts a real Gatehouse process and a real Chromium for the browser tests.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createServer, connect } from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const PG_ADMIN = ['-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', 'postgres', '-qtAc'];

export const screenshotDir = new URL('../screenshots/', import.meta.url).pathname;
mkdirSync(screenshotDir, { recursive: true });

/** Runs `gatehouse serve` on a free port with its own data dir and database. */
export async function startGatehouse(backend, extraEnv = {}) {
  const bin = process.env.GATEHOUSE_BIN;
  if (!bin) throw new Error('GATEHOUSE_BIN must name the gatehouse binary (./dev test sets it)');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  let databaseUrl = `sqlite://${dir}/gatehouse.db`;
  let pgName;
  if (backend === 'postgres') {
    pgName = `gatehouse_e2e_${randomUUID().replaceAll('-', '')}`;
    execFileSync('psql', [...PG_ADMIN, `CREATE DATABASE "${pgName}"`]);
    databaseUrl = `postgres://postgres@127.0.0.1:5432/${pgName}`;
  }
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      GATEHOUSE_BIND: '127.0.0.1:0',
      GATEHOUSE_DATA_DIR: join(dir, 'data'),
      GATEHOUSE_LOG_FORMAT: 'json',
      DATABASE_URL: databaseUrl,
      NO_COLOR: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse did not start in 30 s:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk;
      const match = log.match(/"address":"([^"]+)"/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`gatehouse exited with ${code}:\n${log}`)); });
  });
  const url = `http://${address}`;
  return {
    url,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      if (pgName) execFileSync('psql', [...PG_ADMIN, `DROP DATABASE IF EXISTS "${pgName}" WITH (FORCE)`]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** A page that records every console error and uncaught exception. */
export async function newPage(browser, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  page.errors = [];
  // A 4xx answer to a bad form is expected (and logged by Chromium); any 5xx is a bug.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) page.errors.push(m.text());
  });
  page.on('response', (r) => { if (r.status() >= 500) page.errors.push(`${r.status()} from ${r.url()}`); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  return page;
}

/** Waits until the wasm bundle has hydrated the server-rendered page. */
export async function waitHydrated(page) {
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 20_000 });
}

/** A port nothing listens on right now, found by letting the kernel pick one. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once `port` on 127.0.0.1 accepts a TCP connection. */
async function waitForPort(port, { timeoutMs = 15_000, exited = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (exited()) throw new Error('the process exited before it listened');
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs `gatehouse demo-mcp` (a real MCP server: Streamable HTTP at /mcp, HTTP+SSE at /sse) on
 * a free loopback port. Returns its base URL, e.g. http://127.0.0.1:41234.
 */
export async function startDemoMcp() {
  const bin = process.env.GATEHOUSE_BIN;
  if (!bin) throw new Error('GATEHOUSE_BIN must name the gatehouse binary (./dev test sets it)');
  const port = await freePort();
  const child = spawn(bin, ['demo-mcp', '--bind', `127.0.0.1:${port}`], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let exitCode;
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { exitCode = code ?? signal; resolve(); }));
  try {
    await waitForPort(port, { exited: () => exitCode !== undefined });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`demo-mcp did not start (${error.message}; exit ${exitCode}):\n${log}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Signs up through the form and waits for the overview. */
export async function signUp(page, base, email, password) {
  await page.goto(`${base}/signup`);
  await waitHydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

/**
 * The REST API as a newly signed-up account (its session cookie): `{ api, id }`, where
 * `api(method, path, body)` answers the parsed JSON and fails the test on any error status.
 */
export async function signedIn(base, email) {
  const registered = await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ email, password: 'correct horse battery' }),
  });
  const me = await registered.json();
  assert.ok(registered.ok, `register: ${registered.status} ${JSON.stringify(me)}`);
  const cookie = registered.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const api = async (method, path, body) => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', origin: base, cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { api, id: me.id };
}
