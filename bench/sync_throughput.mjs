#!/usr/bin/env node
// sync_throughput.mjs: the load driver of bench/sync_throughput.sh (sync throughput against the fake Rollout).
//
//   node sync_throughput.mjs row --url http://127.0.0.1:PORT/mcp --fake http://127.0.0.1:FAKEPORT --secret S
//        --teams KEY:TENANT[,KEY:TENANT...] --conc C --caps JSON --label NAME [--dur 10] [--warmup 2]
//        [--max-warmup 40] [--latency-ms 50] [--pids server:PID,fake:PID] [--out FILE.jsonl]
//   node sync_throughput.mjs table FILE.jsonl
//
// `row` (one table row, on a freshly started server + fake): configures Rollout for every team, measures the
// Rollout calls of one tour on an empty CRM (from the fake's request log), gives every team a fresh empty
// highlevel credential, opens C sessions (client i belongs to team i mod T), and runs C closed loops of
// sync_tour_data {tourData: a new tour with a new buyer (email) and 2 visits, crmType: "highlevel", wait: true}.
// Warm-up lasts --warmup seconds and at least until every client has had one answer (steady state of the
// closed loop, at most --max-warmup s); then --dur seconds are measured: answers in the window (tours/s,
// p50/p99 latency), the server's /metrics deltas (Rollout CRM calls, their mean duration, attempts) and the
// CPU time of the server, the fake and this driver, and per thread of the server and the fake: CPU and run-queue
// time (schedstat) and sampled syscalls (to tell the storage thread from the I/O threads). Appends one JSON
// line to --out (or prints it).
// `table` prints the markdown table of a results file.
//
// Plain fetch, no SDK: initialize -> notifications/initialized -> tools/call with Mcp-Session-Id; a streaming
// tool's answer is an SSE stream, whose `data:` lines are parsed for the response with the request's id.
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';

const PROTO = '2025-06-18';
const sleep = ms => new Promise(r => setTimeout(r, ms));
const now = () => performance.now();

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

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

class Mcp {
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

async function toolOk(client, name, args) {
    const r = await client.tool(name, args, 30000);
    if (r.isError || r.sc?.status !== 'success') throw new Error(`${name}: ${r.text.slice(0, 400)}`);
    return r.sc;
}

// ---- the fake's control API and the server's metrics -----------------------------------------------------
async function fake(base, path, { method = 'GET', body } = {}) {
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
async function metrics(metricsUrl) {
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

// CPU seconds (user + system) of a process, from /proc (0 when unreadable).
function cpuSeconds(pid) {
    if (pid === 'self') {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
    }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) / Number(process.env.CLK_TCK || 100);
    } catch {
        return 0;
    }
}

// Where a process's threads spend the window: CPU time and run-queue wait from /proc/TID/schedstat, and what
// each thread is doing, sampled from /proc/TID/syscall every 50 ms (fdatasync, futex = idle pool thread,
// epoll = idle I/O thread, running, other). Needs the right to read the process's /proc (same user or root).
const SYSCALLS = { 74: 'fsync', 75: 'fsync', 202: 'futex', 232: 'epoll', 281: 'epoll', 441: 'epoll', 18: 'pwrite', 17: 'pread' };
function readTids(pid) {
    try {
        return readdirSync(`/proc/${pid}/task`);
    } catch {
        return [];
    }
}
function schedstat(pid) {
    const out = {};
    for (const tid of readTids(pid)) {
        try {
            const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
            out[tid] = { run, wait };
        } catch {
            // the thread ended
        }
    }
    return out;
}
class ThreadSampler {
    constructor(pid) {
        this.pid = pid;
        this.samples = 0;
        this.tally = {};
        this.timer = null;
    }
    start() {
        if (!this.pid) return this;
        this.s0 = schedstat(this.pid);
        this.t0 = now();
        this.timer = setInterval(() => this.tick(), 50);
        return this;
    }
    tick() {
        this.samples++;
        for (const tid of readTids(this.pid)) {
            let what;
            try {
                const first = readFileSync(`/proc/${this.pid}/task/${tid}/syscall`, 'utf8').split(' ')[0].trim();
                what = first === 'running' ? 'running' : SYSCALLS[first] || 'other';
            } catch {
                continue;
            }
            const t = (this.tally[tid] ??= {});
            t[what] = (t[what] || 0) + 1;
        }
    }
    // [{tid, cpu %, runq %, states: {fsync %, futex %, ...}}], busiest (CPU + run-queue wait) first.
    stop() {
        if (!this.timer) return [];
        clearInterval(this.timer);
        const s1 = schedstat(this.pid);
        const ns = (now() - this.t0) * 1e6;
        const out = [];
        for (const [tid, b] of Object.entries(s1)) {
            const a = this.s0[tid] || { run: 0, wait: 0 };
            const states = {};
            const tally = this.tally[tid] || {};
            const n = Object.values(tally).reduce((s, x) => s + x, 0);
            for (const [k, v] of Object.entries(tally)) states[k] = Math.round((100 * v) / Math.max(1, n));
            out.push({ tid, cpu: (100 * (b.run - a.run)) / ns, runq: (100 * (b.wait - a.wait)) / ns, states });
        }
        return out.sort((x, y) => y.cpu + y.runq - (x.cpu + x.runq));
    }
}
// The storage thread (SQLite, one thread): never in epoll (unlike the I/O threads); among those, the one that
// commits (fdatasync/pwrite samples), else the busiest.
function storageThread(threads) {
    const io = t => (t.states.epoll || 0) > 0;
    const commits = t => (t.states.fsync || 0) + (t.states.pwrite || 0) + (t.states.pread || 0);
    const candidates = threads.filter(t => !io(t));
    if (!candidates.length) return null;
    const withCommits = candidates.filter(t => commits(t) > 0);
    const pool = withCommits.length ? withCommits : candidates;
    return pool.reduce((best, t) => (t.cpu + t.runq > best.cpu + best.runq ? t : best));
}

// ---- the tours ----------------------------------------------------------------------------------------
const RUN = Date.now().toString(36);
let tourSeq = 0;
function newTour(client) {
    const n = `${RUN}-${client}-${++tourSeq}`;
    return {
        tourId: `tour-${n}`,
        agentId: 'agent-7',
        buyerId: `buyer-${n}`,
        buyer: { name: `Buyer ${n}`, email: `buyer.${n}@example.com`, phone: '+1 512 555 0142' },
        timeZone: 'America/Chicago',
        properties: [
            { propertyId: 'prop-101', address: '101 Main St, Austin, TX 78701', visitTime: '2026-12-01T10:00:00-06:00', durationMinutes: 30 },
            { propertyId: 'prop-202', address: '202 Oak Ave, Austin, TX 78702', visitTime: '2026-12-01T11:15:00-06:00', durationMinutes: 45 }
        ]
    };
}

function percentile(sorted, p) {
    if (!sorted.length) return NaN;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

// Jobs that can be in their attempt at once, and which cap (or C) decides it. One CRM per team.
function slots(conc, teams, caps) {
    const perTeamClients = Array.from({ length: teams }, (_, t) => Math.floor(conc / teams) + (t < conc % teams ? 1 : 0));
    const byTeam = (limit) => perTeamClients.reduce((s, n) => s + Math.min(n, limit), 0);
    const candidates = [
        ['C', conc],
        ['per_crm_in_flight', byTeam(caps.per_crm_in_flight)],
        ['per_team_in_flight', byTeam(caps.per_team_in_flight)],
        ['max_in_flight', caps.max_in_flight],
        ['max_concurrent_per_host', caps.max_concurrent_per_host]
    ];
    let best = candidates[0];
    for (const c of candidates) if (c[1] < best[1]) best = c;
    return { slots: best[1], bound: best[0] };
}

// ---- one row ------------------------------------------------------------------------------------------
async function row() {
    const url = arg('url');
    const fakeUrl = (arg('fake') || '').replace(/\/+$/, '');
    const secret = arg('secret');
    const conc = Number(arg('conc', '1'));
    const dur = Number(arg('dur', '10'));
    const warmup = Number(arg('warmup', '2'));
    const maxWarmup = Number(arg('max-warmup', '40'));
    const latencyMs = Number(arg('latency-ms', '50'));
    const label = arg('label', 'run');
    const caps = JSON.parse(arg('caps', '{}'));
    const out = arg('out');
    const teams = (arg('teams') || '').split(',').filter(Boolean).map(s => {
        const [key, tenant] = s.split(':');
        return { key, tenant };
    });
    const pids = Object.fromEntries((arg('pids') || '').split(',').filter(Boolean).map(s => s.split(':')));
    if (!url || !fakeUrl || !secret || !teams.length || !(conc > 0)) {
        console.error('usage: sync_throughput.mjs row --url MCP --fake FAKE --secret S --teams KEY:TENANT,... --conc C --caps JSON');
        process.exit(2);
    }
    const metricsUrl = new URL('/metrics', url).href;
    const log = msg => console.error(`# [${label} C=${conc}] ${msg}`);

    // Teams: Rollout configured, one admin session each.
    for (const t of teams) {
        t.admin = await new Mcp(url, t.key).init();
        await toolOk(t.admin, 'configure_rollout', { projectEnvKey: 'bench', clientId: 'bench-client', clientSecret: secret, baseUrl: fakeUrl });
    }
    const connectFresh = async t => {
        const cred = await fake(fakeUrl, '/_fake/credentials', { method: 'POST', body: { appKey: 'highlevel', sub: t.tenant, label: 'bench GHL' } });
        await toolOk(t.admin, 'configure_crm_connection', { crmType: 'highlevel', credentialKey: cred.id });
        return cred.id;
    };

    // Rollout calls of one tour (new buyer with email, 2 visits) on an empty CRM, from the fake's request log.
    await connectFresh(teams[0]);
    await fake(fakeUrl, '/_fake/requests', { method: 'DELETE' });
    const t0cal = now();
    const cal = await teams[0].admin.tool('sync_tour_data', { tourData: newTour('cal'), crmType: 'highlevel', wait: true }, 60000);
    const calMs = now() - t0cal;
    if (cal.isError || cal.sc?.status !== 'success') throw new Error(`calibration tour: ${cal.text.slice(0, 400)}`);
    const calReqs = (await fake(fakeUrl, '/_fake/requests')).filter(r => r.path.startsWith('/crm/api') || r.path.startsWith('/platform/api') || r.path.startsWith('/automation/api'));
    const callSeq = calReqs.map(r => `${r.method} ${r.path.replace(/^\/(crm|platform|automation)\/api/, '')}${r.query ? `?${r.query.replace(/=[^&]*/g, '=…')}` : ''}`);
    const emptyCalls = calReqs.length;
    log(`one tour on an empty CRM: ${emptyCalls} Rollout calls in ${calMs.toFixed(0)} ms: ${callSeq.join(', ')}`);

    // Fresh empty CRMs for the measured run (the calibration person would not matter, but keep rows alike).
    await Promise.all(teams.map(connectFresh));
    await fake(fakeUrl, '/_fake/requests', { method: 'DELETE' });

    // C sessions.
    const clients = [];
    for (let i = 0; i < conc; i += 32) {
        const batch = [];
        for (let j = i; j < Math.min(conc, i + 32); j++) batch.push(new Mcp(url, teams[j % teams.length].key).init());
        clients.push(...(await Promise.all(batch)));
    }

    // C closed loops.
    let stop = false;
    let windowStart = Infinity;
    let windowEnd = Infinity;
    const lat = [];
    const outcomes = {};
    const answered = new Array(conc).fill(0);
    let failures = 0;
    let lastError = '';
    const loop = async i => {
        while (!stop) {
            const t = now();
            let outcome;
            try {
                const r = await clients[i].tool('sync_tour_data', { tourData: newTour(i), crmType: 'highlevel', wait: true }, 180000);
                outcome = r.isError ? 'error' : r.sc?.status || 'unknown';
                if (outcome !== 'success') lastError = r.text.slice(0, 300);
            } catch (err) {
                outcome = 'exception';
                lastError = String(err?.message ?? err);
                failures++;
                if (failures > 50) stop = true;
                await sleep(100);
            }
            const t2 = now();
            answered[i]++;
            if (t2 >= windowStart && t2 <= windowEnd) {
                outcomes[outcome] = (outcomes[outcome] || 0) + 1;
                if (outcome === 'success') lat.push(t2 - t);
            }
        }
    };
    const tStart = now();
    const loops = clients.map((_, i) => loop(i));

    // Warm-up: at least `warmup` s and until every client has had an answer (bounded by max-warmup).
    while (now() - tStart < warmup * 1000 || (answered.some(n => n === 0) && now() - tStart < maxWarmup * 1000)) {
        if (stop) break;
        await sleep(50);
    }
    const warmedMs = now() - tStart;
    const m0 = await metrics(metricsUrl);
    const cpu0 = { server: cpuSeconds(pids.server), fake: cpuSeconds(pids.fake), driver: cpuSeconds('self') };
    const serverThreads = new ThreadSampler(pids.server).start();
    const fakeThreads = new ThreadSampler(pids.fake).start();
    const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    windowStart = now();
    log(`warm-up ${(warmedMs / 1000).toFixed(1)} s; measuring ${dur} s`);
    await sleep(dur * 1000);
    windowEnd = now();
    const m1 = await metrics(metricsUrl);
    const cpu1 = { server: cpuSeconds(pids.server), fake: cpuSeconds(pids.fake), driver: cpuSeconds('self') };
    const threads = serverThreads.stop();
    const fakeT = fakeThreads.stop();
    const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    stop = true;
    const secs = (windowEnd - windowStart) / 1000;
    await Promise.race([Promise.all(loops), sleep(1000)]);   // the launcher stops the server; no need to drain

    lat.sort((a, b) => a - b);
    const tours = outcomes.success || 0;
    const crmCalls = m1.crmCalls - m0.crmCalls;
    const attemptsOk = m1.attemptsOk - m0.attemptsOk;
    const callsPerTour = attemptsOk > 0 ? crmCalls / attemptsOk : NaN;
    const meanCallMs = (1000 * (m1.crmCallSeconds - m0.crmCallSeconds)) / Math.max(1, m1.crmCallCount - m0.crmCallCount);
    const { slots: nSlots, bound } = slots(conc, teams.length, caps);
    const limit = nSlots / (callsPerTour * latencyMs / 1000);
    const limitEmpty = nSlots / (emptyCalls * latencyMs / 1000);
    const result = {
        label, caps, teams: teams.length, conc, latencyMs, dur: secs, warmupS: warmedMs / 1000,
        tours, toursPerSec: tours / secs, attemptsPerSec: attemptsOk / secs,
        p50: percentile(lat, 50), p99: percentile(lat, 99), mean: lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length),
        outcomes, lastError: Object.keys(outcomes).some(k => k !== 'success') ? lastError : '',
        emptyCalls, callSeq, crmCalls, callsPerTour, meanCallMs,
        slots: nSlots, bound, limit, pct: (100 * (tours / secs)) / limit, limitEmpty,
        cpu: Object.fromEntries(Object.keys(cpu0).map(k => [k, (100 * (cpu1[k] - cpu0[k])) / secs])),
        storageThread: storageThread(threads), serverThreads: threads, fakeThreads: fakeT, loadavg: [Number(load0), Number(load1)]
    };
    log(`${result.toursPerSec.toFixed(1)} tours/s (server: ${result.attemptsPerSec.toFixed(1)} attempts/s), p50 ${result.p50?.toFixed(0)} ms, ` +
        `p99 ${result.p99?.toFixed(0)} ms, ${callsPerTour.toFixed(2)} Rollout calls/tour of ${meanCallMs.toFixed(1)} ms, ` +
        `${nSlots} slots (${bound}), limit ${limit.toFixed(1)}/s -> ${result.pct.toFixed(0)}%; CPU % server ${result.cpu.server.toFixed(0)} ` +
        `fake ${result.cpu.fake.toFixed(0)} driver ${result.cpu.driver.toFixed(0)}; outcomes ${JSON.stringify(outcomes)}`);
    const st = result.storageThread;
    if (st) log(`storage thread ${st.tid}: on CPU ${st.cpu.toFixed(0)}%, waiting for a CPU ${st.runq.toFixed(0)}% of the window, ` +
        `states ${JSON.stringify(st.states)}; server threads ${threads.map(t => `${t.tid}: cpu ${t.cpu.toFixed(0)}% runq ${t.runq.toFixed(0)}% ${JSON.stringify(t.states)}`).join('; ')}`);
    if (fakeT.length) log(`fake threads: ${fakeT.map(t => `${t.tid}: cpu ${t.cpu.toFixed(0)}% runq ${t.runq.toFixed(0)}% ${JSON.stringify(t.states)}`).join('; ')}; load average ${load0} -> ${load1}`);
    if (result.lastError) log(`last non-success answer: ${result.lastError}`);
    const line = JSON.stringify(result);
    if (out) appendFileSync(out, line + '\n');
    else console.log(line);
    process.exit(0);
}

// ---- the table ----------------------------------------------------------------------------------------
function table(file) {
    const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
    if (!rows.length) {
        console.log('(no rows)');
        return;
    }
    const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
    // CPU milliseconds per synced tour (CPU % of one core x 10 / tours per second).
    const cpuMs = (r, k) => (r.toursPerSec > 0 ? ((10 * r.cpu[k]) / r.toursPerSec).toFixed(1) : '-');
    const capsText = c => `${c.max_in_flight}/${c.per_team_in_flight}/${c.per_crm_in_flight}/${c.max_concurrent_per_host}`;
    console.log(`Fake Rollout with ${rows[0].latencyMs} ms added latency; one tour = new buyer (email) + 2 visits to highlevel, ` +
        `${rows[0].emptyCalls} sequential Rollout calls on an empty CRM (${rows[0].callSeq.join(', ')}).`);
    console.log('Caps = [sync] max_in_flight / per_team_in_flight / per_crm_in_flight / [rollout] max_concurrent_per_host. ' +
        'Limit = slots / (Rollout calls per tour x latency), with the calls per tour measured in the window.');
    console.log('');
    console.log('| caps | teams | C | slots (bound by) | tours/s | p50 ms | p99 ms | Rollout calls/tour | mean call ms | limit tours/s | % of limit | CPU ms/tour server / fake / driver | storage thread % on CPU + waiting for one |');
    console.log('|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const r of rows) {
        const bad = Object.entries(r.outcomes).filter(([k]) => k !== 'success').map(([k, n]) => `${n} ${k}`).join(', ');
        const st = r.serverThreads ? storageThread(r.serverThreads) : null;
        console.log(`| ${r.label} ${capsText(r.caps)} | ${r.teams} | ${r.conc} | ${r.slots} (${r.bound}) | ${f(r.toursPerSec, 1)}${bad ? ` (+${bad})` : ''} | ` +
            `${f(r.p50)} | ${f(r.p99)} | ${f(r.callsPerTour, 2)} | ${f(r.meanCallMs, 1)} | ${f(r.limit, 1)} | ${f(r.pct)} % | ` +
            `${cpuMs(r, 'server')} / ${cpuMs(r, 'fake')} / ${cpuMs(r, 'driver')} | ${st ? `${f(st.cpu)} + ${f(st.runq)}` : '-'} |`);
    }
    const loads = rows.flatMap(r => r.loadavg || []);
    if (loads.length) console.log(`\nLoad average during the windows: ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}.`);
}

const mode = process.argv[2];
if (mode === 'row') {
    row().catch(err => {
        console.error(`sync_throughput.mjs: ${err?.stack ?? err}`);
        process.exit(1);
    });
} else if (mode === 'table' && process.argv[3]) {
    table(process.argv[3]);
} else {
    console.error('usage: sync_throughput.mjs row ... | table FILE.jsonl (see the header comment)');
    process.exit(2);
}
