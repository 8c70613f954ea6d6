// soak_client.mjs: the soak driver's HTTP side: requests through a keep-alive agent, JSON-RPC messages from JSON or
// SSE bodies, an MCP session (Streamable HTTP), the refusal checks, and raw-socket exchanges.
import http from 'node:http';
import net from 'node:net';
import { HOST, PORT, MCP_PATH, REQUEST_TIMEOUT_MS, VERSIONS, VALID_TIMEOUT_MS, pick, short, now, stats,
         seenStatus, validOk, validFail } from './soak_common.mjs';

// ---- HTTP through a keep-alive agent ---------------------------------------------------------------------
// Idle pooled sockets are closed after 1 s, well before the server's request_timeout reaps them, so a request
// never goes out on a socket the server is closing at that very moment (fetch's pool keeps idle sockets 4 s
// and cannot be tuned without undici, hence node:http).
export const agent = new http.Agent({ keepAlive: true, timeout: Math.max(200, Math.min(1000, REQUEST_TIMEOUT_MS / 2)) });

export function request({ method = 'POST', path = MCP_PATH, headers = {}, body, timeoutMs = VALID_TIMEOUT_MS, what = '' }) {
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
export function messages(res) {
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
export class Session {
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

export async function liveSession() {
    const s = new Session(pick(VERSIONS));
    try { await s.initialize(); validOk('initialize'); return s; } catch (e) { validFail('initialize', e.message); return null; }
}

// A refusal as expected: one of `statuses`; with 200 the body must be a JSON-RPC error (or a tool error when
// toolError). Anything else (a success, another status, no answer) is an anomaly; 5xx are counted apart too.
export function refused(res, statuses, { toolError = false, code } = {}) {
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

export const BASE_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
export const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

// ---- raw sockets ---------------------------------------------------------------------------------------
// Raw exchange: connects, writes `wire`, reads until the server closes (or `timeoutMs`), returns
// { status, text, closed, error }. Requests carry `Connection: close` where the wire is HTTP at all.
export function raw(wire, { timeoutMs = REQUEST_TIMEOUT_MS + 3000, what = 'raw' } = {}) {
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
export function head(method, path, headers, bodyLength) {
    let h = `${method} ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n`;
    for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
    if (bodyLength !== undefined) h += `Content-Length: ${bodyLength}\r\n`;
    return `${h}\r\n`;
}
export function rawRefused(r, statuses) {
    if (!r.status) return `no answer (${r.closed ? 'closed' : 'still open'}${r.error ? `, ${r.error}` : ''})`;
    if (!statuses.includes(r.status)) return `HTTP ${r.status} (expected ${statuses.join('/')}): ${short(r.text)}`;
    if (!r.closed) return `HTTP ${r.status} but the connection stayed open despite Connection: close`;
    return null;
}
// Opens a raw socket and calls `act(sock, chunks)` once connected; resolves when the socket is gone.
export function rawSocket(act) {
    return new Promise(resolve => {
        const sock = net.connect(PORT, HOST);
        const state = { data: Buffer.alloc(0), closed: false, error: null, onData: null, t0: now() };
        sock.on('data', d => { state.data = Buffer.concat([state.data, d]); state.onData?.(); });
        sock.on('error', e => { state.error = e.code || e.message; });
        sock.on('close', () => { state.closed = true; state.closedAt = now(); state.onData?.(); resolve(state); });
        sock.on('connect', () => act(sock, state));
    });
}
export const waitFor = (state, pred, ms) => new Promise(resolve => {
    const timer = setTimeout(() => { state.onData = null; resolve(false); }, ms);
    const check = () => { if (pred()) { clearTimeout(timer); state.onData = null; resolve(true); } };
    state.onData = check;
    check();
});
