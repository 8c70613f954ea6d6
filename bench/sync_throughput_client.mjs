// sync_throughput_client.mjs: the benchmark's HTTP side: MCP over Streamable HTTP with plain fetch (JSON or SSE
// answers), the fake Rollout's control API, and the sums of the server's /metrics that a row reads.

const PROTO = '2025-06-18';

// ---- MCP over Streamable HTTP ---------------------------------------------------------------------------
function parseBody(text, contentType, id) {
    if (!/text\/event-stream/i.test(contentType || '')) return JSON.parse(text);
    // SSE: events separated by a blank line; an event's data lines joined with "\n".
    for (const block of text.split(/\r?\n\r?\n/)) {
        const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, ''));
        if (!data.length) continue;
        let msg;
        try {
            msg = JSON.parse(data.join('\n'));
        } catch {
            continue;
        }
        if (msg && msg.id === id && ('result' in msg || 'error' in msg)) return msg;
    }
    throw new Error(`no response with id ${id} in the SSE stream (${text.length} bytes)`);
}

export class Mcp {
    constructor(url, key) {
        this.url = url;
        this.key = key;
        this.sid = '';
        this.nextId = 1;
    }
    headers() {
        const h = {
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            'MCP-Protocol-Version': PROTO,
            Authorization: `Bearer ${this.key}`
        };
        if (this.sid) h['Mcp-Session-Id'] = this.sid;
        return h;
    }
    async rpc(method, params, timeoutMs = 180000) {
        const id = this.nextId++;
        const res = await fetch(this.url, {
            method: 'POST',
            headers: this.headers(),
            body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
            signal: AbortSignal.timeout(timeoutMs)
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status}: ${text.slice(0, 300)}`);
        if (method === 'initialize') this.sid = res.headers.get('mcp-session-id') || '';
        const msg = parseBody(text, res.headers.get('content-type'), id);
        if (msg.error) throw new Error(`${method}: JSON-RPC error ${msg.error.code}: ${msg.error.message}`);
        return msg.result;
    }
    async init() {
        await this.rpc('initialize', { protocolVersion: PROTO, capabilities: {}, clientInfo: { name: 'sync-throughput', version: '1.0.0' } });
        const res = await fetch(this.url, {
            method: 'POST',
            headers: this.headers(),
            body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
            signal: AbortSignal.timeout(10000)
        });
        await res.text();
        if (res.status !== 202) throw new Error(`notifications/initialized: HTTP ${res.status}`);
        return this;
    }
    // tools/call -> structuredContent (or the parsed text) plus isError.
    async tool(name, args, timeoutMs) {
        const r = await this.rpc('tools/call', { name, arguments: args }, timeoutMs);
        let sc = r.structuredContent;
        const text = (r.content || []).filter(c => c.type === 'text').map(c => c.text).join('\n');
        if (!sc) {
            try {
                sc = JSON.parse(text);
            } catch {
                sc = { message: text };
            }
        }
        return { sc, isError: r.isError === true, text };
    }
}

export async function toolOk(client, name, args) {
    const r = await client.tool(name, args, 30000);
    if (r.isError || r.sc?.status !== 'success') throw new Error(`${name}: ${r.text.slice(0, 400)}`);
    return r.sc;
}

// ---- the fake's control API and the server's metrics -----------------------------------------------------
export async function fake(base, path, { method = 'GET', body } = {}) {
    const res = await fetch(`${base}${path}`, {
        method,
        headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10000)
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
}

// Sums of the metrics this benchmark reads (CRM host only for the Rollout calls).
export async function metrics(metricsUrl) {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(10000) });
    const text = await res.text();
    const m = { crmCalls: 0, crmCallSeconds: 0, crmCallCount: 0, attemptsOk: 0, attemptsOther: 0 };
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const sp = line.lastIndexOf(' ');
        const name = line.slice(0, sp);
        const v = Number(line.slice(sp + 1));
        if (!Number.isFinite(v)) continue;
        if (name.startsWith('rollout_mcp_rollout_requests_total{') && name.includes('host="crm"')) m.crmCalls += v;
        else if (name.startsWith('rollout_mcp_rollout_request_duration_seconds_sum{') && name.includes('host="crm"')) m.crmCallSeconds += v;
        else if (name.startsWith('rollout_mcp_rollout_request_duration_seconds_count{') && name.includes('host="crm"')) m.crmCallCount += v;
        else if (name.startsWith('rollout_mcp_sync_attempts_total{')) {
            if (name.includes('outcome="succeeded"')) m.attemptsOk += v;
            else m.attemptsOther += v;
        }
    }
    return m;
}
