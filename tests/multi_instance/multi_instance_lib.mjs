// multi_instance_lib.mjs: what the parts of multi_instance.mjs share: the command line, a sessionless (MCP
// 2026-07-28) tools/call over plain `fetch` that tells a killed instance (Gone) from one that answered with an
// error (Refused), the fake Rollout's control API, and the pool of `rollout-mcp serve` instances (spawn, SIGKILL,
// restart). Built-in modules only (Node >= 18).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const short = (v, n = 300) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
export const log = msg => console.log(`multi_instance.mjs: ${msg}`);
export const CRMS = ['highlevel', 'lofty'];

// ---- the fake Rollout's control API (loopback) --------------------------------------------------------
export async function fake(base, path, { method = 'GET', body, headers = {}, ms = 30000 } = {}) {
    const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(ms)
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${short(text)}`);
    return text ? JSON.parse(text) : null;
}

// ---- a sessionless MCP 2026-07-28 client -------------------------------------------------------------
// A transport failure (refused, reset, body cut off, no answer in time): the instance is gone or stuck; the
// call may be repeated elsewhere with its idempotencyKey.
export class Gone extends Error {}
// The instance answered, but not with a tool result (HTTP error status, JSON-RPC error).
export class Refused extends Error {
    constructor(message, status) {
        super(message);
        this.status = status;
    }
}
const VERSION = '2026-07-28';
let nextId = 1;

// tools/call NAME ARGS on the instance at URL as the team of KEY -> {isError, sc, text}; throws Gone / Refused.
// Every request stands alone (no session): any live instance can serve it.
export async function callTool(url, key, name, args, ms = 20000) {
    const id = nextId++;
    const headers = {
        'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${key}`,
        'MCP-Protocol-Version': VERSION, 'Mcp-Method': 'tools/call', 'Mcp-Name': name
    };
    // sync_tour_data / sync_feedback_data mirror crmType (x-mcp-header "CrmType").
    if (name.startsWith('sync_') && args.crmType !== undefined) headers['Mcp-Param-CrmType'] = args.crmType;
    const body = {
        jsonrpc: '2.0', id, method: 'tools/call',
        params: { name, arguments: args, _meta: {
            'io.modelcontextprotocol/protocolVersion': VERSION,
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'multi-instance', version: '1.0.0' } } }
    };
    let res, text;
    try {
        res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(ms) });
        text = await res.text();
    } catch (err) {
        const why = err?.name === 'TimeoutError' ? `no answer within ${ms} ms` : `${err?.message ?? err}${err?.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : ''}`;
        throw new Gone(`${name}: ${why}`);
    }
    if (res.status !== 200) throw new Refused(`${name}: HTTP ${res.status}: ${short(text)}`, res.status);
    const type = res.headers.get('content-type') || '';
    let msgs = [];
    try {
        if (type.includes('text/event-stream')) {
            for (const block of text.split(/\r?\n\r?\n/)) {
                const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, '')).join('\n');
                if (data) msgs.push(JSON.parse(data));
            }
        } else {
            const v = JSON.parse(text);
            msgs = Array.isArray(v) ? v : [v];
        }
    } catch (err) {
        throw new Gone(`${name}: an answer cut short (${err.message})`);
    }
    const reply = msgs.find(m => m && m.id === id && ('result' in m || 'error' in m));
    if (!reply) throw new Gone(`${name}: the response ended without a response (${msgs.length} message(s))`);
    if (reply.error) throw new Refused(`${name}: JSON-RPC error ${short(reply.error)}`, 200);
    const r = reply.result || {};
    const out = (r.content || []).filter(c => c.type === 'text').map(c => c.text).join('\n');
    let sc = r.structuredContent;
    if (!sc) {
        try {
            sc = JSON.parse(out);
        } catch {
            sc = undefined;
        }
    }
    return { isError: r.isError === true, sc, text: out };
}

// ---- the instances -----------------------------------------------------------------------------------
// Pool of `rollout-mcp serve` processes sharing one config (and so one PostgreSQL database). Each start gets a
// new loopback port (port 0 + --port-file); stderr goes to DIR/instance-N.log (appended across restarts).
export class Pool {
    constructor({ server, config, dir, count }) {
        Object.assign(this, { server, config, dir, count });
        this.slots = Array.from({ length: count }, (_, i) => ({ i, proc: null, url: null, starts: 0, kills: 0 }));
        this.rr = 0;
        this.unexpected = [];   // instances that exited without being killed by us
        process.on('exit', () => this.killAll());
    }
    logOf(i) {
        return join(this.dir, `instance-${i}.log`);
    }
    live() {
        return this.slots.filter(s => s.url);
    }
    // The next live instance, round-robin; null while none is up.
    next(avoid) {
        const live = this.live();
        if (!live.length) return null;
        let s = live[this.rr++ % live.length];
        if (avoid && live.length > 1 && s.url === avoid) s = live[this.rr++ % live.length];
        return s;
    }
    async start(i, boundMs = 20000) {
        const slot = this.slots[i];
        const portFile = join(this.dir, `instance-${i}.port`);
        rmSync(portFile, { force: true });
        const logFile = this.logOf(i);
        appendFileSync(logFile, `==== multi_instance.mjs: start #${slot.starts + 1} of instance ${i} ====\n`);
        const err = openSync(logFile, 'a');
        const proc = spawn(this.server, ['serve', '-c', this.config, '--port-file', portFile],
                           { cwd: this.dir, stdio: ['ignore', 'ignore', err] });
        slot.proc = proc;
        slot.starts++;
        slot.killed = false;
        appendFileSync(join(this.dir, 'pids'), `${proc.pid}\n`);
        proc.on('exit', (code, signal) => {
            if (slot.proc === proc) {
                slot.url = null;
                slot.proc = null;
                if (!slot.killed) this.unexpected.push(`instance ${i} (pid ${proc.pid}) exited by itself: code ${code}, signal ${signal}`);
            }
        });
        const deadline = Date.now() + boundMs;
        while (Date.now() < deadline) {
            if (slot.proc !== proc) throw new Error(`instance ${i} exited during start-up (see ${logFile})`);
            if (existsSync(portFile)) {
                const port = Number(readFileSync(portFile, 'utf8').trim().split(/\s+/)[0]);
                if (port > 0) {
                    try {
                        const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
                        await r.text();
                        if (r.status === 200) {
                            slot.url = `http://127.0.0.1:${port}/mcp`;
                            return slot;
                        }
                    } catch { /* not yet */ }
                }
            }
            await sleep(50);
        }
        throw new Error(`instance ${i} not healthy within ${boundMs} ms (see ${logFile})`);
    }
    // Adds the instance's outbox attempts so far (rollout_mcp_sync_attempts_total, all labels) to slot.attempts:
    // read just before each kill and stop, a lower bound of what each instance ran.
    async scrape(i) {
        const slot = this.slots[i];
        if (!slot.url) return;
        try {
            const r = await fetch(slot.url.replace(/\/mcp$/, '/metrics'), { signal: AbortSignal.timeout(3000) });
            const text = await r.text();
            let n = 0;
            for (const m of text.matchAll(/^rollout_mcp_sync_attempts_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
            slot.attempts = (slot.attempts || 0) + n;
        } catch { /* a lower bound anyway */ }
    }
    // SIGKILL instance i (no chance to finish anything), wait for it to be gone.
    async kill(i) {
        const slot = this.slots[i];
        const proc = slot.proc;
        if (!proc) return;
        await this.scrape(i);
        slot.killed = true;
        slot.url = null;
        const gone = new Promise(r => proc.once('exit', r));
        proc.kill('SIGKILL');
        await gone;
        slot.kills++;
        appendFileSync(this.logOf(i), `==== multi_instance.mjs: SIGKILL of instance ${i} (pid ${proc.pid}) ====\n`);
    }
    // SIGTERM every instance; each must exit 0 within 15 s. Returns the problems.
    async stopAll() {
        const problems = [];
        await Promise.all(this.slots.map(async slot => {
            const proc = slot.proc;
            if (!proc) return;
            await this.scrape(slot.i);
            slot.killed = true;
            slot.url = null;
            const done = new Promise(r => proc.once('exit', (code, signal) => r({ code, signal })));
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
            const { code, signal } = await done;
            clearTimeout(t);
            if (code !== 0) problems.push(`instance ${slot.i} (pid ${proc.pid}) exited with code ${code} signal ${signal} after SIGTERM`);
        }));
        return problems;
    }
    killAll() {
        for (const s of this.slots) if (s.proc) try { s.proc.kill('SIGKILL'); } catch { /* gone */ }
    }
    // An admin command (`rollout-mcp outbox ...`) against the same database; its stdout.
    admin(args) {
        const r = spawnSync(this.server, [...args, '-c', this.config], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 60000 });
        if (r.status !== 0) throw new Error(`rollout-mcp ${args.join(' ')}: status ${r.status}: ${short(r.stderr)}`);
        return r.stdout;
    }
}
