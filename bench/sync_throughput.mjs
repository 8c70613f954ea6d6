#!/usr/bin/env node
// sync_throughput.mjs: the load driver of bench/sync_throughput.sh (sync throughput against the fake Rollout).
//
//   node sync_throughput.mjs row --url http://127.0.0.1:PORT/mcp --fake http://127.0.0.1:FAKEPORT --secret S
//        --teams KEY:TENANT[,KEY:TENANT...] --conc C --caps JSON --label NAME [--dur 10] [--warmup 2]
//        [--max-warmup 40] [--latency-ms 50] [--pids server:PID,fake:PID] [--out FILE.jsonl]
//        [--server-tag candidate|baseline --server-bin PATH --pass N]
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
// `table` prints the markdown table of a results file: one line per row and server (--server-tag), each figure
// the median of its passes, and for a row run on both "candidate" and "baseline" the ratios candidate / baseline.
//
// Plain fetch, no SDK: initialize -> notifications/initialized -> tools/call with Mcp-Session-Id; a streaming
// tool's answer is an SSE stream, whose `data:` lines are parsed for the response with the request's id.
//
// The modules: sync_throughput_client.mjs (MCP client, fake API, /metrics), sync_throughput_proc.mjs (CPU and
// thread figures from /proc), sync_throughput_row.mjs (`row`); `table` is here.
import { readFileSync } from 'node:fs';
import { storageThread } from './sync_throughput_proc.mjs';
import { row } from './sync_throughput_row.mjs';

// ---- the table ----------------------------------------------------------------------------------------
const median = xs => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
    if (!v.length) return NaN;
    const m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
// CPU milliseconds per synced tour of process k in one run (CPU % of one core x 10 / tours per second).
const cpuMsOf = (r, k) => (r.toursPerSec > 0 && r.cpu[k] !== undefined ? (10 * r.cpu[k]) / r.toursPerSec : NaN);

// The runs of one row (same set, caps, teams, C) and server, their passes folded into medians.
function fold(runs) {
    const r0 = runs[0];
    const med = f => median(runs.map(f));
    const bad = {};
    for (const r of runs) for (const [k, n] of Object.entries(r.outcomes)) if (k !== 'success') bad[k] = (bad[k] || 0) + n;
    const sts = runs.map(r => (r.serverThreads ? storageThread(r.serverThreads) : null)).filter(Boolean);
    return {
        label: r0.label, caps: r0.caps, teams: r0.teams, conc: r0.conc, slots: r0.slots, bound: r0.bound,
        serverTag: r0.serverTag || '', passes: runs.length, runs, bad,
        toursPerSec: med(r => r.toursPerSec), p50: med(r => r.p50), p99: med(r => r.p99),
        callsPerTour: med(r => r.callsPerTour), meanCallMs: med(r => r.meanCallMs), limit: med(r => r.limit), pct: med(r => r.pct),
        cpuMs: Object.fromEntries(Object.keys(r0.cpu).map(k => [k, med(r => cpuMsOf(r, k))])),
        st: sts.length ? { cpu: median(sts.map(t => t.cpu)), runq: median(sts.map(t => t.runq)) } : null
    };
}

function table(file) {
    const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
    if (!rows.length) {
        console.log('(no rows)');
        return;
    }
    const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
    const capsText = c => `${c.max_in_flight}/${c.per_team_in_flight}/${c.per_crm_in_flight}/${c.max_concurrent_per_host}` +
        (c.instances ? `, ${c.instances} instance${c.instances > 1 ? 's' : ''} on PostgreSQL` : '');
    // Rows and servers in the order of their first run.
    const groups = new Map();
    for (const r of rows) {
        const key = JSON.stringify([r.label, r.caps, r.teams, r.conc, r.serverTag || '']);
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(r);
    }
    const folded = [...groups.values()].map(fold);
    const tagged = folded.some(g => g.serverTag);
    const maxPasses = Math.max(...folded.map(g => g.passes));

    console.log(`Fake Rollout with ${rows[0].latencyMs} ms added latency; one tour = new buyer (email) + 2 visits to highlevel, ` +
        `${rows[0].emptyCalls} sequential Rollout calls on an empty CRM (${rows[0].callSeq.join(', ')}).`);
    for (const r of rows.filter(x => x.emptyCalls !== rows[0].emptyCalls || x.callSeq.join() !== rows[0].callSeq.join()).slice(0, 3))
        console.log(`(${r.serverTag || 'run'} ${r.label} C=${r.conc} pass ${r.pass ?? 1}: ${r.emptyCalls} calls on an empty CRM: ${r.callSeq.join(', ')})`);
    console.log('Caps = [sync] max_in_flight / per_team_in_flight / per_crm_in_flight / [rollout] max_concurrent_per_host. ' +
        'Limit = slots / (Rollout calls per tour x latency), with the calls per tour measured in the window.' +
        (maxPasses > 1 ? ` Each figure: the median over ${maxPasses} passes${tagged ? ' (candidate and baseline alternating)' : ''}.` : ''));
    if (tagged) {
        const bins = [...new Map(rows.filter(r => r.serverTag).map(r => [r.serverTag, r.serverBin])).entries()];
        console.log(`Servers: ${bins.map(([t, b]) => `${t} = ${b}`).join('; ')}.`);
    }
    console.log('');
    console.log(`| caps |${tagged ? ' server |' : ''} teams | C | slots (bound by) | tours/s | p50 ms | p99 ms | Rollout calls/tour | mean call ms | limit tours/s | % of limit | CPU ms/tour server / fake / driver (/ PostgreSQL) | storage thread % on CPU + waiting for one |`);
    console.log(`|---|${tagged ? '---|' : ''}---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|`);
    for (const g of folded) {
        const bad = Object.entries(g.bad).map(([k, n]) => `${n} ${k}`).join(', ');
        const cpu = k => f(g.cpuMs[k], 1);
        console.log(`| ${g.label} ${capsText(g.caps)} |${tagged ? ` ${g.serverTag || '-'} |` : ''} ${g.teams} | ${g.conc} | ${g.slots} (${g.bound}) | ` +
            `${f(g.toursPerSec, 1)}${bad ? ` (+${bad})` : ''} | ${f(g.p50)} | ${f(g.p99)} | ${f(g.callsPerTour, 2)} | ${f(g.meanCallMs, 1)} | ` +
            `${f(g.limit, 1)} | ${f(g.pct)} % | ${cpu('server')} / ${cpu('fake')} / ${cpu('driver')}${g.cpuMs.db !== undefined ? ` / ${cpu('db')}` : ''} | ` +
            `${g.st ? `${f(g.st.cpu)} + ${f(g.st.runq)}` : '-'} |`);
    }
    const same = (a, b) => a.label === b.label && a.teams === b.teams && a.conc === b.conc && JSON.stringify(a.caps) === JSON.stringify(b.caps);
    // Candidate against baseline, per row: ratios of the medians, and every pass.
    for (const g of folded.filter(x => x.serverTag === 'candidate')) {
        const b = folded.find(x => x.serverTag === 'baseline' && same(x, g));
        if (!b) continue;
        const ratio = (x, y) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? `${(x / y).toFixed(2)}x` : '-');
        const cpuRatio = k => `${k} ${ratio(g.cpuMs[k], b.cpuMs[k])} (${f(g.cpuMs[k], 2)} vs ${f(b.cpuMs[k], 2)})`;
        const passes = x => `tours/s ${x.runs.map(r => f(r.toursPerSec, 1)).join(', ')} with rollout-mcp CPU ms/tour ${x.runs.map(r => f(cpuMsOf(r, 'server'), 2)).join(', ')}`;
        console.log(`\n${g.label} ${g.teams} teams C=${g.conc}, candidate / baseline (medians of ${g.passes} / ${b.passes} passes):`);
        console.log(`- CPU ms per tour of each process: ${Object.keys(g.cpuMs).map(cpuRatio).join(', ')}`);
        console.log(`- tours/s: ${ratio(g.toursPerSec, b.toursPerSec)} (${f(g.toursPerSec, 1)} vs ${f(b.toursPerSec, 1)}); ` +
            `% of the latency limit: ${f(g.pct)} % vs ${f(b.pct)} %; p50 ${f(g.p50)} vs ${f(b.p50)} ms`);
        console.log(`- each pass: candidate ${passes(g)}; baseline ${passes(b)}`);
    }
    // Several instances against one: the same caps, teams, C and server on 1 and on N instances, in this run.
    for (const g of folded.filter(x => x.caps.instances > 1)) {
        const one = folded.find(o => o.caps.instances === 1 && o.serverTag === g.serverTag && o.label === g.label && o.teams === g.teams && o.conc === g.conc);
        if (one && one.toursPerSec > 0)
            console.log(`\n${g.label} ${g.teams} teams C=${g.conc}${g.serverTag ? ` (${g.serverTag})` : ''}: ${g.caps.instances} instances ${f(g.toursPerSec, 1)} tours/s = ` +
                `${(g.toursPerSec / one.toursPerSec).toFixed(2)}x one instance (${f(one.toursPerSec, 1)}).`);
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
