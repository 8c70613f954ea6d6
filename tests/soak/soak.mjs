#!/usr/bin/env node
// soak.mjs: the load driver of the soak test (issue 8 "Proof"), started by soak.sh against a running
// `rollout-mcp serve` (test fixtures on, auth none, short timeouts). Built-in modules only.
//
//   node soak.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --seconds 120 [--workers 40]
//                 [--max-body-bytes N] [--max-header-bytes N] [--request-timeout-ms N]
//                 [--sample-ms 5000] [--warmup 0.25] [--rss-pct 15] [--rss-mib 8] [--fd-slack 4]
//                 [--settle-s 20] [--report FILE] [--inject valid|fd|rss] [--only KIND,...]
//
// 1. Idle baseline: waits until connections left over from start-up are reaped, then reads the server's
//    open file descriptors (/proc/PID/fd) and RSS (/proc/PID/status VmRSS).
// 2. Load: --workers workers loop until --seconds pass, each iteration one of
//    - a valid session (initialize + notifications/initialized in a random protocol revision, then 2-8
//      operations: echo with a random text checked byte for byte, test_simple_text, the progress tool over
//      SSE (3 progress notifications + the result), test_tool_with_logging, ping, tools/list,
//      test_error_handling (isError with its text), logging/setLevel, a batch in 2025-03-26 sessions),
//      mixed with broken calls on the same session (invalid JSON, wrong JSON-RPC shapes, unknown method,
//      bad arguments, unknown tool, bad MCP-Protocol-Version, bad Accept / Content-Type, batch in a revision
//      without batches); the session is then DELETEd (and its id checked to be 404 afterwards) or abandoned
//      (the server's idle timeout ends it);
//    - a broken call without a session: no / unknown session id, bad Host, bad Origin, oversized body (real
//      or only declared, plain or chunked), oversized headers, Content-Length + Transfer-Encoding, two
//      Content-Lengths, a bad chunk, garbage bytes (TLS hello, binary, not HTTP, HTTP/2 preface), PUT,
//      unknown path;
//    - a dropped connection (raw sockets): half a request then close, connect and close, connect and stay
//      silent (the server must cut it off within request_timeout + 3 s), a whole request then close without
//      reading, a POST whose SSE response is read up to its first event and then destroyed (the session must
//      still answer afterwards), a GET SSE stream (a second GET on the session must get 409) dropped after
//      0-1 s.
//    Every --sample-ms: RSS, fd count, GET /healthz (status, time) and the sessions / connections / SSE
//    streams gauges of /metrics.
// 3. After the load: waits (at most --settle-s) until the fd count is back within --fd-slack of the baseline.
//
// Pass criteria (exit 0 only if all hold):
//   - no error in any valid call (wrong status, wrong result, JSON-RPC error, transport error, timeout);
//   - no 5xx answer to anything;
//   - every broken call refused as expected (the listed 4xx, or a JSON-RPC error / tool error in HTTP 200),
//     every silent connection cut off in time;
//   - /healthz 200 at every sample, and the server process alive at the end;
//   - RSS flat: the samples after the warm-up (--warmup, a fraction of the run) are split at the midpoint;
//     max(second half) <= max(warm-up..midpoint) + max(--rss-mib MiB, --rss-pct % of it);
//   - fd count back to <= baseline + --fd-slack after the load (within --settle-s).
// --inject makes one criterion fail on purpose (a self-test of the checks; the run must then FAIL):
//   valid: one echo result is compared with a wrong text; fd: 16 GET SSE streams are held open through the
//   final fd check; rss: the RSS bound is set below the reference (any non-shrinking RSS fails).
// --only KIND,... runs just those iterations (session, or a broken / dropped kind's name): a debugging aid.
import http from 'node:http';
import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';

// ---- options -------------------------------------------------------------------------------------------
function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const BASE = arg('base');
const PID = Number(arg('pid'));
const SECONDS = Number(arg('seconds', '120'));
if (!BASE || !PID || !(SECONDS > 0)) {
    console.error('usage: soak.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --seconds N [options]');
    process.exit(2);
}
const base = new URL(BASE);
const HOST = base.hostname;
const PORT = Number(base.port);
const MCP_PATH = arg('path', '/mcp');
const WORKERS = Number(arg('workers', '40'));
const MAX_BODY = Number(arg('max-body-bytes', '65536'));
const MAX_HEADER = Number(arg('max-header-bytes', '8192'));
const REQUEST_TIMEOUT_MS = Number(arg('request-timeout-ms', '2000'));
const SAMPLE_MS = Number(arg('sample-ms', String(Math.min(5000, Math.max(1000, Math.floor((SECONDS * 1000) / 12))))));
const WARMUP = Number(arg('warmup', '0.25'));
const RSS_PCT = Number(arg('rss-pct', '15'));
const RSS_MIB = Number(arg('rss-mib', '8'));
const FD_SLACK = Number(arg('fd-slack', '4'));
const SETTLE_S = Number(arg('settle-s', '20'));
const REPORT = arg('report');
const INJECT = arg('inject', process.env.SOAK_INJECT || '');
const ONLY = (arg('only', '') || '').split(',').filter(Boolean);
const VERSIONS = ['2025-11-25', '2025-11-25', '2025-11-25', '2025-06-18', '2025-03-26'];
const VALID_TIMEOUT_MS = 15000;

const sleep = ms => new Promise(r => setTimeout(r, ms));
const pick = a => a[randomInt(a.length)];
const chance = p => Math.random() < p;
const short = (v, n = 240) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
const now = () => performance.now();

// ---- statistics ------------------------------------------------------------------------------------------
const stats = {
    valid: {}, broken: {}, dropped: {},             // kind -> { n, ok, bad }
    status: {},                                       // HTTP status -> count (every response seen)
    validErrors: [], brokenAnomalies: [], serverErrors: [],
    counts: { validErrors: 0, brokenAnomalies: 0, serverErrors: 0 },
    sessions: { created: 0, deleted: 0, abandoned: 0 }
};
const KEEP = 30;   // details kept per list
function tally(category, kind, ok) {
    const t = (stats[category][kind] ??= { n: 0, ok: 0, bad: 0 });
    t.n++;
    ok ? t.ok++ : t.bad++;
}
function note(list, counter, entry) {
    stats.counts[counter]++;
    if (stats[list].length < KEEP) stats[list].push({ t: +((now() - loadStart) / 1000).toFixed(1), ...entry });
}
function seenStatus(status, what) {
    if (!status) return;
    stats.status[status] = (stats.status[status] || 0) + 1;
    if (status >= 500) note('serverErrors', 'serverErrors', { status, what });
}
const validOk = kind => tally('valid', kind, true);
function validFail(kind, detail) {
    tally('valid', kind, false);
    note('validErrors', 'validErrors', { kind, detail: short(detail, 400) });
}
function brokenResult(kind, ok, detail) {
    tally('broken', kind, ok);
    if (!ok) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: short(detail, 400) });
}

// ---- HTTP through a keep-alive agent ---------------------------------------------------------------------
// Idle pooled sockets are closed after 1 s, well before the server's request_timeout reaps them, so a request
// never goes out on a socket the server is closing at that very moment (fetch's pool keeps idle sockets 4 s
// and cannot be tuned without undici, hence node:http).
const agent = new http.Agent({ keepAlive: true, timeout: Math.max(200, Math.min(1000, REQUEST_TIMEOUT_MS / 2)) });
let loadStart = now();

function request({ method = 'POST', path = MCP_PATH, headers = {}, body, timeoutMs = VALID_TIMEOUT_MS, what = '' }) {
    return new Promise(resolve => {
        const t0 = now();
        let done = false;
        const finish = r => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            r.ms = now() - t0;
            seenStatus(r.status, what || `${method} ${path}`);
            resolve(r);
        };
        const req = http.request({ host: HOST, port: PORT, method, path, headers, agent }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => finish({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
            res.on('aborted', () => finish({ status: res.statusCode, error: 'response aborted' }));
            res.on('error', e => finish({ status: res.statusCode, error: `response: ${e.code || e.message}` }));
        });
        const timer = setTimeout(() => {
            finish({ error: `no answer within ${timeoutMs} ms` });
            req.destroy();
        }, timeoutMs);
        req.on('error', e => finish({ error: `${e.code || e.message}` }));
        req.end(body);
    });
}

// The JSON-RPC messages of a response body: one JSON document, or the data of each SSE event.
function messages(res) {
    const type = String(res.headers?.['content-type'] || '');
    if (type.startsWith('application/json')) return [].concat(JSON.parse(res.text));
    if (type.startsWith('text/event-stream')) {
        const out = [];
        for (const block of res.text.split(/\r?\n\r?\n/)) {
            const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, ''));
            if (data.length && data.join('\n').trim()) out.push(JSON.parse(data.join('\n')));
        }
        return out;
    }
    throw new Error(`unexpected Content-Type '${type}'`);
}

// ---- an MCP session --------------------------------------------------------------------------------------
class Session {
    constructor(version) {
        this.version = version;
        this.id = undefined;
        this.nextId = 1;
    }
    headers(extra = {}) {
        const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
        if (this.id) h['Mcp-Session-Id'] = this.id;
        if (this.id && this.version !== '2025-03-26') h['MCP-Protocol-Version'] = this.version;
        return { ...h, ...extra };
    }
    post(body, extra = {}, what = 'POST') {
        return request({ headers: this.headers(extra), body: typeof body === 'string' ? body : JSON.stringify(body), what });
    }
    // A request that must succeed: returns { msg, notes } or throws with a description.
    async call(method, params, { what = method } = {}) {
        const id = this.nextId++;
        const res = await this.post({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }, {}, what);
        if (res.error) throw new Error(`${what}: ${res.error}${res.status ? ` (HTTP ${res.status})` : ''}`);
        if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status}: ${short(res.text)}`);
        const all = messages(res);
        const msg = all.find(m => m.id === id);
        if (!msg) throw new Error(`${what}: no response with id ${id} in ${short(res.text)}`);
        if (msg.error) throw new Error(`${what}: JSON-RPC error ${JSON.stringify(msg.error)}`);
        return { msg, notes: all.filter(m => m.id === undefined), res };
    }
    async initialize() {
        const { msg, res } = await this.call('initialize', {
            protocolVersion: this.version, capabilities: {}, clientInfo: { name: 'soak', version: '1' }
        });
        const sid = res.headers['mcp-session-id'];
        if (!/^[\x21-\x7e]{16,}$/.test(sid || '')) throw new Error(`initialize: bad Mcp-Session-Id '${sid}'`);
        if (msg.result?.protocolVersion !== this.version)
            throw new Error(`initialize: asked ${this.version}, got ${msg.result?.protocolVersion}`);
        if (msg.result?.serverInfo?.name !== 'rollout-mcp') throw new Error(`initialize: serverInfo ${short(msg.result?.serverInfo)}`);
        this.id = sid;
        stats.sessions.created++;
        const n = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, {}, 'notifications/initialized');
        if (n.error || n.status !== 202) throw new Error(`notifications/initialized: ${n.error || `HTTP ${n.status} ${short(n.text)}`}`);
    }
}

function randomText() {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', 'é', 'ß', '中', '文', '🙂', '<', '>', '&', '{', '}', '\u2028'];
    const len = chance(0.1) ? randomInt(2000, 6000) : randomInt(0, 200);
    let s = '';
    for (let i = 0; i < len; i++) s += chance(0.7) ? String.fromCharCode(97 + randomInt(26)) : pick(alphabet);
    return s;
}
const textOf = r => (Array.isArray(r?.content) && r.content.length === 1 && r.content[0].type === 'text' ? r.content[0].text : undefined);
let injectedValid = false;

// ---- valid operations on a live session ------------------------------------------------------------------
const VALID_OPS = {
    async echo(s) {
        const text = randomText();
        const { msg } = await s.call('tools/call', { name: 'echo', arguments: { text } }, { what: 'tools/call echo' });
        let expect = text;
        if (INJECT === 'valid' && !injectedValid) { injectedValid = true; expect = `${text}#injected`; }
        if (msg.result?.isError || textOf(msg.result) !== expect)
            throw new Error(`echo: sent ${short(JSON.stringify(text), 80)}, got ${short(msg.result)}`);
    },
    async simple_text(s) {
        const { msg } = await s.call('tools/call', { name: 'test_simple_text', arguments: {} }, { what: 'tools/call test_simple_text' });
        if (textOf(msg.result) !== 'This is a simple text response for testing.' || msg.result.isError)
            throw new Error(`test_simple_text: ${short(msg.result)}`);
    },
    async progress(s) {
        const token = chance(0.5) ? `p-${randomBytes(4).toString('hex')}` : randomInt(1, 1e9);
        const { msg, notes, res } = await s.call('tools/call', { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } },
            { what: 'tools/call test_tool_with_progress' });
        if (!String(res.headers['content-type']).startsWith('text/event-stream')) throw new Error(`progress: not SSE (${res.headers['content-type']})`);
        const prog = notes.filter(n => n.method === 'notifications/progress');
        const seq = prog.map(n => n.params?.progress).join(',');
        if (seq !== '0,50,100' || prog.some(n => n.params?.progressToken !== token || n.params?.total !== 100))
            throw new Error(`progress: notifications ${short(prog)}`);
        if (textOf(msg.result) !== 'Progress tool completed') throw new Error(`progress: result ${short(msg.result)}`);
    },
    async logging(s) {
        const { msg } = await s.call('tools/call', { name: 'test_tool_with_logging', arguments: {} }, { what: 'tools/call test_tool_with_logging' });
        if (textOf(msg.result) !== 'Tool with logging executed successfully') throw new Error(`logging tool: ${short(msg.result)}`);
    },
    async ping(s) {
        const { msg } = await s.call('ping');
        if (JSON.stringify(msg.result) !== '{}') throw new Error(`ping: ${short(msg.result)}`);
    },
    async tools_list(s) {
        const { msg } = await s.call('tools/list', {});
        const names = (msg.result?.tools || []).map(t => t.name);
        if (!names.includes('echo') || !names.includes('test_simple_text')) throw new Error(`tools/list: ${short(names)}`);
    },
    async error_tool(s) {
        const { msg } = await s.call('tools/call', { name: 'test_error_handling', arguments: {} }, { what: 'tools/call test_error_handling' });
        if (msg.result?.isError !== true || textOf(msg.result) !== 'This tool intentionally returns an error for testing')
            throw new Error(`test_error_handling: ${short(msg.result)}`);
    },
    async set_level(s) {
        const { msg } = await s.call('logging/setLevel', { level: pick(['debug', 'info', 'warning', 'error']) });
        if (JSON.stringify(msg.result) !== '{}') throw new Error(`logging/setLevel: ${short(msg.result)}`);
    },
    async batch(s) {   // 2025-03-26 only
        const text = randomText();
        const a = s.nextId++, b = s.nextId++;
        const res = await s.post([{ jsonrpc: '2.0', id: a, method: 'ping' },
                                  { jsonrpc: '2.0', id: b, method: 'tools/call', params: { name: 'echo', arguments: { text } } }], {}, 'batch');
        if (res.error || res.status !== 200) throw new Error(`batch: ${res.error || `HTTP ${res.status} ${short(res.text)}`}`);
        const all = messages(res);
        const ra = all.find(m => m.id === a), rb = all.find(m => m.id === b);
        if (JSON.stringify(ra?.result) !== '{}' || textOf(rb?.result) !== text) throw new Error(`batch: ${short(res.text)}`);
    }
};
const VALID_WEIGHTS = [['echo', 5], ['simple_text', 2], ['progress', 3], ['logging', 1], ['ping', 2], ['tools_list', 1],
                       ['error_tool', 1], ['set_level', 1], ['batch', 1]];
function weighted(list) {
    const total = list.reduce((a, [, w]) => a + w, 0);
    let r = Math.random() * total;
    for (const [k, w] of list) if ((r -= w) < 0) return k;
    return list[0][0];
}

// ---- broken calls ----------------------------------------------------------------------------------------
// A refusal as expected: one of `statuses`; with 200 the body must be a JSON-RPC error (or a tool error when
// toolError). Anything else (a success, another status, no answer) is an anomaly; 5xx are counted apart too.
function refused(res, statuses, { toolError = false, code } = {}) {
    if (res.error && !res.status) return `no answer: ${res.error}`;
    if (!statuses.includes(res.status)) return `HTTP ${res.status} (expected ${statuses.join('/')}): ${short(res.text)}`;
    if (res.status === 200) {
        let msgs;
        try { msgs = messages(res); } catch (e) { return `HTTP 200 with an unreadable body: ${e.message}`; }
        const m = msgs.find(x => x.id !== undefined);
        if (!m) return `HTTP 200 without a response: ${short(res.text)}`;
        if (m.error) return code !== undefined && m.error.code !== code ? `JSON-RPC error ${m.error.code}, expected ${code}` : null;
        if (toolError && m.result?.isError === true) return null;
        return `HTTP 200 with a result: ${short(m.result)}`;
    }
    return null;
}

const SESSION_BROKEN = {
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
const BASE_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

// Raw exchange: connects, writes `wire`, reads until the server closes (or `timeoutMs`), returns
// { status, text, closed, error }. Requests carry `Connection: close` where the wire is HTTP at all.
function raw(wire, { timeoutMs = REQUEST_TIMEOUT_MS + 3000, what = 'raw' } = {}) {
    return new Promise(resolve => {
        const sock = net.connect(PORT, HOST);
        const chunks = [];
        let error = null, done = false;
        const finish = closed => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            const text = Buffer.concat(chunks).toString('latin1');
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
            const r = { status: m ? Number(m[1]) : 0, text: text.slice(text.indexOf('\r\n\r\n') + 4), closed, error };
            seenStatus(r.status, what);
            resolve(r);
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        sock.on('connect', () => { for (const w of [].concat(wire)) sock.write(w); });
        sock.on('data', d => chunks.push(d));
        sock.on('error', e => { error = e.code || e.message; });
        sock.on('close', () => finish(true));
    });
}
function head(method, path, headers, bodyLength) {
    let h = `${method} ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n`;
    for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
    if (bodyLength !== undefined) h += `Content-Length: ${bodyLength}\r\n`;
    return `${h}\r\n`;
}
function rawRefused(r, statuses) {
    if (!r.status) return `no answer (${r.closed ? 'closed' : 'still open'}${r.error ? `, ${r.error}` : ''})`;
    if (!statuses.includes(r.status)) return `HTTP ${r.status} (expected ${statuses.join('/')}): ${short(r.text)}`;
    if (!r.closed) return `HTTP ${r.status} but the connection stayed open despite Connection: close`;
    return null;
}
const CLOSE = { ...BASE_HEADERS, Connection: 'close' };

const BROKEN = {
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

// ---- dropped connections ---------------------------------------------------------------------------------
// Opens a raw socket and calls `act(sock, chunks)` once connected; resolves when the socket is gone.
function rawSocket(act) {
    return new Promise(resolve => {
        const sock = net.connect(PORT, HOST);
        const state = { data: Buffer.alloc(0), closed: false, error: null, onData: null, t0: now() };
        sock.on('data', d => { state.data = Buffer.concat([state.data, d]); state.onData?.(); });
        sock.on('error', e => { state.error = e.code || e.message; });
        sock.on('close', () => { state.closed = true; state.closedAt = now(); state.onData?.(); resolve(state); });
        sock.on('connect', () => act(sock, state));
    });
}
const waitFor = (state, pred, ms) => new Promise(resolve => {
    const timer = setTimeout(() => { state.onData = null; resolve(false); }, ms);
    const check = () => { if (pred()) { clearTimeout(timer); state.onData = null; resolve(true); } };
    state.onData = check;
    check();
});
const holdOpen = [];   // --inject fd: GET streams kept open through the final fd check
async function holdStreams(n) {
    for (let i = 0; i < n; i++) {
        const s = await liveSession();
        if (!s) continue;
        const sock = net.connect(PORT, HOST, () => sock.write(head('GET', MCP_PATH, { ...s.headers(), Accept: 'text/event-stream' })));
        sock.on('error', () => {});
        holdOpen.push(sock);
    }
}

async function liveSession() {
    const s = new Session(pick(VERSIONS));
    try { await s.initialize(); validOk('initialize'); return s; } catch (e) { validFail('initialize', e.message); return null; }
}

const DROPPED = {
    async half_request() {
        const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: randomText() } } });
        const wire = head('POST', MCP_PATH, BASE_HEADERS, body.length + randomInt(1, 100)) + body;
        const cut = randomInt(1, wire.length);
        await rawSocket(async sock => { sock.write(wire.slice(0, cut)); await sleep(randomInt(0, 200)); sock.destroy(); });
        return null;
    },
    async connect_close() {
        await rawSocket(async sock => { await sleep(randomInt(0, 300)); chance(0.5) ? sock.destroy() : sock.end(); });
        return null;
    },
    async silent_reaped() {   // the server must cut a silent (or stalled) connection off by itself
        const partial = chance(0.5) ? '' : pick(['POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b', head('POST', MCP_PATH, BASE_HEADERS, 500) + '{"json']);
        const limit = REQUEST_TIMEOUT_MS + 3000;
        const st = await rawSocket(async (sock, state) => {
            if (partial) sock.write(partial);
            if (!(await waitFor(state, () => state.closed, limit))) { state.notReaped = true; sock.destroy(); }
        });
        if (st.notReaped) return `a silent connection (${partial ? 'half a request' : 'nothing sent'}) was still open after ${limit} ms`;
        const lasted = st.closedAt - st.t0;
        if (lasted < REQUEST_TIMEOUT_MS * 0.8) return `the server closed a silent connection after ${lasted.toFixed(0)} ms (< request_timeout)`;
        return null;
    },
    async write_no_read() {
        const wire = chance(0.5) ? head('GET', '/healthz', {}) : head('POST', MCP_PATH, BASE_HEADERS, PING.length) + PING;
        await rawSocket(sock => { sock.write(wire); sock.destroy(); });
        return null;
    },
    async sse_post_drop() {   // read the start of an SSE answer, then destroy the socket; the session must live on
        const s = await liveSession();
        if (!s) return null;
        const body = JSON.stringify({ jsonrpc: '2.0', id: s.nextId++, method: 'tools/call',
                                      params: { name: pick(['test_tool_with_progress', 'test_tool_with_logging']), arguments: {}, _meta: { progressToken: 7 } } });
        const st = await rawSocket(async (sock, state) => {
            sock.write(head('POST', MCP_PATH, s.headers(), Buffer.byteLength(body)) + body);
            state.gotStart = await waitFor(state, () => state.data.includes('\n\n', state.data.indexOf('\r\n\r\n') + 4) || state.closed, 10000);
            if (chance(0.5)) await sleep(randomInt(0, 80));
            sock.destroy();
        });
        const status = /^HTTP\/1\.1 (\d{3})/.exec(st.data.toString('latin1'))?.[1];
        seenStatus(Number(status), 'dropped SSE POST');
        if (status !== '200' || !st.data.includes('text/event-stream')) validFail('sse_start', `SSE POST answered ${short(st.data.toString('latin1'))}`);
        else validOk('sse_start');
        await sleep(randomInt(0, 150));
        try { await VALID_OPS.ping(s); validOk('ping_after_drop'); } catch (e) { validFail('ping_after_drop', e.message); }
        await endSession(s);
        return null;
    },
    async get_sse_drop() {   // a GET stream opened and dropped; a second GET meanwhile gets 409
        const s = await liveSession();
        if (!s) return null;
        let second;   // undefined: no second GET tried; null: refused with 409; else what went wrong
        const st = await rawSocket(async (sock, state) => {
            sock.write(head('GET', MCP_PATH, { ...s.headers(), Accept: 'text/event-stream' }));
            const ok = await waitFor(state, () => state.data.includes('\r\n\r\n') || state.closed, 10000);
            if (ok && /^HTTP\/1\.1 200/.test(state.data.toString('latin1')) && chance(0.5)) {
                const res = await request({ method: 'GET', headers: { ...s.headers(), Accept: 'text/event-stream' }, timeoutMs: 10000, what: 'second GET stream' });
                second = refused(res, [409]);
            }
            await sleep(randomInt(0, 1000));
            sock.destroy();
        });
        const text = st.data.toString('latin1');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
        seenStatus(Number(status), 'GET stream');
        if (status !== '200' || !/content-type: text\/event-stream/i.test(text)) validFail('get_stream', `GET stream answered ${short(text)}`);
        else validOk('get_stream');
        if (second !== undefined) brokenResult('second_get_stream', second === null, second);
        await endSession(s);
        return null;
    }
};

// ---- workers ---------------------------------------------------------------------------------------------
let stopping = false;

async function endSession(s) {
    if (chance(0.45)) {
        const res = await request({ method: 'DELETE', headers: s.headers(), timeoutMs: VALID_TIMEOUT_MS, what: 'DELETE session' });
        if (res.error || res.status !== 200) validFail('delete', res.error || `HTTP ${res.status} ${short(res.text)}`);
        else {
            validOk('delete');
            stats.sessions.deleted++;
            if (chance(0.4)) {   // the ended session's id is now unknown
                const again = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }, {}, 'deleted session');
                const r = refused(again, [404]);
                brokenResult('deleted_session', r === null, r);
            }
        }
    } else {
        stats.sessions.abandoned++;
    }
}

async function validSession() {
    const s = await liveSession();
    if (!s) return;
    const ops = randomInt(2, 9);
    for (let i = 0; i < ops && !stopping; i++) {
        if (chance(0.25)) {
            const kind = pick(Object.keys(SESSION_BROKEN));
            const r = await SESSION_BROKEN[kind](s);
            brokenResult(kind, r === null, r);
        } else {
            let kind = weighted(VALID_WEIGHTS);
            if (kind === 'batch' && s.version !== '2025-03-26') kind = 'echo';
            try { await VALID_OPS[kind](s); validOk(kind); } catch (e) { validFail(kind, e.message); }
        }
        await sleep(randomInt(0, 15));
    }
    await endSession(s);
}

async function worker() {
    while (!stopping) {
        const r = Math.random();
        try {
            if (ONLY.length) {   // --only: a debugging aid, just the listed kinds
                const kind = pick(ONLY);
                if (kind === 'session') await validSession();
                else if (BROKEN[kind]) { const bad = await BROKEN[kind](); brokenResult(kind, bad === null, bad); }
                else { const bad = await DROPPED[kind](); tally('dropped', kind, bad === null); if (bad) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: bad }); }
            } else if (r < 0.5) await validSession();
            else if (r < 0.8) {
                const kind = pick(Object.keys(BROKEN));
                const bad = await BROKEN[kind]();
                brokenResult(kind, bad === null, bad);
            } else {
                const kind = pick(Object.keys(DROPPED));
                const bad = await DROPPED[kind]();
                tally('dropped', kind, bad === null);
                if (bad) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: bad });
            }
        } catch (e) {
            validFail('driver', `unexpected exception: ${e.stack || e}`);
        }
        await sleep(randomInt(0, 20));
    }
}

// ---- sampling ------------------------------------------------------------------------------------------
function rssKib() {
    try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, 'utf8'))[1]); } catch { return null; }
}
function fdCount() {
    try { return readdirSync(`/proc/${PID}/fd`).length; } catch { return null; }
}
const alive = () => existsSync(`/proc/${PID}`) && !/State:\s+Z/.test((() => { try { return readFileSync(`/proc/${PID}/status`, 'utf8'); } catch { return 'State: Z'; } })());
function plainGet(path) {   // a fresh connection, closed after the answer
    return new Promise(resolve => {
        const t0 = now();
        const req = http.get({ host: HOST, port: PORT, path, agent: false, headers: { Connection: 'close' }, timeout: 3000 }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8'), ms: now() - t0 }));
            res.on('error', () => resolve({ status: 0, ms: now() - t0 }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', e => resolve({ status: 0, error: e.code || e.message, ms: now() - t0 }));
    });
}
const gauge = (text, name) => { const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text || ''); return m ? Number(m[1]) : null; };
const samples = [];
const reqTotal = () => Object.values(stats.status).reduce((a, b) => a + b, 0);
async function sample(phase) {
    const rss = rssKib(), fds = fdCount();   // read before our own probes open connections
    const h = await plainGet('/healthz');
    const m = await plainGet('/metrics');
    const s = {
        t: +((now() - loadStart) / 1000).toFixed(1), phase, rss_kib: rss, fds, healthz: h.status, healthz_ms: +h.ms.toFixed(1),
        sessions: gauge(m.text, 'rollout_mcp_sessions'), connections: gauge(m.text, 'rollout_mcp_connections'),
        sse_streams: gauge(m.text, 'rollout_mcp_sse_streams'), requests: reqTotal()
    };
    samples.push(s);
    return s;
}

// ---- the run -------------------------------------------------------------------------------------------
const mib = kib => (kib / 1024).toFixed(1);
const fmtSample = s => `${String(s.t).padStart(7)}s ${s.phase.padEnd(8)} rss ${mib(s.rss_kib).padStart(6)} MiB  fds ${String(s.fds).padStart(4)}  ` +
    `healthz ${s.healthz} (${s.healthz_ms} ms)  sessions ${s.sessions}  conns ${s.connections}  sse ${s.sse_streams}  requests ${s.requests}`;

async function main() {
    if (!alive()) { console.log(`soak.mjs: FAIL server pid ${PID} is not running`); process.exit(1); }
    const unknown = ONLY.filter(k => k !== 'session' && !BROKEN[k] && !DROPPED[k]);
    if (unknown.length) {
        console.log(`soak.mjs: unknown --only kind(s) ${unknown.join(', ')}; known: session, ${Object.keys(BROKEN).join(', ')}, ${Object.keys(DROPPED).join(', ')}`);
        process.exit(2);
    }
    // 1. Idle baseline (connections from the start-up checks are reaped after request_timeout).
    await sleep(REQUEST_TIMEOUT_MS + 500);
    const baseFds = fdCount(), baseRss = rssKib();
    loadStart = now();
    console.log(`soak.mjs: idle baseline: ${baseFds} fds, RSS ${mib(baseRss)} MiB; ${WORKERS} workers for ${SECONDS} s, ` +
                `a sample every ${SAMPLE_MS} ms${INJECT ? `, INJECT=${INJECT}` : ''}`);
    const first = await sample('load');
    console.log(fmtSample(first));

    // 2. Load.
    const end = loadStart + SECONDS * 1000;
    const workers = Array.from({ length: WORKERS }, () => worker());
    while (now() < end) {
        await sleep(Math.min(SAMPLE_MS, end - now()));
        if (now() >= end - 50) break;
        console.log(fmtSample(await sample('load')));
        if (!alive()) { console.log('soak.mjs: the server process is gone'); break; }
    }
    const last = await sample('load');
    console.log(fmtSample(last));
    stopping = true;
    const drained = await Promise.race([Promise.all(workers).then(() => true), sleep(30000).then(() => false)]);
    const loadEnd = now();
    if (!drained) note('validErrors', 'validErrors', { kind: 'driver', detail: 'workers did not finish within 30 s of the end of the load' });

    // 3. Settle: connections are reaped, the fd count returns to the baseline.
    agent.destroy();
    if (INJECT === 'fd') await holdStreams(16);
    // Waits for the exact baseline (at most --settle-s); the criterion allows --fd-slack above it.
    let settled = null;
    while (now() - loadEnd < SETTLE_S * 1000) {
        await sleep(500);
        const f = fdCount();
        if (f === null) break;
        if (f <= baseFds + FD_SLACK && settled === null) settled = now() - loadEnd;
        if (f <= baseFds) break;
    }
    const after = await sample('after');
    const afterFds = after.fds;   // read before the sample's own /healthz and /metrics connections
    console.log(fmtSample(after));
    for (const s of holdOpen) s.destroy();

    // ---- criteria ----
    const failures = [];
    const isAlive = alive() && after.healthz === 200;
    if (!isAlive) failures.push(`the server is not alive at the end (process ${alive() ? 'running' : 'gone'}, /healthz ${after.healthz})`);
    const badHealth = samples.filter(s => s.healthz !== 200);
    if (badHealth.length) failures.push(`/healthz not 200 at ${badHealth.length} of ${samples.length} samples (t = ${badHealth.map(s => s.t).join(', ')} s)`);
    if (stats.counts.validErrors) failures.push(`${stats.counts.validErrors} error(s) in valid calls`);
    if (stats.counts.serverErrors) failures.push(`${stats.counts.serverErrors} 5xx answer(s)`);
    if (stats.counts.brokenAnomalies) failures.push(`${stats.counts.brokenAnomalies} broken call(s) / dropped connection(s) not handled as expected`);

    // RSS: samples after the warm-up, split at the midpoint of the run.
    const load = samples.filter(s => s.phase === 'load' && s.rss_kib !== null);
    const warm = WARMUP * SECONDS, mid = SECONDS / 2;
    const refWin = load.filter(s => s.t >= warm && s.t < mid), testWin = load.filter(s => s.t >= mid);
    let rssLine;
    if (refWin.length === 0 || testWin.length === 0) {
        failures.push(`too few RSS samples to judge (reference window ${refWin.length}, second half ${testWin.length}); run longer`);
        rssLine = 'RSS: not enough samples';
    } else {
        const ref = Math.max(...refWin.map(s => s.rss_kib)), top = Math.max(...testWin.map(s => s.rss_kib));
        let allowed = Math.max(RSS_MIB * 1024, (ref * RSS_PCT) / 100);
        if (INJECT === 'rss') allowed = -1;
        const bound = ref + allowed;
        rssLine = `RSS: max ${mib(ref)} MiB in [${warm.toFixed(0)} s, ${mid.toFixed(0)} s), max ${mib(top)} MiB in [${mid.toFixed(0)} s, ${SECONDS} s]; ` +
                  `bound ${mib(bound)} MiB (+max(${RSS_MIB} MiB, ${RSS_PCT} %)${INJECT === 'rss' ? ', INJECTED' : ''}); growth ${(top - ref >= 0 ? '+' : '')}${mib(top - ref)} MiB`;
        if (top > bound) failures.push(`RSS grew: ${mib(top)} MiB in the second half > bound ${mib(bound)} MiB`);
    }
    const fdLine = `fds: idle baseline ${baseFds}, peak under load ${Math.max(...load.map(s => s.fds ?? 0))}, after the load ${afterFds}` +
                   ` (bound ${baseFds + FD_SLACK}; ${settled !== null ? `within the bound ${(settled / 1000).toFixed(1)} s after the load` : `not within the bound ${SETTLE_S} s after the load`})`;
    if (afterFds === null || afterFds > baseFds + FD_SLACK) failures.push(`fd leak: ${afterFds} open fds ${SETTLE_S} s after the load, idle baseline ${baseFds} (+${FD_SLACK} allowed)`);

    // ---- summary ----
    const dur = (loadEnd - loadStart) / 1000;
    const total = reqTotal();
    const line = '-'.repeat(100);
    console.log(line);
    console.log(`soak summary: ${dur.toFixed(1)} s of load, ${WORKERS} workers, ${total} HTTP answers (${(total / dur).toFixed(0)}/s); ` +
                `sessions created ${stats.sessions.created}, deleted ${stats.sessions.deleted}, abandoned ${stats.sessions.abandoned}`);
    for (const cat of ['valid', 'broken', 'dropped']) {
        const kinds = Object.entries(stats[cat]).sort();
        const n = kinds.reduce((a, [, t]) => a + t.n, 0), bad = kinds.reduce((a, [, t]) => a + t.bad, 0);
        console.log(`  ${cat.padEnd(7)} ${String(n).padStart(7)} (${bad} bad): ` + kinds.map(([k, t]) => `${k} ${t.n}${t.bad ? ` [${t.bad} bad]` : ''}`).join(', '));
    }
    console.log(`  HTTP statuses: ${Object.entries(stats.status).sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    // Long runs: the series lines show at most ~60 samples, evenly spaced (every sample is printed above).
    const every = Math.ceil(load.length / 60);
    const series = load.filter((_, i) => i % every === 0 || i === load.length - 1);
    const thinned = every > 1 ? ` (1 sample in ${every})` : '';
    console.log(`  RSS series (MiB)${thinned}: ${series.map(s => mib(s.rss_kib)).join(' ')} | after ${mib(after.rss_kib)}`);
    console.log(`  fd series${thinned}:        ${series.map(s => s.fds).join(' ')} | after ${afterFds}`);
    console.log(`  sessions series${thinned}:  ${series.map(s => s.sessions).join(' ')} | after ${after.sessions}`);
    console.log(`  ${rssLine}`);
    console.log(`  ${fdLine}`);
    for (const [list, title] of [['validErrors', 'errors in valid calls'], ['serverErrors', '5xx answers'], ['brokenAnomalies', 'broken calls / dropped connections not handled as expected']]) {
        if (!stats[list].length) continue;
        console.log(`  ${title} (first ${stats[list].length} of ${stats.counts[list]}):`);
        for (const e of stats[list]) console.log(`    t=${e.t}s ${JSON.stringify(e)}`);
    }
    if (REPORT) writeFileSync(REPORT, JSON.stringify({ seconds: SECONDS, workers: WORKERS, baseFds, baseRss, afterFds, samples, stats, failures }, null, 1));
    console.log(line);
    if (failures.length) {
        console.log(`soak.mjs: FAIL\n${failures.map(f => `  - ${f}`).join('\n')}`);
        process.exit(1);
    }
    console.log('soak.mjs: PASS (server alive, /healthz always 200, no error in valid calls, no 5xx, every broken call refused, RSS flat, no fd leak)');
    process.exit(0);
}

process.on('unhandledRejection', e => { console.log(`soak.mjs: unhandled rejection: ${e?.stack || e}`); process.exit(1); });
main();
