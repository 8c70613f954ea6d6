#!/usr/bin/env node
// soak.mjs: the load driver of the soak test (issue 8 "Proof"), started by soak.sh against a running
// `rollout-mcp serve` (test fixtures on, auth none, short timeouts). Built-in modules only.
//
//   node soak.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --seconds 120 [--workers 40]
//                 [--max-body-bytes N] [--max-header-bytes N] [--request-timeout-ms N]
//                 [--sample-ms 5000] [--warmup 0.25] [--rss-pct 15] [--rss-mib 8] [--fd-slack 4]
//                 [--settle-s 20] [--report FILE] [--inject valid|fd|rss] [--only KIND,...]
//
// 1. Idle baseline: waits until connections left over from start-up are reaped, then reads the server's
//    open file descriptors (/proc/PID/fd) and RSS (/proc/PID/status VmRSS).
// 2. Load: --workers workers loop until --seconds pass, each iteration one of
//    - a valid session (initialize + notifications/initialized in a random protocol revision, then 2-8
//      operations: echo with a random text checked byte for byte, test_simple_text, the progress tool over
//      SSE (3 progress notifications + the result), test_tool_with_logging, ping, tools/list,
//      test_error_handling (isError with its text), logging/setLevel, a batch in 2025-03-26 sessions),
//      mixed with broken calls on the same session (invalid JSON, wrong JSON-RPC shapes, unknown method,
//      bad arguments, unknown tool, bad MCP-Protocol-Version, bad Accept / Content-Type, batch in a revision
//      without batches); the session is then DELETEd (and its id checked to be 404 afterwards) or abandoned
//      (the server's idle timeout ends it);
//    - a broken call without a session: no / unknown session id, bad Host, bad Origin, oversized body (real
//      or only declared, plain or chunked), oversized headers, Content-Length + Transfer-Encoding, two
//      Content-Lengths, a bad chunk, garbage bytes (TLS hello, binary, not HTTP, HTTP/2 preface), PUT,
//      unknown path;
//    - a dropped connection (raw sockets): half a request then close, connect and close, connect and stay
//      silent (the server must cut it off within request_timeout + 3 s), a whole request then close without
//      reading, a POST whose SSE response is read up to its first event and then destroyed (the session must
//      still answer afterwards), a GET SSE stream (a second GET on the session must get 409) dropped after
//      0-1 s.
//    Every --sample-ms: RSS, fd count, GET /healthz (status, time) and the sessions / connections / SSE
//    streams gauges of /metrics.
// 3. After the load: waits (at most --settle-s) until the fd count is back within --fd-slack of the baseline.
//
// Pass criteria (exit 0 only if all hold):
//   - no error in any valid call (wrong status, wrong result, JSON-RPC error, transport error, timeout);
//   - no 5xx answer to anything;
//   - every broken call refused as expected (the listed 4xx, or a JSON-RPC error / tool error in HTTP 200),
//     every silent connection cut off in time;
//   - /healthz 200 at every sample, and the server process alive at the end;
//   - RSS flat: the samples after the warm-up (--warmup, a fraction of the run) are split at the midpoint;
//     max(second half) <= max(warm-up..midpoint) + max(--rss-mib MiB, --rss-pct % of it);
//   - fd count back to <= baseline + --fd-slack after the load (within --settle-s).
// --inject makes one criterion fail on purpose (a self-test of the checks; the run must then FAIL):
//   valid: one echo result is compared with a wrong text; fd: 16 GET SSE streams are held open through the
//   final fd check; rss: the RSS bound is set below the reference (any non-shrinking RSS fails).
// --only KIND,... runs just those iterations (session, or a broken / dropped kind's name): a debugging aid.
//
// The modules: soak_common.mjs (options, helpers, statistics), soak_client.mjs (HTTP, MCP session, raw sockets),
// soak_valid.mjs / soak_hostile.mjs / soak_dropped.mjs (the workload kinds), soak_sample.mjs (/proc and /healthz samples).
import { writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { PID, SECONDS, WORKERS, SAMPLE_MS, WARMUP, RSS_PCT, RSS_MIB, FD_SLACK, SETTLE_S, REPORT, INJECT, ONLY, REQUEST_TIMEOUT_MS,
         sleep, pick, now, stats, run, tally, note, validFail, brokenResult } from './soak_common.mjs';
import { agent } from './soak_client.mjs';
import { validSession } from './soak_valid.mjs';
import { BROKEN } from './soak_hostile.mjs';
import { DROPPED, holdOpen, holdStreams } from './soak_dropped.mjs';
import { fdCount, rssKib, alive, samples, reqTotal, sample, mib, fmtSample } from './soak_sample.mjs';

// ---- workers ---------------------------------------------------------------------------------------------
async function worker() {
    while (!run.stopping) {
        const r = Math.random();
        try {
            if (ONLY.length) {   // --only: a debugging aid, just the listed kinds
                const kind = pick(ONLY);
                if (kind === 'session') await validSession();
                else if (BROKEN[kind]) { const bad = await BROKEN[kind](); brokenResult(kind, bad === null, bad); }
                else { const bad = await DROPPED[kind](); tally('dropped', kind, bad === null); if (bad) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: bad }); }
            } else if (r < 0.5) await validSession();
            else if (r < 0.8) {
                const kind = pick(Object.keys(BROKEN));
                const bad = await BROKEN[kind]();
                brokenResult(kind, bad === null, bad);
            } else {
                const kind = pick(Object.keys(DROPPED));
                const bad = await DROPPED[kind]();
                tally('dropped', kind, bad === null);
                if (bad) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: bad });
            }
        } catch (e) {
            validFail('driver', `unexpected exception: ${e.stack || e}`);
        }
        await sleep(randomInt(0, 20));
    }
}

// ---- the run -------------------------------------------------------------------------------------------
async function main() {
    if (!alive()) { console.log(`soak.mjs: FAIL server pid ${PID} is not running`); process.exit(1); }
    const unknown = ONLY.filter(k => k !== 'session' && !BROKEN[k] && !DROPPED[k]);
    if (unknown.length) {
        console.log(`soak.mjs: unknown --only kind(s) ${unknown.join(', ')}; known: session, ${Object.keys(BROKEN).join(', ')}, ${Object.keys(DROPPED).join(', ')}`);
        process.exit(2);
    }
    // 1. Idle baseline (connections from the start-up checks are reaped after request_timeout).
    await sleep(REQUEST_TIMEOUT_MS + 500);
    const baseFds = fdCount(), baseRss = rssKib();
    run.loadStart = now();
    console.log(`soak.mjs: idle baseline: ${baseFds} fds, RSS ${mib(baseRss)} MiB; ${WORKERS} workers for ${SECONDS} s, ` +
                `a sample every ${SAMPLE_MS} ms${INJECT ? `, INJECT=${INJECT}` : ''}`);
    const first = await sample('load');
    console.log(fmtSample(first));

    // 2. Load.
    const end = run.loadStart + SECONDS * 1000;
    const workers = Array.from({ length: WORKERS }, () => worker());
    while (now() < end) {
        await sleep(Math.min(SAMPLE_MS, end - now()));
        if (now() >= end - 50) break;
        console.log(fmtSample(await sample('load')));
        if (!alive()) { console.log('soak.mjs: the server process is gone'); break; }
    }
    const last = await sample('load');
    console.log(fmtSample(last));
    run.stopping = true;
    const drained = await Promise.race([Promise.all(workers).then(() => true), sleep(30000).then(() => false)]);
    const loadEnd = now();
    if (!drained) note('validErrors', 'validErrors', { kind: 'driver', detail: 'workers did not finish within 30 s of the end of the load' });

    // 3. Settle: connections are reaped, the fd count returns to the baseline.
    agent.destroy();
    if (INJECT === 'fd') await holdStreams(16);
    // Waits for the exact baseline (at most --settle-s); the criterion allows --fd-slack above it.
    let settled = null;
    while (now() - loadEnd < SETTLE_S * 1000) {
        await sleep(500);
        const f = fdCount();
        if (f === null) break;
        if (f <= baseFds + FD_SLACK && settled === null) settled = now() - loadEnd;
        if (f <= baseFds) break;
    }
    const after = await sample('after');
    const afterFds = after.fds;   // read before the sample's own /healthz and /metrics connections
    console.log(fmtSample(after));
    for (const s of holdOpen) s.destroy();

    // ---- criteria ----
    const failures = [];
    const isAlive = alive() && after.healthz === 200;
    if (!isAlive) failures.push(`the server is not alive at the end (process ${alive() ? 'running' : 'gone'}, /healthz ${after.healthz})`);
    const badHealth = samples.filter(s => s.healthz !== 200);
    if (badHealth.length) failures.push(`/healthz not 200 at ${badHealth.length} of ${samples.length} samples (t = ${badHealth.map(s => s.t).join(', ')} s)`);
    if (stats.counts.validErrors) failures.push(`${stats.counts.validErrors} error(s) in valid calls`);
    if (stats.counts.serverErrors) failures.push(`${stats.counts.serverErrors} 5xx answer(s)`);
    if (stats.counts.brokenAnomalies) failures.push(`${stats.counts.brokenAnomalies} broken call(s) / dropped connection(s) not handled as expected`);

    // RSS: samples after the warm-up, split at the midpoint of the run.
    const load = samples.filter(s => s.phase === 'load' && s.rss_kib !== null);
    const warm = WARMUP * SECONDS, mid = SECONDS / 2;
    const refWin = load.filter(s => s.t >= warm && s.t < mid), testWin = load.filter(s => s.t >= mid);
    let rssLine;
    if (refWin.length === 0 || testWin.length === 0) {
        failures.push(`too few RSS samples to judge (reference window ${refWin.length}, second half ${testWin.length}); run longer`);
        rssLine = 'RSS: not enough samples';
    } else {
        const ref = Math.max(...refWin.map(s => s.rss_kib)), top = Math.max(...testWin.map(s => s.rss_kib));
        let allowed = Math.max(RSS_MIB * 1024, (ref * RSS_PCT) / 100);
        if (INJECT === 'rss') allowed = -1;
        const bound = ref + allowed;
        rssLine = `RSS: max ${mib(ref)} MiB in [${warm.toFixed(0)} s, ${mid.toFixed(0)} s), max ${mib(top)} MiB in [${mid.toFixed(0)} s, ${SECONDS} s]; ` +
                  `bound ${mib(bound)} MiB (+max(${RSS_MIB} MiB, ${RSS_PCT} %)${INJECT === 'rss' ? ', INJECTED' : ''}); growth ${(top - ref >= 0 ? '+' : '')}${mib(top - ref)} MiB`;
        if (top > bound) failures.push(`RSS grew: ${mib(top)} MiB in the second half > bound ${mib(bound)} MiB`);
    }
    const fdLine = `fds: idle baseline ${baseFds}, peak under load ${Math.max(...load.map(s => s.fds ?? 0))}, after the load ${afterFds}` +
                   ` (bound ${baseFds + FD_SLACK}; ${settled !== null ? `within the bound ${(settled / 1000).toFixed(1)} s after the load` : `not within the bound ${SETTLE_S} s after the load`})`;
    if (afterFds === null || afterFds > baseFds + FD_SLACK) failures.push(`fd leak: ${afterFds} open fds ${SETTLE_S} s after the load, idle baseline ${baseFds} (+${FD_SLACK} allowed)`);

    // ---- summary ----
    const dur = (loadEnd - run.loadStart) / 1000;
    const total = reqTotal();
    const line = '-'.repeat(100);
    console.log(line);
    console.log(`soak summary: ${dur.toFixed(1)} s of load, ${WORKERS} workers, ${total} HTTP answers (${(total / dur).toFixed(0)}/s); ` +
                `sessions created ${stats.sessions.created}, deleted ${stats.sessions.deleted}, abandoned ${stats.sessions.abandoned}`);
    for (const cat of ['valid', 'broken', 'dropped']) {
        const kinds = Object.entries(stats[cat]).sort();
        const n = kinds.reduce((a, [, t]) => a + t.n, 0), bad = kinds.reduce((a, [, t]) => a + t.bad, 0);
        console.log(`  ${cat.padEnd(7)} ${String(n).padStart(7)} (${bad} bad): ` + kinds.map(([k, t]) => `${k} ${t.n}${t.bad ? ` [${t.bad} bad]` : ''}`).join(', '));
    }
    console.log(`  HTTP statuses: ${Object.entries(stats.status).sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    // Long runs: the series lines show at most ~60 samples, evenly spaced (every sample is printed above).
    const every = Math.ceil(load.length / 60);
    const series = load.filter((_, i) => i % every === 0 || i === load.length - 1);
    const thinned = every > 1 ? ` (1 sample in ${every})` : '';
    console.log(`  RSS series (MiB)${thinned}: ${series.map(s => mib(s.rss_kib)).join(' ')} | after ${mib(after.rss_kib)}`);
    console.log(`  fd series${thinned}:        ${series.map(s => s.fds).join(' ')} | after ${afterFds}`);
    console.log(`  sessions series${thinned}:  ${series.map(s => s.sessions).join(' ')} | after ${after.sessions}`);
    console.log(`  ${rssLine}`);
    console.log(`  ${fdLine}`);
    for (const [list, title] of [['validErrors', 'errors in valid calls'], ['serverErrors', '5xx answers'], ['brokenAnomalies', 'broken calls / dropped connections not handled as expected']]) {
        if (!stats[list].length) continue;
        console.log(`  ${title} (first ${stats[list].length} of ${stats.counts[list]}):`);
        for (const e of stats[list]) console.log(`    t=${e.t}s ${JSON.stringify(e)}`);
    }
    if (REPORT) writeFileSync(REPORT, JSON.stringify({ seconds: SECONDS, workers: WORKERS, baseFds, baseRss, afterFds, samples, stats, failures }, null, 1));
    console.log(line);
    if (failures.length) {
        console.log(`soak.mjs: FAIL\n${failures.map(f => `  - ${f}`).join('\n')}`);
        process.exit(1);
    }
    console.log('soak.mjs: PASS (server alive, /healthz always 200, no error in valid calls, no 5xx, every broken call refused, RSS flat, no fd leak)');
    process.exit(0);
}

process.on('unhandledRejection', e => { console.log(`soak.mjs: unhandled rejection: ${e?.stack || e}`); process.exit(1); });
main();
