// crash_recovery_client.mjs: a minimal MCP client for the crash test: plain `fetch` JSON-RPC over Streamable HTTP
// (JSON or SSE answers), telling a killed server (Gone) from one that answered with an error (Refused).
import { sleep, short } from './crash_recovery_common.mjs';

// ---- a minimal Streamable HTTP MCP client ----------------------------------------------------------
// A transport failure (connection refused / reset, body cut off): the server is gone.
export class Gone extends Error {}
// The server answered, but not with a tool result (HTTP error status, JSON-RPC error).
export class Refused extends Error {}

export class Mcp {
    constructor(url, key) {
        this.url = url;
        this.key = key;
        this.session = undefined;
        this.version = '2025-11-25';
        this.nextId = 1;
    }
    headers() {
        const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${this.key}` };
        if (this.session) {
            h['Mcp-Session-Id'] = this.session;
            h['MCP-Protocol-Version'] = this.version;
        }
        return h;
    }
    // POSTs one message; for a request, returns its JSON-RPC response (from a JSON body or an SSE stream).
    async post(message, ms) {
        let res, text;
        try {
            res = await fetch(this.url, { method: 'POST', headers: this.headers(), body: JSON.stringify(message), signal: AbortSignal.timeout(ms) });
            text = await res.text();
        } catch (err) {
            if (err?.name === 'TimeoutError') throw new Refused(`${message.method}: no answer within ${ms} ms`);
            throw new Gone(`${message.method}: ${err?.message ?? err}${err?.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : ''}`);
        }
        if (message.id === undefined) {
            if (res.status !== 202 && res.status !== 200) throw new Refused(`${message.method}: HTTP ${res.status}: ${short(text)}`);
            return { res };
        }
        if (res.status !== 200) throw new Refused(`${message.method}: HTTP ${res.status}: ${short(text)}`);
        const type = res.headers.get('content-type') || '';
        let msgs = [];
        if (type.includes('text/event-stream')) {
            for (const block of text.split(/\r?\n\r?\n/)) {
                const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, '')).join('\n');
                if (data) msgs.push(JSON.parse(data));
            }
        } else {
            const v = JSON.parse(text);
            msgs = Array.isArray(v) ? v : [v];
        }
        const reply = msgs.find(m => m && m.id === message.id && ('result' in m || 'error' in m));
        // An SSE stream that ends without the response: the server died while answering.
        if (!reply) throw new Gone(`${message.method}: the response stream ended without a response (${msgs.length} message(s))`);
        return { res, reply };
    }
    async initialize() {
        const { res, reply } = await this.post({
            jsonrpc: '2.0', id: this.nextId++, method: 'initialize',
            params: { protocolVersion: this.version, capabilities: {}, clientInfo: { name: 'crash-recovery', version: '1.0.0' } }
        }, 10000);
        if (reply.error) throw new Refused(`initialize: ${short(reply.error)}`);
        this.session = res.headers.get('mcp-session-id') || undefined;
        this.version = reply.result?.protocolVersion || this.version;
        await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, 10000);
    }
    // tools/call -> {isError, sc, text}; throws Gone / Refused.
    async callTool(name, args, ms = 20000) {
        const { reply } = await this.post({ jsonrpc: '2.0', id: this.nextId++, method: 'tools/call', params: { name, arguments: args } }, ms);
        if (reply.error) throw new Refused(`${name}: JSON-RPC error ${short(reply.error)}`);
        const r = reply.result || {};
        const text = (r.content || []).filter(c => c.type === 'text').map(c => c.text).join('\n');
        let sc = r.structuredContent;
        if (!sc) {
            try {
                sc = JSON.parse(text);
            } catch {
                sc = undefined;
            }
        }
        return { isError: r.isError === true, sc, text };
    }
}

export async function connect(url, key, boundMs) {
    const deadline = Date.now() + boundMs;
    for (;;) {
        const c = new Mcp(url, key);
        try {
            await c.initialize();
            return c;
        } catch (err) {
            if (!(err instanceof Gone) || Date.now() > deadline) throw err;
            await sleep(100);
        }
    }
}
