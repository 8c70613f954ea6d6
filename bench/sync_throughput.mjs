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
//
// The modules: sync_throughput_client.mjs (MCP client, fake API, /metrics), sync_throughput_proc.mjs (CPU and
// thread figures from /proc), sync_throughput_row.mjs (`row`); `table` is here.
import { readFileSync } from 'node:fs';
import { storageThread } from './sync_throughput_proc.mjs';
import { row } from './sync_throughput_row.mjs';

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
    const capsText = c => `${c.max_in_flight}/${c.per_team_in_flight}/${c.per_crm_in_flight}/${c.max_concurrent_per_host}` +
        (c.instances ? `, ${c.instances} instance${c.instances > 1 ? 's' : ''} on PostgreSQL` : '');
    console.log(`Fake Rollout with ${rows[0].latencyMs} ms added latency; one tour = new buyer (email) + 2 visits to highlevel, ` +
        `${rows[0].emptyCalls} sequential Rollout calls on an empty CRM (${rows[0].callSeq.join(', ')}).`);
    console.log('Caps = [sync] max_in_flight / per_team_in_flight / per_crm_in_flight / [rollout] max_concurrent_per_host. ' +
        'Limit = slots / (Rollout calls per tour x latency), with the calls per tour measured in the window.');
    console.log('');
    console.log('| caps | teams | C | slots (bound by) | tours/s | p50 ms | p99 ms | Rollout calls/tour | mean call ms | limit tours/s | % of limit | CPU ms/tour server / fake / driver (/ PostgreSQL) | storage thread % on CPU + waiting for one |');
    console.log('|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const r of rows) {
        const bad = Object.entries(r.outcomes).filter(([k]) => k !== 'success').map(([k, n]) => `${n} ${k}`).join(', ');
        const st = r.serverThreads ? storageThread(r.serverThreads) : null;
        console.log(`| ${r.label} ${capsText(r.caps)} | ${r.teams} | ${r.conc} | ${r.slots} (${r.bound}) | ${f(r.toursPerSec, 1)}${bad ? ` (+${bad})` : ''} | ` +
            `${f(r.p50)} | ${f(r.p99)} | ${f(r.callsPerTour, 2)} | ${f(r.meanCallMs, 1)} | ${f(r.limit, 1)} | ${f(r.pct)} % | ` +
            `${cpuMs(r, 'server')} / ${cpuMs(r, 'fake')} / ${cpuMs(r, 'driver')}${r.cpu.db !== undefined ? ` / ${cpuMs(r, 'db')}` : ''} | ${st ? `${f(st.cpu)} + ${f(st.runq)}` : '-'} |`);
    }
    // Several instances against one: the same caps, teams and C on 1 and on N instances, in this run.
    for (const r of rows.filter(x => x.caps.instances > 1)) {
        const one = rows.find(o => o.caps.instances === 1 && o.label === r.label && o.teams === r.teams && o.conc === r.conc);
        if (one && one.toursPerSec > 0)
            console.log(`\n${r.label} ${r.teams} teams C=${r.conc}: ${r.caps.instances} instances ${f(r.toursPerSec, 1)} tours/s = ` +
                `${(r.toursPerSec / one.toursPerSec).toFixed(2)}x one instance (${f(one.toursPerSec, 1)}).`);
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
