// fixture-server.mjs: a small stand-in for `rollout-mcp serve` built only from the official
// TypeScript SDK (@modelcontextprotocol/sdk, pinned in tests/package.json). It exists to validate
// the Node-side harness (with_server.sh, sdk_client_e2e.mjs, conformance/run.sh) without the C++
// server: it registers the conformance fixture tools of a tools-only server plus `echo`, keeps
// stateful sessions with a replay buffer (Last-Event-ID resumption), answers GET /healthz, and
// accepts the same command line as the real binary:
//
//   node fixture-server.mjs serve --config FILE.toml [--port-file PATH]
//
// Only `[server] bind` and `[server] port` (0 = any free port) are read from the TOML file.
// It listens on loopback only. It is test tooling, not part of the product.
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, ErrorCode, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
if (process.argv[2] !== 'serve') {
    console.error('usage: fixture-server.mjs serve --config FILE [--port-file PATH]');
    process.exit(2);
}
let bind = '127.0.0.1';
let port = 0;
const configPath = arg('config');
if (configPath) {
    let section = '';
    for (const raw of readFileSync(configPath, 'utf8').split('\n')) {
        const line = raw.replace(/#.*$/, '').trim();
        const sec = line.match(/^\[(.+)\]$/);
        if (sec) { section = sec[1]; continue; }
        const kv = line.match(/^([A-Za-z0-9_]+)\s*=\s*(.+)$/);
        if (!kv || section !== 'server') continue;
        const value = kv[2].trim().replace(/^"(.*)"$/, '$1');
        if (kv[1] === 'bind') bind = value;
        if (kv[1] === 'port') port = Number(value);
    }
}
const portFile = arg('port-file');

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV_MIN = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const NO_ARGS = { type: 'object', properties: {}, additionalProperties: false };
const sleep = ms => new Promise(r => setTimeout(r, ms));

const TOOLS = [
    { name: 'echo', description: 'Echo the text back', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
    { name: 'test_simple_text', description: 'Returns one text block', inputSchema: NO_ARGS },
    { name: 'test_image_content', description: 'Returns a 1x1 PNG image block', inputSchema: NO_ARGS },
    { name: 'test_audio_content', description: 'Returns a minimal WAV audio block', inputSchema: NO_ARGS },
    { name: 'test_embedded_resource', description: 'Returns an embedded text resource', inputSchema: NO_ARGS },
    { name: 'test_multiple_content_types', description: 'Returns text, image and resource blocks', inputSchema: NO_ARGS },
    { name: 'test_tool_with_logging', description: 'Emits three log notifications', inputSchema: NO_ARGS },
    { name: 'test_tool_with_progress', description: 'Emits progress 0, 50, 100 of 100', inputSchema: NO_ARGS },
    { name: 'test_error_handling', description: 'Always fails with isError', inputSchema: NO_ARGS },
    { name: 'test_reconnection', description: 'Closes the POST stream after priming and delivers the result on resume', inputSchema: NO_ARGS },
    {
        name: 'json_schema_2020_12_tool',
        description: 'Input schema in JSON Schema 2020-12',
        inputSchema: {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            type: 'object',
            $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
            properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
            additionalProperties: false
        }
    }
];

// Ordered per-process event store: ids "<streamId>|<seq>".
function makeEventStore() {
    const events = [];
    let seq = 0;
    return {
        async storeEvent(streamId, message) {
            const eventId = `${streamId}|${++seq}`;
            events.push({ eventId, streamId, seq, message });
            return eventId;
        },
        async getStreamIdForEventId(eventId) {
            return eventId.split('|')[0];
        },
        async replayEventsAfter(lastEventId, { send }) {
            const [streamId, s] = lastEventId.split('|');
            const after = Number(s);
            for (const e of events) if (e.streamId === streamId && e.seq > after) await send(e.eventId, e.message);
            return streamId;
        }
    };
}

function buildServer(getTransport) {
    const server = new Server({ name: 'fixture-ref-server', version: '0.0.1' }, { capabilities: { tools: {}, logging: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
        const { name } = req.params;
        const args = req.params.arguments ?? {};
        const log = async data => extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
        switch (name) {
            case 'echo':
                return { content: [{ type: 'text', text: String(args.text ?? '') }] };
            case 'test_simple_text':
                return { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] };
            case 'test_image_content':
                return { content: [{ type: 'image', data: PNG_1X1, mimeType: 'image/png' }] };
            case 'test_audio_content':
                return { content: [{ type: 'audio', data: WAV_MIN, mimeType: 'audio/wav' }] };
            case 'test_embedded_resource':
                return { content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'Embedded resource text.' } }] };
            case 'test_multiple_content_types':
                return {
                    content: [
                        { type: 'text', text: 'Mixed content:' },
                        { type: 'image', data: PNG_1X1, mimeType: 'image/png' },
                        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } }
                    ]
                };
            case 'test_tool_with_logging':
                await log('Tool execution started');
                await sleep(50);
                await log('Tool processing data');
                await sleep(50);
                await log('Tool execution completed');
                return { content: [{ type: 'text', text: 'Logging tool done' }] };
            case 'test_tool_with_progress': {
                const token = extra._meta?.progressToken;
                for (const p of [0, 50, 100]) {
                    if (token !== undefined) {
                        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: p, total: 100 } });
                    }
                    if (p < 100) await sleep(50);
                }
                return { content: [{ type: 'text', text: `progress done (token ${String(token)})` }] };
            }
            case 'test_error_handling':
                return { isError: true, content: [{ type: 'text', text: 'This tool always fails (test fixture).' }] };
            case 'test_reconnection': {
                const t = getTransport();
                if (t) t.closeSSEStream(extra.requestId);
                await sleep(100);
                return { content: [{ type: 'text', text: 'Reconnection test completed successfully.' }] };
            }
            case 'json_schema_2020_12_tool':
                return { content: [{ type: 'text', text: JSON.stringify(args) }] };
            default:
                throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
        }
    });
    return server;
}

const sessions = new Map();
function httpError(res, status, code, message) {
    if (res.headersSent) return;
    res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

async function handle(req, res) {
    const sid = req.headers['mcp-session-id'];
    if (sid) {
        const transport = sessions.get(sid);
        if (!transport) return httpError(res, 404, -32001, 'Session not found');
        // The SDK transport decides SSE priming from the request's MCP-Protocol-Version header;
        // the spec says to behave per the *negotiated* revision, so present that one.
        if (req.headers['mcp-protocol-version'] && transport.negotiatedVersion) {
            req.headers['mcp-protocol-version'] = transport.negotiatedVersion;
            for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
                if (req.rawHeaders[i].toLowerCase() === 'mcp-protocol-version') req.rawHeaders[i + 1] = transport.negotiatedVersion;
            }
        }
        return transport.handleRequest(req, res, req.body);
    }
    if (req.method === 'POST' && isInitializeRequest(req.body)) {
        let transport;
        transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID().replace(/-/g, ''),
            eventStore: makeEventStore(),
            retryInterval: 500,
            onsessioninitialized: id => sessions.set(id, transport)
        });
        const offered = req.body.params?.protocolVersion;
        transport.negotiatedVersion = ['2025-11-25', '2025-06-18', '2025-03-26'].includes(offered) ? offered : '2025-11-25';
        transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
        await buildServer(() => transport).connect(transport);
        return transport.handleRequest(req, res, req.body);
    }
    return httpError(res, 400, -32000, 'Bad Request: No valid session ID provided');
}

const app = createMcpExpressApp({ host: bind });
app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
app.all('/mcp', async (req, res) => {
    try {
        await handle(req, res);
    } catch (err) {
        console.error('fixture-server error:', err);
        httpError(res, 500, -32603, 'Internal server error');
    }
});
const httpServer = app.listen(port, bind, () => {
    const actual = httpServer.address().port;
    if (portFile) writeFileSync(portFile, `${actual}\n`);
    console.log(`fixture-ref-server listening http://${bind}:${actual}/mcp pid=${process.pid}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        for (const t of sessions.values()) t.close().catch(() => {});
        httpServer.close(() => process.exit(0));
        httpServer.closeAllConnections?.();
        setTimeout(() => process.exit(0), 2000).unref();
    });
}
