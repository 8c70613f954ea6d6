// sdk_client_e2e_lib.mjs: what sdk_client_e2e.mjs's checks share: the command line (exit 2 without --url), the
// check/ok/fail/finish bookkeeping and watchdog, the SDK client with its wire log, and raw-fetch / SSE helpers.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const URL_ARG = arg('url');
const BEARER = arg('bearer', process.env.MCP_BEARER || '');
const TOTAL_MS = Number(arg('timeout-ms', '50000'));
export const STEP_MS = 10000; // bound on any single step
if (!URL_ARG) {
    console.error('usage: sdk_client_e2e.mjs --url http://127.0.0.1:PORT/mcp [--bearer KEY] [--timeout-ms N]');
    process.exit(2);
}
export const url = new URL(URL_ARG);

let passed = 0;
let failed = 0;
function ok(name, detail = '') {
    passed++;
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`);
}
function fail(name, detail) {
    failed++;
    console.log(`FAIL - ${name}: ${detail}`);
}
export function finish() {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
export const watchdog = setTimeout(() => {
    fail('whole run', `did not finish within ${TOTAL_MS} ms`);
    finish();
}, TOTAL_MS);

class StepError extends Error {}
export function withTimeout(promise, ms, what) {
    let t;
    const timer = new Promise((_, reject) => {
        t = setTimeout(() => reject(new StepError(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}
// Runs one named check; returns its value or undefined when it failed.
export async function check(name, fn, { fatal = false } = {}) {
    try {
        const out = await withTimeout(Promise.resolve().then(fn), STEP_MS, name);
        ok(name, typeof out === 'string' ? out : '');
        return out ?? true;
    } catch (err) {
        fail(name, err?.message ?? String(err));
        if (process.env.E2E_DEBUG) console.log(err?.stack);
        if (fatal) finish();
        return undefined;
    }
}
export function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const short = v => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > 300 ? `${s.slice(0, 300)}...` : s;
};

// ---- SDK client, with a logging fetch so the wire can be asserted ---------------------------
export const wire = []; // {method, lastEventId, sessionId, status}
async function loggingFetch(input, init = {}) {
    const headers = new Headers(init.headers);
    const entry = {
        method: init.method ?? 'GET',
        lastEventId: headers.get('last-event-id'),
        sessionId: headers.get('mcp-session-id'),
        body: typeof init.body === 'string' ? init.body.slice(0, 200) : undefined,
        status: undefined
    };
    wire.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    return res;
}
export const authHeaders = BEARER ? { Authorization: `Bearer ${BEARER}` } : {};
export const transport = new StreamableHTTPClientTransport(url, {
    fetch: loggingFetch,
    requestInit: { headers: authHeaders },
    // Keep resumption inside the step bound even if the server sends no `retry`.
    reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 2000, reconnectionDelayGrowFactor: 1.5, maxRetries: 3 }
});
export const client = new Client({ name: 'rollout-mcp-e2e', version: '1.0.0' }, { capabilities: {} });
client.onerror = err => console.log(`# client onerror: ${err?.message ?? err}`);

export function textOf(result) {
    return (result?.content ?? []).filter(c => c.type === 'text').map(c => c.text).join('\n');
}

// The session from initialize, kept here because terminateSession() clears transport.sessionId;
// set by rememberSession() once initialize has passed, read by mcpHeaders().
let sessionId;
let protocolVersion;
export function rememberSession() {
    sessionId = transport.sessionId;
    protocolVersion = transport.protocolVersion;
}

// ---- raw fetch helpers -----------------------------------------------------------------------
export function mcpHeaders(extra = {}) {
    return {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sessionId,
        'MCP-Protocol-Version': protocolVersion,
        ...authHeaders,
        ...extra
    };
}
// Yields SSE events {id, event, data, retry} from a fetch Response body.
export async function* sseEvents(res) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let ev = { data: [] };
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buf += dec.decode(value, { stream: true });
            let nl;
            while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
                const line = buf.slice(0, nl);
                buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
                if (line === '') {
                    if (ev.data.length || ev.id !== undefined || ev.retry !== undefined) {
                        yield { id: ev.id, event: ev.event, retry: ev.retry, data: ev.data.join('\n') };
                    }
                    ev = { data: [] };
                    continue;
                }
                if (line.startsWith(':')) continue;
                const c = line.indexOf(':');
                const field = c < 0 ? line : line.slice(0, c);
                let val = c < 0 ? '' : line.slice(c + 1);
                if (val.startsWith(' ')) val = val.slice(1);
                if (field === 'data') ev.data.push(val);
                else if (field === 'id') ev.id = val;
                else if (field === 'event') ev.event = val;
                else if (field === 'retry') ev.retry = Number(val);
            }
        }
    } finally {
        reader.releaseLock?.();
    }
}
export function parseData(e) {
    if (!e.data || e.data.trim() === '') return null;
    return JSON.parse(e.data);
}
// Reads an answer to a raw POST: a JSON body, or SSE events up to the JSON-RPC response.
export async function readAll(res) {
    const ct = res.headers.get('content-type') || '';
    if (ct.includes('text/event-stream')) {
        const events = [];
        for await (const e of sseEvents(res)) {
            events.push(e);
            const m = parseData(e);
            if (m && 'id' in m && !('method' in m)) break;
        }
        return { ct, events, messages: events.map(parseData).filter(Boolean) };
    }
    return { ct, events: [], messages: [JSON.parse(await res.text())] };
}
