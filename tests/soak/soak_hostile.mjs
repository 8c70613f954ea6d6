// soak_hostile.mjs: the soak's broken calls: on a live session (SESSION_BROKEN) and without one (BROKEN: bad
// headers, oversized or malformed requests, garbage bytes). Each returns null when refused as expected.
import { randomBytes, randomInt } from 'node:crypto';
import { HOST, MCP_PATH, MAX_BODY, MAX_HEADER, pick, chance } from './soak_common.mjs';
import { request, refused, BASE_HEADERS, PING, raw, head, rawRefused } from './soak_client.mjs';

// ---- broken calls ----------------------------------------------------------------------------------------
export const SESSION_BROKEN = {
    async invalid_json(s) {
        const good = JSON.stringify({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' });
        const bad = pick([good.slice(0, randomInt(1, good.length - 1)), '{"jsonrpc":"2.0",,}', "{'jsonrpc':'2.0'}", '{"a":1}{"b":2}',
                          'nul', '\u0000\u0001', '{"jsonrpc":"2.0","id":1,"method":"ping"', '[' + '{'.repeat(20)]);
        return refused(await s.post(bad, {}, 'invalid JSON'), [400]);
    },
    async bad_shape(s) {
        const id = s.nextId++;
        const body = pick([
            { jsonrpc: '1.0', id, method: 'ping' }, { id, method: 'ping' }, { jsonrpc: '2.0', id, method: 5 },
            { jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }, { jsonrpc: '2.0', id: [1], method: 'ping' }, null, 'ping', 42,
            { jsonrpc: '2.0', id, method: 'tools/call', params: [1, 2] }, { jsonrpc: '2.0', id, method: 'tools/call', params: 'x' },
            { jsonrpc: '2.0', id, method: 'tools/call' }, { jsonrpc: '2.0', id, result: {}, error: { code: 1, message: 'x' } },
            { jsonrpc: '2.0', id, method: 'ping', params: 7 }]);
        return refused(await s.post(JSON.stringify(body), {}, 'bad JSON-RPC shape'), [200, 400]);
    },
    async unknown_method(s) {
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: pick(['nope', 'tools/nope', 'resources/list', 'prompts/get', '']) }, {}, 'unknown method');
        return refused(res, [200], { code: -32601 });
    },
    async bad_args(s) {
        const args = pick([{ text: 5 }, {}, { text: 'x', extra: true }, { text: null }, { text: ['a'] }, 'x', [1]]);
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'tools/call', params: { name: 'echo', arguments: args } }, {}, 'bad arguments');
        return refused(res, [200, 400], { toolError: true });
    },
    async unknown_tool(s) {
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'tools/call', params: { name: `no_such_${randomInt(1000)}`, arguments: {} } }, {}, 'unknown tool');
        return refused(res, [200], { toolError: true });
    },
    async bad_protocol_header(s) {
        if (s.version === '2025-03-26') return SESSION_BROKEN.bad_accept(s);
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }, { 'MCP-Protocol-Version': pick(['1999-01-01', 'banana', '2025-11-26']) }, 'bad MCP-Protocol-Version');
        return refused(res, [400]);
    },
    async bad_accept(s) {
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }, { Accept: pick(['text/html', 'image/png']) }, 'bad Accept');
        return refused(res, [406]);
    },
    async bad_content_type(s) {
        const res = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }, { 'Content-Type': pick(['text/plain', 'application/xml', 'multipart/form-data']) }, 'bad Content-Type');
        return refused(res, [415]);
    },
    async batch_not_allowed(s) {
        if (s.version === '2025-03-26') return SESSION_BROKEN.unknown_method(s);
        const res = await s.post([{ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }], {}, 'batch in a revision without batches');
        return refused(res, [400]);
    }
};

const wrongSession = () => pick([randomBytes(16).toString('hex'), 'x', randomBytes(40).toString('base64url')]);
const CLOSE = { ...BASE_HEADERS, Connection: 'close' };

export const BROKEN = {
    async no_session() {
        const method = pick(['POST', 'GET', 'DELETE']);
        const res = await request({ method, headers: method === 'GET' ? { Accept: 'text/event-stream' } : BASE_HEADERS,
                                    body: method === 'POST' ? PING : undefined, timeoutMs: 10000, what: 'no session id' });
        return refused(res, [400]);
    },
    async wrong_session() {
        const method = pick(['POST', 'GET', 'DELETE']);
        const res = await request({ method, headers: { ...(method === 'GET' ? { Accept: 'text/event-stream' } : BASE_HEADERS), 'Mcp-Session-Id': wrongSession() },
                                    body: method === 'POST' ? PING : undefined, timeoutMs: 10000, what: 'unknown session id' });
        return refused(res, [404]);
    },
    async bad_host() {
        const res = await request({ headers: { ...BASE_HEADERS, Host: pick(['evil.example.com', 'attacker.test:80', '10.0.0.1', 'localhost.evil.com']) },
                                    body: PING, timeoutMs: 10000, what: 'bad Host' });
        return refused(res, [403]);
    },
    async bad_origin() {
        const res = await request({ headers: { ...BASE_HEADERS, Origin: pick(['http://evil.example.com', 'https://attacker.test', 'null', 'http://127.0.0.1.evil.com']) },
                                    body: PING, timeoutMs: 10000, what: 'bad Origin' });
        return refused(res, [403]);
    },
    async oversized_body() {
        const size = MAX_BODY + randomInt(1, 65536);
        const prefix = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"';
        const suffix = '"}}}';
        if (chance(0.3)) return rawRefused(await raw(head('POST', MCP_PATH, CLOSE, 100 * MAX_BODY), { what: 'declared oversized body' }), [413]);
        if (chance(0.3)) {   // chunked, 16 KiB chunks
            let body = '';
            const chunk = 'x'.repeat(16384);
            for (let n = 0; n < size; n += chunk.length) body += `4000\r\n${chunk}\r\n`;
            return rawRefused(await raw(head('POST', MCP_PATH, { ...CLOSE, 'Transfer-Encoding': 'chunked' }) + body + '0\r\n\r\n', { what: 'chunked oversized body' }), [413]);
        }
        const body = prefix + 'x'.repeat(size - prefix.length - suffix.length) + suffix;
        return rawRefused(await raw(head('POST', MCP_PATH, CLOSE, body.length) + body, { what: 'oversized body' }), [413]);
    },
    async oversized_headers() {
        const wire = chance(0.5)
            ? head('POST', MCP_PATH, { ...CLOSE, 'X-Padding': 'p'.repeat(MAX_HEADER + randomInt(1, 8192)) }, PING.length) + PING
            : head('POST', MCP_PATH, { ...CLOSE, ...Object.fromEntries(Array.from({ length: Math.ceil(MAX_HEADER / 50) + 10 }, (_, i) => [`X-H${i}`, 'v'.repeat(50)])) }, PING.length) + PING;
        return rawRefused(await raw(wire, { what: 'oversized headers' }), [431]);
    },
    async cl_and_te() {
        const chunked = `${PING.length.toString(16)}\r\n${PING}\r\n0\r\n\r\n`;
        return rawRefused(await raw(head('POST', MCP_PATH, { ...CLOSE, 'Transfer-Encoding': 'chunked' }, chunked.length) + chunked, { what: 'Content-Length + Transfer-Encoding' }), [400]);
    },
    async two_content_lengths() {
        return rawRefused(await raw(head('POST', MCP_PATH, { ...CLOSE, 'Content-Length': PING.length + 3 }, PING.length) + PING, { what: 'two Content-Lengths' }), [400]);
    },
    async bad_chunk() {
        return rawRefused(await raw(head('POST', MCP_PATH, { ...CLOSE, 'Transfer-Encoding': 'chunked' }) + pick(['zz\r\nabc\r\n0\r\n\r\n', '-5\r\nabc\r\n0\r\n\r\n', 'ffffffffffffffffff\r\n']), { what: 'bad chunk' }), [400, 413]);
    },
    async garbage() {
        const wire = pick([
            Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), randomBytes(randomInt(16, 512))]),
            Buffer.concat([Buffer.from([0x00]), randomBytes(randomInt(1, 2048))]),
            'THIS IS NOT HTTP\r\n\r\n',
            'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
            `GET /healthz HTTP/1.1\nHost: ${HOST}\n\n`,
            Buffer.concat([Buffer.from('POST /mcp HTTP/1.1\r\nHost: '), randomBytes(64), Buffer.from('\r\n\r\n')])]);
        return rawRefused(await raw(wire, { what: 'garbage bytes' }), [400, 431]);
    },
    async bad_method() {
        return rawRefused(await raw(head(pick(['PUT', 'PATCH', 'OPTIONS']), MCP_PATH, CLOSE, 0), { what: 'method not allowed' }), [405]);
    },
    async unknown_path() {
        const res = await request({ method: 'GET', path: pick(['/nope', '/mcp/x', '/%00', '/../etc/passwd', '/healthz/x']), headers: {}, timeoutMs: 10000, what: 'unknown path' });
        return refused(res, [404, 400]);
    }
};
