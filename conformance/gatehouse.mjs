// Starts a Gatehouse binary on a scratch SQLite database and sets it up through its REST API:
// one account, a server that requires a token, an open one, and a token for the first.
import { spawn } from 'node:child_process';
import { copyFileSync, chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nothing listens on right now, found by letting the kernel pick one. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs `gatehouse serve` from a copy of `bin` in `dir` (the original may be rebuilt while we
 * run). The environment is ours plus the settings below, so GATEHOUSE_* knobs such as
 * GATEHOUSE_TOKEN_REQUESTS_PER_SECOND pass through; the working directory is `dir`, so no
 * gatehouse.toml of the checkout is read.
 */
export async function startGatehouse({ bin, dir }) {
  if (!bin || !existsSync(bin)) throw new Error(`GATEHOUSE_BIN must name a built gatehouse binary (got: ${bin || 'nothing'})`);
  const copy = join(dir, 'gatehouse');
  copyFileSync(bin, copy);
  chmodSync(copy, 0o755);
  mkdirSync(join(dir, 'site'), { recursive: true }); // the dashboard is not used: an empty site root
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  delete env.GATEHOUSE_CONFIG;
  Object.assign(env, {
    GATEHOUSE_BIND: `127.0.0.1:${port}`,
    DATABASE_URL: `sqlite://${dir}/g.db`,
    GATEHOUSE_DATA_DIR: join(dir, 'data'),
    GATEHOUSE_SITE_ROOT: join(dir, 'site'),
    GATEHOUSE_PUBLIC_URL: url,
    GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK: 'true', // the upstream is on this machine
    NO_COLOR: '1',
  });
  const logPath = join(dir, 'gatehouse.log');
  const log = createWriteStream(logPath);
  const child = spawn(copy, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, signal) => { exited = code ?? signal; });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`gatehouse exited (${exited}) before it was ready; log:\n${readFileSync(logPath, 'utf8')}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`gatehouse not ready within 30 s; log in ${logPath}`);
    await sleep(100);
  }
  return {
    url,
    logPath,
    async stop() {
      if (exited !== null) return;
      child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5000)]);
      if (exited === null) child.kill('SIGKILL');
    },
  };
}

/** A REST client holding the session cookie that registration set. */
async function register(url) {
  const response = await fetch(`${url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'conformance@example.com', password: 'conformance suite password' }),
  });
  if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('gatehouse_session='))?.split(';')[0];
  if (!cookie) throw new Error('register: no gatehouse_session cookie in the answer');
  return async (path, body) => {
    const r = await fetch(`${url}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
}

/**
 * Registers `upstreamUrl` twice (Streamable HTTP): `tokenServer` needs a bearer token,
 * `openServer` has require_token false. Returns their /s/{id}/mcp endpoints and the token for the first.
 */
export async function setUpServers(url, upstreamUrl) {
  const post = await register(url);
  const tokenServer = await post('/servers', { name: 'conformance (token)', upstream_url: upstreamUrl, transport: 'streamable_http' });
  const openServer = await post('/servers', {
    name: 'conformance (open)', upstream_url: upstreamUrl, transport: 'streamable_http', require_token: false,
  });
  if (openServer.require_token !== false) throw new Error(`the open server came back with require_token ${openServer.require_token}`);
  const created = await post('/tokens', { description: 'conformance suite', expires: 'never', server_ids: [tokenServer.id] });
  return { tokenEndpoint: tokenServer.mcp_endpoint, openEndpoint: openServer.mcp_endpoint, token: created.token };
}

/**
 * The answer to an MCP initialize POST at `endpoint`, with or without a token: the runner
 * uses it to show that the token server really refuses requests without the token.
 */
export async function probe(endpoint, token) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
      protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gatehouse-conformance-probe', version: '1' } } }),
  });
  await response.body?.cancel();
  return response.status;
}
