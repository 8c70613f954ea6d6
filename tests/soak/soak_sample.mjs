// soak_sample.mjs: the soak's samples of the server: RSS and fd count from /proc/PID, GET /healthz and the /metrics
// gauges on fresh connections, and their one-line format.
import http from 'node:http';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { PID, HOST, PORT, now, stats, run } from './soak_common.mjs';

// ---- sampling ------------------------------------------------------------------------------------------
export function rssKib() {
    try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, 'utf8'))[1]); } catch { return null; }
}
export function fdCount() {
    try { return readdirSync(`/proc/${PID}/fd`).length; } catch { return null; }
}
export const alive = () => existsSync(`/proc/${PID}`) && !/State:\s+Z/.test((() => { try { return readFileSync(`/proc/${PID}/status`, 'utf8'); } catch { return 'State: Z'; } })());
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
export const samples = [];
export const reqTotal = () => Object.values(stats.status).reduce((a, b) => a + b, 0);
export async function sample(phase) {
    const rss = rssKib(), fds = fdCount();   // read before our own probes open connections
    const h = await plainGet('/healthz');
    const m = await plainGet('/metrics');
    const s = {
        t: +((now() - run.loadStart) / 1000).toFixed(1), phase, rss_kib: rss, fds, healthz: h.status, healthz_ms: +h.ms.toFixed(1),
        sessions: gauge(m.text, 'rollout_mcp_sessions'), connections: gauge(m.text, 'rollout_mcp_connections'),
        sse_streams: gauge(m.text, 'rollout_mcp_sse_streams'), requests: reqTotal()
    };
    samples.push(s);
    return s;
}

// A sample as one line (and KiB as MiB).
export const mib = kib => (kib / 1024).toFixed(1);
export const fmtSample = s => `${String(s.t).padStart(7)}s ${s.phase.padEnd(8)} rss ${mib(s.rss_kib).padStart(6)} MiB  fds ${String(s.fds).padStart(4)}  ` +
    `healthz ${s.healthz} (${s.healthz_ms} ms)  sessions ${s.sessions}  conns ${s.connections}  sse ${s.sse_streams}  requests ${s.requests}`;
