#!/usr/bin/env node
// multi_instance.mjs: the client side of the several-instances test (multi_instance.sh starts the fake Rollout,
// writes the config, creates the teams; this script does the rest):
//   1. starts --instances `rollout-mcp serve` processes (one PostgreSQL database, each on its own loopback port);
//   2. configures every team over MCP (configure_rollout against the fake, a highlevel and a lofty credential in
//      the fake, configure_crm_connection for both), each team through a different instance;
//   3. arms faults in the fake (writes applied then the connection reset / half-closed / hung / cut short, on
//      fresh and reused connections; 429 with and without Retry-After; 502 HTML; resets before handling), and
//      re-arms one now and then;
//   4. sends --tours sync_tour_data calls (teams in turn; crmType all / highlevel / lofty; 1-2 visits; wait true
//      or false; each with an idempotencyKey) from --concurrency workers, each call to the next live instance
//      (sessionless MCP 2026-07-28 requests: any instance serves any call); a call whose instance dies (or does not
//      answer) is repeated on another one with the same key until it is accepted. About --feedback of the accepted
//      tours also get a sync_feedback_data call (same rules);
//   5. meanwhile SIGKILLs a random instance every --kill-ms MIN-MAX ms and starts it again at once;
//   6. when every call is accepted: waits until the outbox holds no queued or running job (`outbox stats`),
//      reads every job (`outbox list --json --tenant T`), stops the instances (SIGTERM: exit 0 each);
//   7. checks (multi_instance_check.mjs) the fake's records and the outbox: nothing lost, nothing duplicated.
//
//   node multi_instance.mjs --server BIN --config FILE --dir DIR --fake URL --teams teams.json --secret S
//        [--tours 2000] [--instances 3] [--concurrency 16] [--kill-ms 2000-5000] [--feedback 0.2] [--bound-ms 220000]
// Exit 0 all good, 1 a violation or failure. DIR gets instance-N.log, report.json.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, sleep, short, log, CRMS, fake, callTool, Gone, Refused, Pool } from './multi_instance_lib.mjs';
import { check } from './multi_instance_check.mjs';

const SERVER = arg('server'), CONFIG = arg('config'), DIR = arg('dir'), FAKE = (arg('fake') || '').replace(/\/+$/, '');
const SECRET = arg('secret'), TEAMS_FILE = arg('teams');
const TOURS = Number(arg('tours', '2000')), INSTANCES = Number(arg('instances', '3'));
const CONCURRENCY = Number(arg('concurrency', '16')), FEEDBACK = Number(arg('feedback', '0.2'));
const BOUND_MS = Number(arg('bound-ms', '220000'));
const [KILL_MIN, KILL_MAX] = (arg('kill-ms', '2000-5000')).split('-').map(Number);
if (!SERVER || !CONFIG || !DIR || !FAKE || !SECRET || !TEAMS_FILE || !(TOURS > 0) || !(INSTANCES >= 2) || !(KILL_MIN <= KILL_MAX)) {
    console.error('usage: multi_instance.mjs --server BIN --config FILE --dir DIR --fake URL --teams FILE --secret S [options]');
    process.exit(2);
}
const t0 = Date.now();
const deadline = t0 + BOUND_MS;
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const teams = JSON.parse(readFileSync(TEAMS_FILE, 'utf8'));
const pool = new Pool({ server: SERVER, config: CONFIG, dir: DIR, count: INSTANCES });
const fatal = msg => {
    log(`FAIL ${msg} (after ${elapsed()})`);
    pool.killAll();
    process.exit(1);
};
process.on('SIGTERM', () => fatal('SIGTERM (the driver ran out of time)'));
setTimeout(() => fatal(`the script's own bound (${BOUND_MS} ms) passed`), BOUND_MS).unref();

const stats = { calls: 0, accepted: 0, replayed: 0, gone: 0, refusedRetried: 0, retryableErrors: 0, feedbackAccepted: 0 };
const problems = [];
const problem = (what, detail) => {
    problems.push(`${what}: ${detail}`);
    if (problems.length <= 20) log(`PROBLEM ${what}: ${short(detail)}`);
};

// call TOOL ARGS as TEAM on the next live instance until a result arrives: a dead or silent instance, a 5xx or
// 429, or a "retryable" tool error is repeated (on another instance where there is one) with the same arguments,
// idempotencyKey included. Returns every result {sc, instance}; null when a non-retryable error came back.
async function deliver(team, tool, args, what) {
    let avoid = null;
    for (let attempt = 1; ; attempt++) {
        if (Date.now() > deadline - 5000) throw new Error(`${what}: not accepted before the bound (${attempt - 1} tries)`);
        const slot = pool.next(avoid);
        if (!slot) {
            await sleep(50);
            continue;
        }
        const url = slot.url;
        stats.calls++;
        try {
            const r = await callTool(url, team.key, tool, args, 15000);
            if (r.isError) {
                if (r.sc?.retryable === true) {
                    stats.retryableErrors++;
                    avoid = url;
                    await sleep(200);
                    continue;
                }
                problem(what, `isError result from instance ${slot.i}: ${short(r.text)}`);
                return null;
            }
            slot.calls = (slot.calls || 0) + 1;
            return { sc: r.sc, instance: slot.i, tries: attempt };
        } catch (err) {
            if (err instanceof Gone) {
                stats.gone++;
            } else if (err instanceof Refused && (err.status >= 500 || err.status === 429)) {
                stats.refusedRetried++;
            } else {
                problem(what, `instance ${slot.i}: ${err?.message ?? err}`);
                return null;
            }
            avoid = url;
            await sleep(100);
        }
    }
}

// ---- 1. instances ------------------------------------------------------------------------------------
try {
    await Promise.all(pool.slots.map(s => pool.start(s.i)));
} catch (err) {
    fatal(err.message);
}
log(`${INSTANCES} instances up: ${pool.live().map(s => s.url).join(' ')} (${elapsed()})`);

// ---- 2. teams ----------------------------------------------------------------------------------------
try {
    await Promise.all(teams.map(async (team, n) => {
        const url = pool.slots[n % INSTANCES].url;
        const r = await callTool(url, team.key, 'configure_rollout',
                                 { projectEnvKey: `mi-project-${n}`, clientId: `mi-client-${n}`, clientSecret: SECRET, baseUrl: FAKE });
        if (r.isError) throw new Error(`configure_rollout ${team.name}: ${short(r.text)}`);
        team.creds = {};
        for (const crm of CRMS) {
            team.creds[crm] = (await fake(FAKE, '/_fake/credentials', { method: 'POST', body: { appKey: crm, sub: team.tenant, label: `${team.name} ${crm}` } })).id;
            const cc = await callTool(pool.slots[(n + 1) % INSTANCES].url, team.key, 'configure_crm_connection', { crmType: crm, credentialKey: team.creds[crm] });
            if (cc.isError) throw new Error(`configure_crm_connection ${team.name} ${crm}: ${short(cc.text)}`);
        }
    }));
} catch (err) {
    fatal(`team setup: ${err?.message ?? err}`);
}
writeFileSync(join(DIR, 'teams-configured.json'), JSON.stringify(teams, null, 1));
log(`${teams.length} teams configured, each with ${CRMS.join(' + ')} (${elapsed()})`);

// ---- 3. faults ---------------------------------------------------------------------------------------
const FAULT_KINDS = [
    { match: { method: 'POST', pathPrefix: '/crm/api/people', reusedConnection: true }, action: 'reset_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/appointments', reusedConnection: true }, action: 'reset_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/notes', reusedConnection: true }, action: 'reset_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/appointments', reusedConnection: false }, action: 'reset_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/people', reusedConnection: false }, action: 'half_close_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/appointments' }, action: 'timeout_after_write' },
    { match: { method: 'POST', pathPrefix: '/crm/api/notes' }, action: 'truncated_body' },
    { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'truncated_body' },
    { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'rate_limit', retryAfterSeconds: 1 },
    { match: { method: 'POST', pathPrefix: '/crm/api/appointments' }, action: 'rate_limit' },
    { match: { method: 'POST', pathPrefix: '/crm/api/people' }, action: 'rate_limit' },
    { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'status', status: 502, contentType: 'text/html',
      body: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>' },
    { match: { method: 'POST', pathPrefix: '/crm/api/notes' }, action: 'reset_before_handle' }
];
let faultsArmed = 0;
const armFault = async kind => {
    try {
        await fake(FAKE, '/_fake/faults', { method: 'POST', body: { ...kind, count: 2 } });
        faultsArmed += 2;
    } catch (err) {
        problem('arming a fault in the fake', err.message);
    }
};
await Promise.all(FAULT_KINDS.map(armFault));

// ---- 4 + 5. load, kills ------------------------------------------------------------------------------
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const pick = a => a[Math.floor(Math.random() * a.length)];
function tourArgs(n) {
    const tourId = `mi-${run}-${n}`, buyerId = `buyer-${run}-${n}`;
    const properties = [];
    const nprops = Math.random() < 0.5 ? 1 : 2;
    for (let i = 1; i <= nprops; i++)
        properties.push({
            propertyId: `p${i}`, address: `${100 * i + (n % 9000)} Shared St, Austin, TX 7870${i}`,
            visitTime: `2026-12-${String(1 + (n % 28)).padStart(2, '0')}T${String(8 + i).padStart(2, '0')}:00:00-06:00`,
            durationMinutes: 30
        });
    const r = Math.random();
    return {
        tourData: { tourId, agentId: 'agent-mi', buyerId, timeZone: 'America/Chicago', properties,
                    buyer: { name: `Multi Buyer${n}`, email: `${buyerId}@example.com`,
                             phone: `+1 512 ${String(200 + (n % 700)).padStart(3, '0')} ${String(n % 10000).padStart(4, '0')}` } },
        crmType: r < 0.6 ? 'all' : r < 0.8 ? 'highlevel' : 'lofty',
        wait: Math.random() < 0.3,
        idempotencyKey: `idem-${tourId}`
    };
}
const tours = [];      // {team, args, result, feedback?: {args, result}}
let nextTour = 0, loadDone = false;
async function worker() {
    while (nextTour < TOURS) {
        const n = nextTour++;
        const team = teams[n % teams.length];
        const t = { team: team.name, tenant: team.tenant, args: tourArgs(n) };
        tours.push(t);
        t.result = await deliver(team, 'sync_tour_data', t.args, `sync_tour_data ${t.args.tourData.tourId}`);
        if (!t.result) continue;
        stats.accepted++;
        if (t.result.sc?.replayed === true) stats.replayed++;
        if (Math.random() < FEEDBACK) {
            const p = pick(t.args.tourData.properties);
            const fb = { feedbackData: { tourId: t.args.tourData.tourId, propertyId: p.propertyId, buyerId: t.args.tourData.buyerId,
                                         feedback: `Feedback on ${p.address}`, rating: 4, timestamp: '2026-12-06T15:00:00-06:00' },
                         crmType: t.args.crmType, wait: Math.random() < 0.3, idempotencyKey: `fb-${t.args.tourData.tourId}-${p.propertyId}` };
            t.feedback = { args: fb };
            t.feedback.result = await deliver(team, 'sync_feedback_data', fb, `sync_feedback_data ${t.args.tourData.tourId}/${p.propertyId}`);
            if (t.feedback.result) stats.feedbackAccepted++;
        }
        if (n % 250 === 249) log(`${n + 1} tours sent, ${JSON.stringify(stats)} (${elapsed()})`);
    }
}
const killLog = [];
async function killer() {
    while (!loadDone) {
        await sleep(KILL_MIN + Math.random() * (KILL_MAX - KILL_MIN));
        if (loadDone) break;
        const victim = pick(pool.slots.filter(s => s.proc));
        if (!victim) continue;
        await pool.kill(victim.i);
        killLog.push({ at: elapsed(), instance: victim.i });
        try {
            await pool.start(victim.i);
        } catch (err) {
            fatal(`restart after SIGKILL: ${err.message}`);
        }
    }
}
async function rearm() {
    while (!loadDone) {
        await sleep(1500);
        if (!loadDone) await armFault(pick(FAULT_KINDS));
    }
}
const loadStart = Date.now();
const side = [killer(), rearm()];
try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
} catch (err) {
    fatal(err.message);
}
const loadSecs = (Date.now() - loadStart) / 1000;
const loadKills = killLog.length;
log(`load done in ${loadSecs.toFixed(1)} s: ${TOURS} tours, ${JSON.stringify(stats)}, ${loadKills} SIGKILLs so far (${elapsed()})`);

// ---- 6. drain (the kills go on until nothing is queued or running) ------------------------------------
const drainStart = Date.now();
let statsText = '';
for (let quiet = false; ; ) {
    if (quiet) {   // drained with the kills on: stop them, every instance up, and look once more
        loadDone = true;
        await Promise.all(side);
        for (const s of pool.slots) if (!s.proc) await pool.start(s.i).catch(err => fatal(err.message));
    }
    try {
        statsText = pool.admin(['outbox', 'stats']);
    } catch (err) {
        fatal(err.message);
    }
    const q = /^queued=(\d+)/m.exec(statsText)?.[1], r = /^running=(\d+)/m.exec(statsText)?.[1];
    if (q === '0' && r === '0') {
        if (quiet) break;
        quiet = true;
        continue;
    }
    quiet = false;
    if (Date.now() > deadline - 20000) fatal(`the outbox did not drain in time: ${statsText.replace(/\n/g, ' ')}`);
    await sleep(500);
}
log(`outbox drained ${((Date.now() - drainStart) / 1000).toFixed(1)} s after the load: ${statsText.trim().replace(/\n/g, ' ')}; ` +
    `${killLog.length} SIGKILLs in all (${killLog.map(k => `#${k.instance}@${k.at}`).join(' ')})`);
const jobs = [];
for (const team of teams) {
    const out = pool.admin(['outbox', 'list', '--json', '--limit', '1000', '--tenant', team.name]);
    const lines = out.split('\n').filter(l => l.trim());
    if (lines.length >= 1000) fatal(`team ${team.name} has 1000 jobs or more: outbox list cannot show them all (fewer --tours)`);
    for (const l of lines) jobs.push(JSON.parse(l));
}
const stopProblems = await pool.stopAll();
for (const p of stopProblems) problem('shutdown', p);
for (const p of pool.unexpected) problem('crash', p);

const perInstance = pool.slots.map(s => `#${s.i}: ${s.starts} start(s), ${s.calls || 0} calls answered, >= ${s.attempts || 0} job attempts`);
log(`per instance: ${perInstance.join('; ')}`);
for (const s of pool.slots)
    if (!s.attempts) problem('spread', `instance ${s.i} ran no job attempt that its /metrics showed before a kill or the stop`);

// ---- 7. check ----------------------------------------------------------------------------------------
// MULTI_INSTANCE_INJECT=duplicate|lost plants a violation first (a self-test of the check: the run must FAIL).
const inject = process.env.MULTI_INSTANCE_INJECT || '';
if (inject === 'duplicate') {
    const team = teams[0];
    const st = await fake(FAKE, '/_fake/state', { ms: 60000 });
    const victim = st.crm[team.creds.highlevel]?.appointments?.[0];
    const { token } = await fake(FAKE, '/_fake/jwt', { method: 'POST', body: { sub: team.tenant } });
    const { id, created, updated, rolloutUpdated, originalIds, original, ...body } = victim;
    await fake(FAKE, '/crm/api/appointments', { method: 'POST', body, headers: { Authorization: `Bearer ${token}`, 'X-Rollout-Credential-Id': team.creds.highlevel } });
    log(`MULTI_INSTANCE_INJECT=duplicate: planted a copy of ${team.name}'s highlevel appointment ${id}`);
} else if (inject === 'lost') {
    const t = tours[0];
    tours.push({ ...t, args: { ...t.args, tourData: { ...t.args.tourData, tourId: `${t.args.tourData.tourId}-ghost`,
                                                     buyerId: 'buyer-ghost', buyer: { name: 'Ghost Buyer', email: 'ghost@example.com' } } },
                 feedback: undefined });
    log('MULTI_INSTANCE_INJECT=lost: pretending one more tour was accepted');
}
const state = await fake(FAKE, '/_fake/state', { ms: 60000 });
const report = { tours: TOURS, instances: INSTANCES, teams: teams.length, stats, kills: killLog, loadSeconds: loadSecs,
                 perInstance, faultsArmed };
const ok = check({ teams, tours, jobs, state, problems, report });
report.seconds = (Date.now() - t0) / 1000;
writeFileSync(join(DIR, 'report.json'), JSON.stringify(report, null, 1));
log(`${ok ? 'PASS' : 'FAIL'} in ${elapsed()}`);
process.exit(ok ? 0 : 1);
