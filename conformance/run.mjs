// Guards Gatehouse's protocol fidelity with the official MCP conformance suite
// (@modelcontextprotocol/conformance): its server scenarios are run against upstream.mjs
//   direct  the upstream itself: the reference
//   token   through Gatehouse, on a server that requires a token (token-proxy.mjs adds it)
//   open    through Gatehouse, on a server created with require_token false
// and every scenario whose result through the gateway is not the direct one is reported.
//
//   cd conformance && npm ci
//   GATEHOUSE_BIN=/path/to/gatehouse npm test            (npm runs it on node_modules' Node 22)
//   GATEHOUSE_BIN=... node_modules/.bin/node run.mjs [--expected-differences FILE] [--scenario NAME]... [--keep]
//
// Exit status 1 when a result through the gateway differs from the direct one (unless FILE
// lists that scenario and target; a listed one that no longer differs fails too, so the list
// is kept true), when the direct run itself has a failing check, or when anything breaks.
// Only the transport the suite speaks is run: Streamable HTTP (see README.md).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { startGatehouse, setUpServers, probe } from './gatehouse.mjs';
import { startTokenProxy } from './token-proxy.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NODE = join(here, 'node_modules', '.bin', 'node'); // npm's `node` package: Node 22
const SUITE_PKG = join(here, 'node_modules', '@modelcontextprotocol', 'conformance');
const SUITE_TIMEOUT_MS = 300_000; // one whole suite run; it takes seconds when all is well
const TARGETS = ['direct', 'token', 'open'];

const { values: options } = parseArgs({
  options: {
    'expected-differences': { type: 'string' },
    scenario: { type: 'string', multiple: true },
    keep: { type: 'boolean', default: false },
  },
});

const started = performance.now();
const seconds = (from, to = performance.now()) => ((to - from) / 1000).toFixed(1);
const cleanups = [];
let work;

async function main() {
  if (!existsSync(NODE) || !existsSync(SUITE_PKG)) throw new Error(`run \`npm ci\` in ${here} first`);
  const nodeVersion = execFileSync(NODE, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  if (Number(nodeVersion.slice(1).split('.')[0]) < 22) throw new Error(`the suite needs Node >= 22; ${NODE} is ${nodeVersion}`);
  const suiteVersion = JSON.parse(readFileSync(join(SUITE_PKG, 'package.json'), 'utf8')).version;
  const expected = loadExpected(options['expected-differences']);
  const bin = process.env.GATEHOUSE_BIN;
  if (!bin || !existsSync(bin)) throw new Error(`GATEHOUSE_BIN must name a built gatehouse binary (got: ${bin || 'nothing'})`);
  work = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));

  // The upstream, then Gatehouse in front of it, then the token proxy in front of Gatehouse.
  const upstream = await startUpstream();
  const gatehouse = await startGatehouse({ bin, dir: work });
  cleanups.push(() => gatehouse.stop());
  const { tokenEndpoint, openEndpoint, token } = await setUpServers(gatehouse.url, upstream.url);
  const gate = new URL(gatehouse.url);
  const proxy = await startTokenProxy({ targetPort: Number(gate.port), token });
  cleanups.push(() => proxy.close());
  const viaProxy = new URL(tokenEndpoint);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const urls = { direct: upstream.url, token: viaProxy.href, open: openEndpoint };

  // The token server must refuse a request without the token, or the token run proves nothing.
  const refused = await probe(tokenEndpoint);
  const admitted = await probe(tokenEndpoint, token);
  if (refused !== 401 || admitted !== 200) {
    throw new Error(`the token server answered ${refused} without the token and ${admitted} with it (want 401 and 200)`);
  }

  console.log(`suite   @modelcontextprotocol/conformance ${suiteVersion}, server scenarios, --suite all`);
  console.log(`node    ${nodeVersion} (${realpathSync(NODE)})`);
  console.log(`targets direct ${urls.direct}\n        token  ${urls.token} (proxy -> ${tokenEndpoint})\n        open   ${urls.open}`);
  console.log(`        token server without its token: ${refused}; with it: ${admitted}`);
  console.log(`set-up  ${seconds(started)} s; scratch dir ${work}\n`);

  const results = {};
  const timings = {};
  for (const target of TARGETS) {
    const t0 = performance.now();
    results[target] = await runSuite(target, urls[target]);
    timings[target] = seconds(t0);
  }
  const failedOverall = report(results, expected, proxy.stats, timings);
  return failedOverall;
}

/** Starts upstream.mjs on a free port (on the suite's Node); resolves to its /mcp URL. */
function startUpstream() {
  const child = spawn(NODE, [join(here, 'upstream.mjs'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => child.exitCode === null && child.kill('SIGTERM'));
  let errors = '';
  child.stderr.on('data', (chunk) => { errors += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`upstream did not start in 15 s: ${errors}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      const url = /listening (\S+)/.exec(String(chunk))?.[1];
      if (url) { clearTimeout(timer); resolve({ url, errors: () => errors }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`upstream exited (${code}): ${errors}`)); });
  });
}

/** One run of the suite against `url`; returns { scenario: checks[] } from its result files. */
async function runSuite(target, url) {
  const out = join(work, `results-${target}`);
  mkdirSync(out);
  const scenarios = options.scenario ?? [null];
  for (const scenario of scenarios) {
    const args = [join(SUITE_PKG, 'dist', 'index.js'), 'server', '--url', url, '-o', out,
      ...(scenario ? ['--scenario', scenario] : ['--suite', 'all'])];
    const child = spawn(NODE, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    // What actually runs the suite, read back from the kernel (Linux): Node 22 from node_modules.
    let exe = '';
    try { exe = realpathSync(`/proc/${child.pid}/exe`); } catch { /* not Linux */ }
    let log = '';
    child.stdout.on('data', (c) => { log += c; });
    child.stderr.on('data', (c) => { log += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), SUITE_TIMEOUT_MS);
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
    clearTimeout(timer);
    writeFileSync(join(work, `suite-${target}${scenario ? '-' + scenario : ''}.log`), log);
    if (exe && scenario === scenarios[0]) console.log(`ran ${target.padEnd(6)} on ${exe} (exit ${code})`);
    if (code === 'SIGKILL') throw new Error(`the suite against ${target} did not finish in ${SUITE_TIMEOUT_MS / 1000} s`);
  }
  const results = {};
  for (const dir of readdirSync(out)) {
    const name = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/.exec(dir)?.[1];
    if (name) results[name] = JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8'));
  }
  if (Object.keys(results).length === 0) throw new Error(`the suite wrote no results for ${target}; see ${work}/suite-${target}.log`);
  return results;
}

/** What a scenario's result is, for comparing: its checks that pass, warn or fail (INFO are logs). */
function verdict(checks) {
  if (!checks) return { text: 'missing', key: 'missing', checks: new Map() };
  const graded = checks.filter((c) => c.status !== 'INFO');
  const counted = graded.filter((c) => c.status === 'SUCCESS' || c.status === 'FAILURE');
  const passed = counted.filter((c) => c.status === 'SUCCESS').length;
  const warnings = graded.filter((c) => c.status === 'WARNING').length;
  const word = passed < counted.length ? 'FAIL' : warnings ? 'WARN' : 'PASS';
  const text = `${word} ${passed}/${counted.length}${warnings ? ` ${warnings}w` : ''}`;
  const key = graded.map((c) => `${c.id}=${c.status}`).sort().join(' ');
  return { text, key, checks: new Map(graded.map((c) => [c.id, c])) };
}

function loadExpected(path) {
  if (!path) return [];
  const list = JSON.parse(readFileSync(path, 'utf8'));
  for (const e of list) {
    if (!e.scenario || !TARGETS.slice(1).includes(e.target) || !e.reason) {
      throw new Error(`${path}: each entry needs scenario, target ("token" or "open") and reason: ${JSON.stringify(e)}`);
    }
  }
  return list;
}

/** Prints the table, the differences and the numbers; returns true when the run failed. */
function report(results, expected, proxyStats, timings) {
  const names = [...new Set(TARGETS.flatMap((t) => Object.keys(results[t])))];
  const width = Math.max(...names.map((n) => n.length), 8);
  const col = 16;
  console.log(`\n${'scenario'.padEnd(width)}  ${TARGETS.map((t) => t.padEnd(col)).join('')}`);
  const differences = [];
  let failures = 0; // unexpected differences, stale list entries, direct failures
  let same = 0;
  for (const name of names) {
    const direct = verdict(results.direct[name]);
    const cells = [direct.text.padEnd(col)];
    if (direct.text.startsWith('FAIL') || direct.key === 'missing') failures++;
    for (const target of TARGETS.slice(1)) {
      const v = verdict(results[target][name]);
      const listed = expected.find((e) => e.scenario === name && e.target === target);
      let mark = '';
      if (v.key !== direct.key) {
        differences.push({ name, target, direct, gateway: v, listed });
        mark = listed ? ' ≠ expected' : ' ≠';
        if (!listed) failures++;
      } else if (listed) {
        mark = ' (listed!)';
        failures++;
      } else {
        same++;
      }
      cells.push(`${v.text}${mark}`.padEnd(col));
    }
    console.log(`${name.padEnd(width)}  ${cells.join('')}`);
  }
  console.log('\nPASS/WARN/FAIL n/m: checks passed of those graded; w: warnings (SHOULDs); ≠: differs from direct');

  for (const d of differences) {
    console.log(`\n≠ ${d.name} via ${d.target}${d.listed ? ` (expected: ${d.listed.reason})` : ''}`);
    const ids = new Set([...d.direct.checks.keys(), ...d.gateway.checks.keys()]);
    for (const id of ids) {
      const a = d.direct.checks.get(id);
      const b = d.gateway.checks.get(id);
      if (a?.status === b?.status) continue;
      console.log(`  ${id}: direct ${a?.status ?? 'absent'}, ${d.target} ${b?.status ?? 'absent'}`);
      if (b?.errorMessage) console.log(`    ${b.errorMessage}`);
    }
  }
  for (const e of expected) {
    if (!differences.some((d) => d.name === e.scenario && d.target === e.target)) {
      console.log(`\nlisted as expected but not different now: ${e.scenario} via ${e.target}; remove it from the list`);
    }
  }

  const statuses = Object.entries(proxyStats.byStatus).map(([s, n]) => `${s}×${n}`).join(', ');
  console.log(`\ntoken proxy: ${proxyStats.requests} requests to Gatehouse, at most ${proxyStats.peakPerSecond()} in one second;` +
    ` answers ${statuses}`);
  for (const t of proxyStats.tooMany) {
    console.log(`  429 at request #${t.request} (${t.what}), ${t.atMs} ms after the proxy started, ` +
      `${t.inLastSecond} requests in the second before it, Retry-After ${t.retryAfter}`);
  }
  if (proxyStats.tooMany.length) {
    console.log('  (429s are the per-token rate limit, not a protocol matter: GATEHOUSE_TOKEN_REQUESTS_PER_SECOND=0 turns it off)');
  }
  console.log(`\ntime: ${TARGETS.map((t) => `${t} ${timings[t]} s`).join(', ')}; whole run ${seconds(started)} s`);
  const known = differences.filter((d) => d.listed).length;
  // One line a CI log reader counts: each scenario through each gateway target is one test.
  console.log(`conformance: ${same + known} passed, ${failures} failed` +
    ` (${names.length} scenarios x 2 gateway targets vs direct; ${known} expected differences)`);
  return failures > 0;
}

async function cleanUp() {
  for (const clean of cleanups.reverse()) await Promise.resolve(clean()).catch(() => {});
  cleanups.length = 0;
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => cleanUp().then(() => process.exit(130)));

main().then(
  async (failed) => {
    await cleanUp();
    if (failed || options.keep) console.log(`scratch dir kept: ${work} (suite logs, results, gatehouse.log)`);
    else rmSync(work, { recursive: true, force: true });
    process.exit(failed ? 1 : 0);
  },
  async (err) => {
    console.error(`conformance run failed: ${err.message}`);
    await cleanUp();
    if (work) console.error(`scratch dir kept: ${work}`);
    process.exit(1);
  },
);
