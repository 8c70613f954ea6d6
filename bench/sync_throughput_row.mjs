// sync_throughput_row.mjs: `sync_throughput.mjs row`: one table row: calibration tour, C closed loops of
// sync_tour_data, warm-up, the measured window (latency, /metrics deltas, CPU, threads); appends one JSON line.
import { appendFileSync, readFileSync } from 'node:fs';
import { Mcp, toolOk, fake, metrics } from './sync_throughput_client.mjs';
import { cpuSeconds, ThreadSampler, storageThread } from './sync_throughput_proc.mjs';

const sleep = ms => new Promise(r => setTimeout(r, ms));
const now = () => performance.now();

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
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
// In a multi-instance row (caps.instances > 0) max_in_flight and max_concurrent_per_host are per instance,
// per_team_in_flight and per_crm_in_flight global (held by the database).
function slots(conc, teams, caps) {
    const perInstance = Math.max(1, caps.instances || 0);
    const perTeamClients = Array.from({ length: teams }, (_, t) => Math.floor(conc / teams) + (t < conc % teams ? 1 : 0));
    const byTeam = (limit) => perTeamClients.reduce((s, n) => s + Math.min(n, limit), 0);
    const candidates = [
        ['C', conc],
        ['per_crm_in_flight', byTeam(caps.per_crm_in_flight)],
        ['per_team_in_flight', byTeam(caps.per_team_in_flight)],
        ['max_in_flight', caps.max_in_flight * perInstance],
        ['max_concurrent_per_host', caps.max_concurrent_per_host * perInstance]
    ];
    let best = candidates[0];
    for (const c of candidates) if (c[1] < best[1]) best = c;
    return { slots: best[1], bound: best[0] };
}

// ---- one row ------------------------------------------------------------------------------------------
export async function row() {
    // One URL per instance (comma-separated): client i talks to instance i mod N.
    const urls = (arg('url') || '').split(',').filter(Boolean);
    const url = urls[0];
    const fakeUrl = (arg('fake') || '').replace(/\/+$/, '');
    const secret = arg('secret');
    const conc = Number(arg('conc', '1'));
    const dur = Number(arg('dur', '10'));
    const warmup = Number(arg('warmup', '2'));
    const maxWarmup = Number(arg('max-warmup', '40'));
    const latencyMs = Number(arg('latency-ms', '50'));
    const label = arg('label', 'run');
    // With --baseline-server: which of the two servers ("candidate" or "baseline"), its binary, and the pass.
    const serverTag = arg('server-tag', '');
    const serverBin = arg('server-bin', '');
    const pass = Number(arg('pass', '1'));
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
    const metricsUrls = urls.map(u => new URL('/metrics', u).href);
    const sumMetrics = async () => {
        const all = await Promise.all(metricsUrls.map(metrics));
        return Object.fromEntries(Object.keys(all[0]).map(k => [k, all.reduce((s, m) => s + m[k], 0)]));
    };
    const log = msg => console.error(`# [${label} C=${conc}${serverTag ? ` ${serverTag}` : ''} pass ${pass}] ${msg}`);

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
        for (let j = i; j < Math.min(conc, i + 32); j++) batch.push(new Mcp(urls[j % urls.length], teams[j % teams.length].key).init());
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
    const m0 = await sumMetrics();
    const db = pids.db ? `tree:${pids.db}` : undefined;
    const cpu0 = { server: cpuSeconds(pids.server), fake: cpuSeconds(pids.fake), driver: cpuSeconds('self'), ...(db && { db: cpuSeconds(db) }) };
    const serverThreads = new ThreadSampler(pids.server.split('+')[0]).start();
    const fakeThreads = new ThreadSampler(pids.fake).start();
    const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    windowStart = now();
    log(`warm-up ${(warmedMs / 1000).toFixed(1)} s; measuring ${dur} s`);
    await sleep(dur * 1000);
    windowEnd = now();
    const m1 = await sumMetrics();
    const cpu1 = { server: cpuSeconds(pids.server), fake: cpuSeconds(pids.fake), driver: cpuSeconds('self'), ...(db && { db: cpuSeconds(db) }) };
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
        label, caps, teams: teams.length, conc, latencyMs, dur: secs, warmupS: warmedMs / 1000, serverTag, serverBin, pass,
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
