// A tiny pass-through HTTP proxy in front of Gatehouse that adds `Authorization: Bearer <token>`.
//
// Why it exists: the conformance suite has no option to send headers. Its scenarios connect
// with the SDK's StreamableHTTPClientTransport (no requestInit given), raw fetch() and undici
// request(), so a token can only be added outside it.
//
// The token goes only on requests whose Host is the proxy's own address, as a configured MCP
// client sends its token only to the server it was given. The dns-rebinding-protection
// scenario sends `Host: evil.example.com` to play a web page that a DNS-rebinding attack
// pointed at this machine; such a page has no token, so that request goes on without one.
//
// Everything else is passed through untouched (method, path, headers including Host, body,
// streamed answers), so what Gatehouse sees is what the suite sent. It also keeps the numbers
// the report needs: requests, answers by status, and each 429 with the load at that moment.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

function withoutHopByHop(headers) {
  const out = { ...headers };
  for (const name of HOP_BY_HOP) delete out[name];
  return out;
}

/** Starts the proxy on 127.0.0.1 (free port); resolves to { port, stats, close() }. */
export async function startTokenProxy({ targetPort, token }) {
  const agent = new http.Agent({ keepAlive: true });
  const started = performance.now();
  const arrivals = []; // ms since start, one per request
  const stats = {
    requests: 0,
    byStatus: {},
    tooMany: [],
    /** The most requests that arrived within any one second: the load the rate limit saw. */
    peakPerSecond: () => Math.max(0, ...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 1000).length)),
  };

  const server = http.createServer((req, res) => {
    const number = ++stats.requests;
    const at = performance.now() - started;
    arrivals.push(at);
    const headers = withoutHopByHop(req.headers);
    if (headers.host === `127.0.0.1:${server.address().port}`) headers.authorization = `Bearer ${token}`;

    // Peek at the JSON-RPC method (for the 429 report) while the body streams through.
    let head = '';
    req.on('data', (chunk) => { if (head.length < 300) head += chunk.toString('utf8'); });

    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, agent },
      (answer) => {
        stats.byStatus[answer.statusCode] = (stats.byStatus[answer.statusCode] ?? 0) + 1;
        if (answer.statusCode === 429) {
          const rpc = /"method"\s*:\s*"([^"]+)"/.exec(head)?.[1];
          stats.tooMany.push({
            request: number,
            atMs: Math.round(at),
            what: rpc ? `${req.method} ${rpc}` : req.method,
            inLastSecond: arrivals.filter((t) => t > at - 1000).length,
            retryAfter: answer.headers['retry-after'],
          });
        }
        res.writeHead(answer.statusCode, withoutHopByHop(answer.headers));
        res.flushHeaders(); // SSE: the client must see the headers before the first event
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('token proxy: Gatehouse did not answer');
    });
    // A client that goes away (the SDK aborting its GET stream) must end the request to
    // Gatehouse too, or Gatehouse would count a stream that nobody holds.
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
    req.pipe(upstream);
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); agent.destroy(); }),
  };
}
