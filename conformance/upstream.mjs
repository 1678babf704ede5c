// The upstream MCP server that the conformance suite's *server* scenarios are run against,
// directly and through Gatehouse. Written with the official TypeScript SDK so that the
// direct run is the reference: whatever differs through the gateway is the gateway's doing.
//
//   node upstream.mjs [PORT]     PORT 0 (the default) picks a free one
//
// Prints `listening http://127.0.0.1:PORT/mcp` once it accepts connections.
//
// Streamable HTTP only, at /mcp: every scenario of @modelcontextprotocol/conformance 0.1.x
// connects with the SDK's StreamableHTTPClientTransport or raw fetch to the same URL; none
// speaks the old HTTP+SSE transport, so there is nothing here for it.
//
// The fixtures (tool, prompt and resource names, texts, schemas) are the ones the scenario
// descriptions in node_modules/@modelcontextprotocol/conformance ask for.
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import {
  CallToolRequestSchema, CompleteRequestSchema, CreateMessageResultSchema, ElicitResultSchema,
  ErrorCode, GetPromptRequestSchema, ListPromptsRequestSchema, ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema, ListToolsRequestSchema, McpError, ReadResourceRequestSchema,
  SubscribeRequestSchema, UnsubscribeRequestSchema, isInitializeRequest,
} from '@modelcontextprotocol/sdk/types.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A 1×1 PNG and a 10 ms silent 8 kHz mono WAV: the smallest valid media the scenarios accept.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = (() => {
  const samples = 80;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0); wav.writeUInt32LE(36 + samples * 2, 4); wav.write('WAVE', 8);
  wav.write('fmt ', 12); wav.writeUInt32LE(16, 16); wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(8000, 24); wav.writeUInt32LE(16000, 28); wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34);
  wav.write('data', 36); wav.writeUInt32LE(samples * 2, 40);
  return wav.toString('base64');
})();

const text = (t) => ({ content: [{ type: 'text', text: t }] });
const noArgs = { type: 'object', properties: {} };

// ---- tools: name → { description, inputSchema, run(args, ctx) } --------------------------
const tools = {
  test_simple_text: { description: 'Returns simple text', run: () => text('This is a simple text response for testing.') },
  test_image_content: {
    description: 'Returns an image',
    run: () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }),
  },
  test_audio_content: {
    description: 'Returns audio',
    run: () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }),
  },
  test_embedded_resource: {
    description: 'Returns an embedded resource',
    run: () => ({ content: [{ type: 'resource', resource: {
      uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }),
  },
  test_multiple_content_types: {
    description: 'Returns text, an image and a resource',
    run: () => ({ content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json',
        text: JSON.stringify({ test: 'data', value: 123 }) } },
    ] }),
  },
  test_tool_with_logging: {
    description: 'Sends three log messages while it runs',
    run: async (_args, ctx) => {
      await ctx.log('info', 'Tool execution started');
      await sleep(50);
      await ctx.log('info', 'Tool processing data');
      await sleep(50);
      await ctx.log('info', 'Tool execution completed');
      return text('Tool with logging executed successfully');
    },
  },
  test_error_handling: {
    description: 'Always fails',
    run: () => ({ isError: true, ...text('This tool intentionally returns an error for testing') }),
  },
  test_tool_with_progress: {
    description: 'Reports progress 0, 50 and 100 of 100',
    run: async (_args, ctx) => {
      for (const progress of [0, 50, 100]) {
        await ctx.progress(progress, 100);
        if (progress < 100) await sleep(50);
      }
      return text('Tool with progress executed successfully');
    },
  },
  test_sampling: {
    description: 'Asks the client to sample an LLM',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string', description: 'The prompt to send' } }, required: ['prompt'] },
    run: async (args, ctx) => {
      const result = await ctx.request({ method: 'sampling/createMessage', params: {
        messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }], maxTokens: 100 } },
      CreateMessageResultSchema);
      const answer = result.content?.type === 'text' ? result.content.text : JSON.stringify(result.content);
      return text(`LLM response: ${answer}`);
    },
  },
  test_elicitation: {
    description: 'Asks the user for a username and an email',
    inputSchema: { type: 'object', properties: { message: { type: 'string', description: 'The message to show' } }, required: ['message'] },
    run: (args, ctx) => elicit(ctx, String(args.message), {
      type: 'object',
      properties: {
        username: { type: 'string', description: "User's response" },
        email: { type: 'string', description: "User's email address" },
      },
      required: ['username', 'email'],
    }, 'User response'),
  },
  test_elicitation_sep1034_defaults: {
    description: 'Elicitation with a default for every primitive type (SEP-1034)',
    run: (_args, ctx) => elicit(ctx, 'Please review and update the form fields with defaults', {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'User name', default: 'John Doe' },
        age: { type: 'integer', description: 'User age', default: 30 },
        score: { type: 'number', description: 'User score', default: 95.5 },
        status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verification status', default: true },
      },
      required: [],
    }),
  },
  test_elicitation_sep1330_enums: {
    description: 'Elicitation with the five enum schema variants (SEP-1330)',
    run: (_args, ctx) => elicit(ctx, 'Please select options from the enum fields', {
      type: 'object',
      properties: {
        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        titledSingle: { type: 'string', oneOf: [
          { const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' },
          { const: 'value3', title: 'Third Option' }] },
        legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
        untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: { type: 'array', items: { anyOf: [
          { const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' }] } },
      },
      required: [],
    }),
  },
  json_schema_2020_12_tool: {
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
    run: (args) => text(`Received: ${JSON.stringify(args)}`),
  },
  // SEP-1699 polling: the server ends the POST's SSE stream before the result, and the client
  // gets the result by reconnecting (GET) with Last-Event-ID. The SDK only sends its priming
  // event (the usual first id) to clients of protocol 2025-11-25; the scenario says 2025-03-26
  // on this call, so a log message carries the event id the client resumes from.
  test_reconnection: {
    description: 'Closes its SSE stream mid-call; the result comes after the client reconnects',
    run: async (_args, ctx) => {
      await ctx.log('info', 'test_reconnection: closing this stream; reconnect with Last-Event-ID for the result');
      ctx.closeStream();
      await sleep(100);
      return text('Reconnection test completed');
    },
  },
};

async function elicit(ctx, message, requestedSchema, label = 'Elicitation completed') {
  const result = await ctx.request({ method: 'elicitation/create', params: { message, requestedSchema } }, ElicitResultSchema);
  return text(`${label}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
}

// ---- resources and prompts ------------------------------------------------------------------
const resources = {
  'test://static-text': { name: 'Static text', description: 'A static text resource', mimeType: 'text/plain',
    text: 'This is the content of the static text resource.' },
  'test://static-binary': { name: 'Static binary', description: 'A static PNG image', mimeType: 'image/png', blob: PNG },
  'test://watched-resource': { name: 'Watched resource', description: 'A resource to subscribe to', mimeType: 'text/plain',
    text: 'Watched resource content.' },
};
const TEMPLATE = /^test:\/\/template\/([^/]+)\/data$/;

const prompts = {
  test_simple_prompt: { description: 'A prompt without arguments', arguments: [],
    get: () => [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] },
  test_prompt_with_arguments: {
    description: 'A prompt with two arguments',
    arguments: [{ name: 'arg1', description: 'First test argument', required: true },
      { name: 'arg2', description: 'Second test argument', required: true }],
    get: (a) => [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` } }],
  },
  test_prompt_with_embedded_resource: {
    description: 'A prompt embedding a resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
    get: (a) => [
      { role: 'user', content: { type: 'resource', resource: { uri: a.resourceUri, mimeType: 'text/plain',
        text: 'Embedded resource content for testing.' } } },
      { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
    ],
  },
  test_prompt_with_image: { description: 'A prompt with an image', arguments: [],
    get: () => [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ] },
};
// Completion candidates per argument, filtered by the typed prefix.
const completions = { arg1: ['paris', 'park', 'party', 'test-value-1', 'testValue1'], arg2: ['testValue2', 'world'],
  id: ['123', '456', '789'] };

// ---- resumability: an in-memory event store (one per session) -----------------------------
function eventStore() {
  const events = []; // { id, streamId, message } in the order stored
  let next = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}_${next++}`;
      events.push({ id, streamId, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.find((e) => e.id === eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at < 0) return '';
      const { streamId } = events[at];
      for (const e of events.slice(at + 1)) {
        // Priming events are stored as `{}`; they are not messages to replay.
        if (e.streamId === streamId && Object.keys(e.message).length > 0) await send(e.id, e.message);
      }
      return streamId;
    },
  };
}

// ---- one SDK Server per session -------------------------------------------------------------
function newSession(transport) {
  const server = new Server({ name: 'gatehouse-conformance-upstream', version: '1.0.0' }, {
    capabilities: { tools: {}, prompts: {}, resources: { subscribe: true }, logging: {}, completions: {} },
  });
  const subscriptions = new Set();

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: Object.entries(tools).map(([name, t]) => ({ name, description: t.description, inputSchema: t.inputSchema ?? noArgs })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools[request.params.name];
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    // Everything a tool sends goes on the stream of the request that called it (relatedRequestId).
    const ctx = {
      log: async (level, data) => {
        if (!server.isMessageIgnored(level, extra.sessionId)) {
          await extra.sendNotification({ method: 'notifications/message', params: { level, logger: 'conformance', data } });
        }
      },
      progress: async (progress, total) => {
        const progressToken = request.params._meta?.progressToken;
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total } });
        }
      },
      request: (req, schema) => extra.sendRequest(req, schema),
      closeStream: () => transport.closeSSEStream(extra.requestId),
    };
    return tool.run(request.params.arguments ?? {}, ctx);
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: Object.entries(resources).map(([uri, r]) => ({ uri, name: r.name, description: r.description, mimeType: r.mimeType })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [{ uriTemplate: 'test://template/{id}/data', name: 'Template data', description: 'Data for an id',
      mimeType: 'application/json' }],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    const { uri } = request.params;
    const r = resources[uri];
    if (r) return { contents: [r.blob ? { uri, mimeType: r.mimeType, blob: r.blob } : { uri, mimeType: r.mimeType, text: r.text }] };
    const id = TEMPLATE.exec(uri)?.[1];
    if (id !== undefined) {
      return { contents: [{ uri, mimeType: 'application/json',
        text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
    }
    throw new McpError(-32002, `Resource not found: ${uri}`);
  });
  server.setRequestHandler(SubscribeRequestSchema, (request) => { subscriptions.add(request.params.uri); return {}; });
  server.setRequestHandler(UnsubscribeRequestSchema, (request) => { subscriptions.delete(request.params.uri); return {}; });

  server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: Object.entries(prompts).map(([name, p]) => ({ name, description: p.description, arguments: p.arguments })),
  }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => {
    const prompt = prompts[request.params.name];
    if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    const args = request.params.arguments ?? {};
    const missing = prompt.arguments.filter((a) => a.required && args[a.name] === undefined).map((a) => a.name);
    if (missing.length) throw new McpError(ErrorCode.InvalidParams, `Missing arguments: ${missing.join(', ')}`);
    return { description: prompt.description, messages: prompt.get(args) };
  });
  server.setRequestHandler(CompleteRequestSchema, (request) => {
    const { name, value } = request.params.argument;
    const values = (completions[name] ?? []).filter((v) => v.startsWith(value ?? ''));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

// ---- HTTP -----------------------------------------------------------------------------------
const port = Number(process.argv[2] ?? 0);
// createMcpExpressApp on 127.0.0.1 refuses a Host that is not localhost (DNS rebinding
// protection), which the dns-rebinding-protection scenario checks.
const app = createMcpExpressApp({ host: '127.0.0.1' });
const sessions = new Map(); // session id → transport

function jsonRpcError(res, status, message) {
  res.status(status).json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

async function handle(req, res) {
  const id = req.headers['mcp-session-id'];
  try {
    if (id !== undefined) {
      const transport = sessions.get(id);
      if (!transport) return jsonRpcError(res, 404, 'Session not found');
      return await transport.handleRequest(req, res, req.body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
      return jsonRpcError(res, 400, 'Bad Request: no session id (send initialize first)');
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: eventStore(),
      retryInterval: 100, // sent in priming events: how soon a client should reconnect
      onsessioninitialized: (sid) => sessions.set(sid, transport),
      onsessionclosed: (sid) => sessions.delete(sid),
    });
    transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
    await newSession(transport).connect(transport);
    await transport.handleRequest(req, res, req.body);
  } catch (err) {
    console.error('upstream: request failed:', err);
    if (!res.headersSent) jsonRpcError(res, 500, 'Internal error');
  }
}
app.post('/mcp', handle);
app.get('/mcp', handle);
app.delete('/mcp', handle);

const listener = app.listen(port, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${listener.address().port}/mcp`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const transport of sessions.values()) transport.close().catch(() => {});
    listener.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
