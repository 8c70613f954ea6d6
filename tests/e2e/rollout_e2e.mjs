#!/usr/bin/env node
// rollout_e2e.mjs: the product's tools end to end (issue 6 "Proof", issue 3 team isolation) with the
// official TypeScript SDK client against rollout-mcp, which talks to the fake Rollout (tests/fakes).
// Normally started by rollout_e2e.sh, which launches both programs and creates the two teams.
//
//   node rollout_e2e.mjs --url http://127.0.0.1:PORT/mcp --fake http://127.0.0.1:FAKEPORT
//        --base-url http://127.0.0.1:FAKEPORT | https://localhost:TLSPORT
//        --key-a KEY --key-b KEY --tenant-a ID --tenant-b ID --secret CLIENT_SECRET
//        [--expect-tls] [--untrusted-base-url https://localhost:PORT] [--secrets-out FILE] [--timeout-ms 150000]
//
// --fake is the fake's plain-HTTP listener (its /_fake/ control API); --base-url is what the teams
// configure as their Rollout base URL (the TLS listener in the TLS variant; --expect-tls then checks that
// every Rollout request reached the fake over TLS). --secrets-out receives the Rollout tokens the server
// sent (one a line) so the launcher can grep the server's log for them as well. --untrusted-base-url is a
// second TLS fake whose CA the server does not trust: configuring it must fail (certificate verification).
// Prints one line per check ("ok - ..." / "FAIL - ..."), then "N passed, M failed"; exit 0 iff all passed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { writeFileSync } from 'node:fs';

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const flag = name => process.argv.includes(`--${name}`);
const A = { name: 'team A', key: arg('key-a'), tenant: arg('tenant-a') };
const B = { name: 'team B', key: arg('key-b'), tenant: arg('tenant-b') };
const URL_ARG = arg('url');
const FAKE = (arg('fake') || '').replace(/\/+$/, '');
const BASE_URL = arg('base-url');
const SECRET = arg('secret');
const EXPECT_TLS = flag('expect-tls');
const SECRETS_OUT = arg('secrets-out');
const UNTRUSTED_URL = arg('untrusted-base-url'); // a TLS listener whose CA the server does not trust
const TOTAL_MS = Number(arg('timeout-ms', '150000'));
const STEP_MS = 20000; // bound on any single check (one check may make several calls)
if (!URL_ARG || !FAKE || !BASE_URL || !SECRET || !A.key || !B.key || !A.tenant || !B.tenant) {
    console.error('usage: rollout_e2e.mjs --url MCP_URL --fake FAKE_HTTP_BASE --base-url ROLLOUT_BASE --key-a K --key-b K ' +
        '--tenant-a ID --tenant-b ID --secret S [--expect-tls] [--secrets-out F] [--timeout-ms N]');
    process.exit(2);
}
const url = new URL(URL_ARG);
const WRONG_SECRET = `wrong-${SECRET.split('').reverse().join('')}`;
const PROJECT_ENV_KEY = 'e2e-project';
const CLIENT_ID = 'e2e-client';

// ---- reporting ---------------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
function ok(name, detail = '') {
    passed++;
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`);
}
function fail(name, detail) {
    failed++;
    console.log(`FAIL - ${name}: ${detail}`);
}
let finishing = false;
async function finish() {
    if (finishing) return;
    finishing = true;
    try {
        await writeSecrets();
    } catch (err) {
        console.log(`# could not write ${SECRETS_OUT}: ${err?.message ?? err}`);
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
setTimeout(() => {
    fail('whole run', `did not finish within ${TOTAL_MS} ms`);
    finish();
}, TOTAL_MS).unref();

function withTimeout(promise, ms, what) {
    let t;
    const timer = new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}
async function check(name, fn, { fatal = false, ms = STEP_MS } = {}) {
    try {
        const out = await withTimeout(Promise.resolve().then(fn), ms, name);
        ok(name, typeof out === 'string' ? out : '');
        return out ?? true;
    } catch (err) {
        fail(name, err?.message ?? String(err));
        if (process.env.E2E_DEBUG) console.log(err?.stack);
        if (fatal) await finish();
        return undefined;
    }
}
function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}
const short = (v, n = 400) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
const sleep = ms => new Promise(r => setTimeout(r, ms));

// ---- the fake's control API ------------------------------------------------------------------------
async function fake(path, { method = 'GET', body } = {}) {
    const res = await fetch(`${FAKE}${path}`, {
        method,
        headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(5000)
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${short(text)}`);
    return text ? JSON.parse(text) : null;
}
const fakeState = () => fake('/_fake/state');
// Everything a bad call must not change: per-credential record counts, automations, credentials.
function fingerprint(state) {
    const crm = {};
    for (const [id, c] of Object.entries(state.crm || {})) crm[id] = c.counts;
    return JSON.stringify({ crm, automations: (state.automations || []).length, credentials: (state.credentials || []).length });
}

// Rollout tokens the server used (from the fake's request log), for the leak checks.
const tokens = new Set();
async function collectTokens() {
    const reqs = await fake('/_fake/requests');
    for (const r of reqs) {
        const h = r.headers?.authorization;
        if (typeof h === 'string' && /^bearer /i.test(h)) tokens.add(h.slice(7).trim());
    }
    return reqs;
}
// Empties the fake's request log, keeping the tokens seen so far.
async function clearRequests() {
    await collectTokens();
    await fake('/_fake/requests', { method: 'DELETE' });
}
async function writeSecrets() {
    if (!SECRETS_OUT) return;
    try {
        await collectTokens();
    } catch {
        // the fake may be gone; write what we have
    }
    writeFileSync(SECRETS_OUT, [...tokens].map(t => `token ${t}`).join('\n') + (tokens.size ? '\n' : ''));
}

// ---- MCP clients -----------------------------------------------------------------------------------
const allToolText = []; // every tool result (and tool error) seen, for check 10
async function connect(team) {
    const transport = new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${team.key}` } },
        reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 2000, reconnectionDelayGrowFactor: 1.5, maxRetries: 3 }
    });
    const client = new Client({ name: `rollout-e2e-${team.name.replace(' ', '-')}`, version: '1.0.0' }, { capabilities: {} });
    client.onerror = err => console.log(`# ${team.name} client onerror: ${err?.message ?? err}`);
    await client.connect(transport);
    team.client = client;
    team.transport = transport;
    return transport.sessionId;
}
function textOf(result) {
    return (result?.content ?? []).filter(c => c.type === 'text').map(c => c.text).join('\n');
}
// tools/call, bounded; returns {result, sc (structuredContent or parsed text), text, isError}.
async function call(team, name, args, { onprogress, ms = STEP_MS - 2000 } = {}) {
    let result;
    try {
        result = await team.client.callTool({ name, arguments: args }, undefined, {
            timeout: ms,
            ...(onprogress ? { onprogress, resetTimeoutOnProgress: false } : {})
        });
    } catch (err) {
        // A JSON-RPC error (e.g. invalid params on an older revision) is recorded like a tool error.
        allToolText.push(String(err?.message ?? err));
        throw new Error(`${name} threw (JSON-RPC error or transport failure, not a tool result): ${err?.message ?? err}`);
    }
    const text = textOf(result);
    allToolText.push(text, JSON.stringify(result.structuredContent ?? null));
    let sc = result.structuredContent;
    if (!sc) {
        try {
            sc = JSON.parse(text);
        } catch {
            sc = undefined;
        }
    }
    return { result, sc, text, isError: result.isError === true };
}
function expectSuccess(r, what) {
    assert(!r.isError, `${what}: isError result: ${short(r.text)}`);
    assert(r.sc?.status === 'success', `${what}: status ${short(r.sc?.status)}, not "success": ${short(r.text)}`);
}
// A tool error naming `field` (a string or a RegExp).
function expectError(r, field, what) {
    assert(r.isError, `${what}: expected isError true, got a successful result: ${short(r.text)}`);
    const named = field instanceof RegExp ? field.test(r.text) : r.text.includes(field);
    assert(named, `${what}: the error does not name ${field}: ${short(r.text)}`);
}

// ---- test data -------------------------------------------------------------------------------------
const run = Date.now().toString(36);
const buyer = { name: 'Jane Buyer', email: `jane.buyer.${run}@example.com`, phone: '+1 512 555 0142' };
const tour1 = {
    tourId: `tour-${run}-1`,
    agentId: 'agent-7',
    buyerId: `buyer-${run}`,
    buyer,
    timeZone: 'America/Chicago',
    properties: [
        { propertyId: 'prop-101', address: '101 Main St, Austin, TX 78701', visitTime: '2026-12-01T10:00:00-06:00', durationMinutes: 30 },
        { propertyId: 'prop-202', address: '202 Oak Ave, Austin, TX 78702', visitTime: '2026-12-01T11:15:00-06:00', durationMinutes: 45 }
    ]
};
const feedbackText = `Loved the kitchen, the backyard is too small (${run})`;
const feedback1 = {
    propertyId: 'prop-101',
    tourId: tour1.tourId,
    buyerId: tour1.buyerId,
    feedback: feedbackText,
    rating: 4,
    interestLevel: 'high',
    address: tour1.properties[0].address,
    timestamp: '2026-12-01T12:30:00-06:00'
};

// ================================================================================================
await check('team A and team B: initialize over Streamable HTTP with their own API keys', async () => {
    const sa = await connect(A);
    const sb = await connect(B);
    assert(sa && sb && sa !== sb, `session ids ${short(sa)} / ${short(sb)}`);
    return `A session ${sa}, B session ${sb}`;
}, { fatal: true });

// 1. configure_rollout: the wrong secret first (nothing stored), then the right one.
await check('1a configure_rollout with a wrong clientSecret -> isError naming the problem', async () => {
    const r = await call(A, 'configure_rollout', { projectEnvKey: PROJECT_ENV_KEY, clientId: CLIENT_ID, clientSecret: WRONG_SECRET, baseUrl: BASE_URL });
    expectError(r, /unauthori[sz]ed|401|rejected|did not accept|auth/i, 'wrong clientSecret');
    assert(/nothing (was )?stored/i.test(r.text), `the error does not say that nothing was stored: ${short(r.text)}`);
    return short(r.sc?.message ?? r.text, 160);
});
await check('1b after the rejected configure_rollout, list_available_crms still says "not configured"', async () => {
    const r = await call(A, 'list_available_crms', {});
    expectError(r, /not configured/i, 'list_available_crms');
    return short(r.sc?.message ?? r.text, 120);
});
await check('1c configure_rollout {projectEnvKey, clientId, clientSecret, baseUrl} -> success', async () => {
    const r = await call(A, 'configure_rollout', { projectEnvKey: PROJECT_ENV_KEY, clientId: CLIENT_ID, clientSecret: SECRET, baseUrl: BASE_URL });
    expectSuccess(r, 'configure_rollout');
    return short(r.sc.message, 160);
}, { fatal: true });

// 2. list_available_crms
await check('2 list_available_crms -> highlevel and lofty listed, configured false', async () => {
    const r = await call(A, 'list_available_crms', {});
    expectSuccess(r, 'list_available_crms');
    const crms = r.sc.crms;
    assert(Array.isArray(crms), `crms is not an array: ${short(r.sc)}`);
    for (const key of ['highlevel', 'lofty']) {
        const c = crms.find(x => x.key === key);
        assert(c, `${key} missing from crms: ${short(crms.map(x => x.key))}`);
        assert(c.configured === false, `${key}.configured is ${short(c.configured)}, expected false`);
    }
    return `${crms.length} CRMs: ${crms.map(c => c.key).join(', ')}`;
});

// 3. Credentials in the fake, CRM connections, test_crm_connection.
const cred = {};
await check('3a the fake holds highlevel + lofty credentials for team A (and a not-ready one)', async () => {
    cred.highlevel = (await fake('/_fake/credentials', { method: 'POST', body: { appKey: 'highlevel', sub: A.tenant, label: 'A GoHighLevel' } })).id;
    cred.lofty = (await fake('/_fake/credentials', { method: 'POST', body: { appKey: 'lofty', sub: A.tenant, label: 'A Lofty' } })).id;
    cred.notReady = (await fake('/_fake/credentials', { method: 'POST', body: { appKey: 'highlevel', sub: A.tenant, label: 'A slow GHL', notReadyMs: 600000 } })).id;
    assert(cred.highlevel && cred.lofty && cred.notReady, `credential ids: ${short(cred)}`);
    return `highlevel ${cred.highlevel}, lofty ${cred.lofty}, not-ready ${cred.notReady}`;
}, { fatal: true });
await check('3b configure_crm_connection gohighlevel (alias) + lofty -> success', async () => {
    const r1 = await call(A, 'configure_crm_connection', { crmType: 'gohighlevel', credentialKey: cred.highlevel });
    expectSuccess(r1, 'configure_crm_connection gohighlevel');
    assert(r1.sc.crmType === 'highlevel', `alias not canonicalised: crmType ${short(r1.sc.crmType)}`);
    const r2 = await call(A, 'configure_crm_connection', { crmType: 'lofty', credentialKey: cred.lofty });
    expectSuccess(r2, 'configure_crm_connection lofty');
    return `${r1.sc.message}; ${r2.sc.message}`;
}, { fatal: true });
await check('3c list_available_crms marks highlevel and lofty configured (others not)', async () => {
    const r = await call(A, 'list_available_crms', {});
    expectSuccess(r, 'list_available_crms');
    for (const c of r.sc.crms) {
        const want = c.key === 'highlevel' || c.key === 'lofty';
        assert(c.configured === want, `${c.key}.configured is ${short(c.configured)}, expected ${want}`);
    }
    return r.sc.crms.filter(c => c.configured).map(c => c.key).join(', ');
});
await check('3d list_crm_connections -> exactly highlevel and lofty', async () => {
    const r = await call(A, 'list_crm_connections', {});
    expectSuccess(r, 'list_crm_connections');
    const types = (r.sc.connections || []).map(c => c.crmType).sort();
    assert(JSON.stringify(types) === '["highlevel","lofty"]', `connections ${short(r.sc.connections)}`);
    A.connections = r.sc.connections;
    return types.join(', ');
});
await check('3e test_crm_connection highlevel / lofty -> state ready', async () => {
    for (const crmType of ['highlevel', 'lofty']) {
        const r = await call(A, 'test_crm_connection', { crmType });
        expectSuccess(r, `test_crm_connection ${crmType}`);
        assert(r.sc.state === 'ready', `${crmType}: state ${short(r.sc.state)}: ${short(r.text)}`);
    }
    return 'both ready';
});
await check('3f test_crm_connection with a not-ready credential -> state not_ready', async () => {
    const r = await call(A, 'test_crm_connection', { crmType: 'highlevel', credentialKey: cred.notReady });
    assert(r.sc?.state === 'not_ready', `state ${short(r.sc?.state)} (isError ${r.isError}): ${short(r.text)}`);
    return short(r.sc.message, 120);
});

// 4. sync_tour_data crmType "all"
function crmOf(state, id) {
    const c = state.crm?.[id];
    assert(c, `the fake has no records for credential ${id}: ${short(Object.keys(state.crm || {}))}`);
    return c;
}
// Exactly one person (with the buyer's email) and one appointment per visit at the visit's instant.
function checkTourRecords(state, tour, label) {
    const out = {};
    for (const crm of ['highlevel', 'lofty']) {
        const c = crmOf(state, cred[crm]);
        assert(c.counts.people === 1, `${label} ${crm}: ${c.counts.people} people, expected 1: ${short(c.people)}`);
        assert(c.counts.appointments === tour.properties.length,
            `${label} ${crm}: ${c.counts.appointments} appointments, expected ${tour.properties.length}: ${short(c.appointments?.map(a => [a.title, a.startsAt]))}`);
        const person = c.people[0];
        const emails = (person.emails || []).map(e => String(e.value).toLowerCase());
        assert(emails.includes(tour.buyer.email.toLowerCase()), `${label} ${crm}: person emails ${short(person.emails)}, expected ${tour.buyer.email}`);
        const want = tour.properties.map(p => Date.parse(p.visitTime)).sort((x, y) => x - y);
        const got = c.appointments.map(a => Date.parse(a.startsAt)).sort((x, y) => x - y);
        assert(JSON.stringify(want) === JSON.stringify(got),
            `${label} ${crm}: appointment startsAt ${short(c.appointments.map(a => a.startsAt))} do not match the visit times ${short(tour.properties.map(p => p.visitTime))}`);
        for (const a of c.appointments) {
            assert(String(a.personId) === String(person.id), `${label} ${crm}: appointment ${a.id} personId ${a.personId} != person ${person.id}`);
            const visit = tour.properties.find(p => Date.parse(p.visitTime) === Date.parse(a.startsAt));
            assert(String(a.location ?? '').includes(visit.address) || String(a.title ?? '').includes(visit.address),
                `${label} ${crm}: appointment at ${a.startsAt} does not carry the address ${visit.address}: ${short(a)}`);
        }
        out[crm] = { person: person.id, startsAt: c.appointments.map(a => a.startsAt) };
    }
    return out;
}
const persons = {};
await check('4 sync_tour_data crmType "all" -> progress, status success, one result per CRM; the fake holds 1 person + 2 appointments each', async () => {
    const progress = [];
    const r = await call(A, 'sync_tour_data', { tourData: tour1, crmType: 'all' }, { onprogress: p => progress.push(p) });
    expectSuccess(r, 'sync_tour_data');
    assert(progress.length >= 1, 'no progress notifications arrived');
    for (let i = 1; i < progress.length; i++) assert(progress[i].progress >= progress[i - 1].progress, `progress decreased: ${short(progress)}`);
    const results = r.sc.results;
    assert(Array.isArray(results) && results.length === 2, `results: ${short(results)}`);
    assert(JSON.stringify(results.map(x => x.crmType).sort()) === '["highlevel","lofty"]', `results crmTypes: ${short(results.map(x => x.crmType))}`);
    assert(results.every(x => x.status === 'success'), `per-CRM statuses: ${short(results.map(x => [x.crmType, x.status, x.error]))}`);
    const state = await fakeState();
    const recs = checkTourRecords(state, tour1, 'after sync');
    for (const crm of ['highlevel', 'lofty']) persons[crm] = recs[crm].person;
    return `${progress.length} progress notification(s) (${progress.map(p => `${p.progress}/${p.total ?? '?'}`).join(', ')}); ` +
        `highlevel startsAt ${recs.highlevel.startsAt.join(' ')}; lofty startsAt ${recs.lofty.startsAt.join(' ')}`;
});

// 5. sync_feedback_data
await check('5 sync_feedback_data -> a note on the buyer\'s person in each CRM with the feedback text', async () => {
    const r = await call(A, 'sync_feedback_data', { feedbackData: feedback1, crmType: 'all' });
    expectSuccess(r, 'sync_feedback_data');
    assert(r.sc.results?.length === 2 && r.sc.results.every(x => x.status === 'success'), `results: ${short(r.sc.results)}`);
    const state = await fakeState();
    for (const crm of ['highlevel', 'lofty']) {
        const c = crmOf(state, cred[crm]);
        assert(c.counts.notes === 1, `${crm}: ${c.counts.notes} notes, expected 1: ${short(c.notes)}`);
        assert(c.counts.people === 1, `${crm}: feedback changed the people count to ${c.counts.people}`);
        const note = c.notes[0];
        assert(String(note.personId) === String(persons[crm] ?? c.people[0].id), `${crm}: note personId ${note.personId}, buyer person ${persons[crm]}`);
        assert(String(note.body ?? '').includes(feedbackText), `${crm}: note body lacks the feedback text: ${short(note.body)}`);
    }
    return 'one note per CRM on the buyer';
});

// 6. Idempotence
await check('6 the same sync_tour_data again -> still exactly 1 person and 2 appointments per CRM, and no CRM call at all', async () => {
    await clearRequests();
    const r = await call(A, 'sync_tour_data', { tourData: tour1, crmType: 'all' });
    expectSuccess(r, 'repeated sync_tour_data');
    const crmCalls = (await collectTokens()).filter(q => q.path.startsWith('/crm/api'));
    assert(crmCalls.length === 0, `an unchanged tour made CRM calls: ${short(crmCalls.map(q => `${q.method} ${q.path}`))}`);
    assert(r.sc.results.every(x => (x.records || []).every(y => y.action === 'unchanged')), `actions: ${short(r.sc.results)}`);
    const state = await fakeState();
    const recs = checkTourRecords(state, tour1, 'after the repeat');
    for (const crm of ['highlevel', 'lofty'])
        assert(recs[crm].person === persons[crm], `${crm}: person id changed from ${persons[crm]} to ${recs[crm].person}`);
    return `actions: ${r.sc.results.map(x => `${x.crmType}=${(x.records || []).map(y => y.action).join('/')}`).join('; ')}`;
});

// 7. Bad input: each a tool error naming the field, the fake's state unchanged.
async function badInput(name, tool, args, field, extra) {
    await check(`7 ${name} -> isError naming ${field}, nothing changed`, async () => {
        const before = fingerprint(await fakeState());
        const connsBefore = JSON.stringify((await call(A, 'list_crm_connections', {})).sc?.connections);
        const r = await call(A, tool, args);
        expectError(r, field, tool);
        const after = fingerprint(await fakeState());
        assert(before === after, `the fake's state changed: before ${before}, after ${after}`);
        const connsAfter = JSON.stringify((await call(A, 'list_crm_connections', {})).sc?.connections);
        assert(connsBefore === connsAfter, `this team's connections changed: before ${connsBefore}, after ${connsAfter}`);
        if (extra) await extra(r);
        return short(r.text.replace(/\s+/g, ' '), 160);
    });
}
const tourWith = patch => ({ ...tour1, ...patch });
await badInput('sync_tour_data without tourData', 'sync_tour_data', { crmType: 'all' }, 'tourData');
await badInput('sync_tour_data with visitTime "tomorrow"', 'sync_tour_data',
    { crmType: 'all', tourData: tourWith({ properties: [{ ...tour1.properties[0], visitTime: 'tomorrow' }, tour1.properties[1]] }) }, 'visitTime');
await badInput('sync_tour_data with properties not an array', 'sync_tour_data',
    { crmType: 'all', tourData: tourWith({ properties: { propertyId: 'p', address: 'a', visitTime: tour1.properties[0].visitTime } }) }, 'properties');
await badInput('sync_tour_data with crmType "nosuchcrm"', 'sync_tour_data', { crmType: 'nosuchcrm', tourData: tour1 }, 'crmType');
await badInput('sync_tour_data to an unconfigured CRM (follow-up-boss)', 'sync_tour_data', { crmType: 'follow-up-boss', tourData: tour1 }, 'crmType');
await badInput('configure_crm_connection with an unknown credentialKey', 'configure_crm_connection',
    { crmType: 'highlevel', credentialKey: 'no-such-credential-0000' }, 'credentialKey');
await badInput('configure_crm_connection lofty with a highlevel credential', 'configure_crm_connection',
    { crmType: 'lofty', credentialKey: cred.highlevel }, 'credentialKey');
await badInput('sync_feedback_data without the feedback text', 'sync_feedback_data',
    { crmType: 'all', feedbackData: { propertyId: feedback1.propertyId, tourId: feedback1.tourId, buyerId: feedback1.buyerId } }, 'feedback');
await badInput('sync_feedback_data with timestamp "yesterday"', 'sync_feedback_data',
    { crmType: 'all', feedbackData: { ...feedback1, timestamp: 'yesterday' } }, 'timestamp');
const automation = {
    name: `e2e automation ${run}`,
    trigger: { appKey: 'highlevel', triggerKey: 'contact-created', credentialKey: cred.highlevel, inputParams: {} },
    action: { appKey: 'lofty', actionKey: 'create-note', credentialKey: cred.lofty, inputParams: { body: 'New contact {{trigger.contact.name}}' } }
};
await badInput('create_automation with an unbalanced "{{" in action.inputParams', 'create_automation',
    { ...automation, action: { ...automation.action, inputParams: { body: 'New contact {{trigger.contact.name' } } }, 'action.inputParams');
// issue 6: create_automation must "check that referenced apps and credentials exist for the team".
await badInput('create_automation with an unknown action.credentialKey', 'create_automation',
    { ...automation, action: { ...automation.action, credentialKey: 'no-such-credential-0000' } }, 'credentialKey');
await check('7 create_automation (valid) -> success with an id the fake holds', async () => {
    const before = (await fakeState()).automations.length;
    const r = await call(A, 'create_automation', automation);
    expectSuccess(r, 'create_automation');
    assert(typeof r.sc.id === 'string' && r.sc.id.length > 0, `no id: ${short(r.sc)}`);
    const autos = (await fakeState()).automations;
    assert(autos.length === before + 1, `${autos.length} automations in the fake, expected ${before + 1}`);
    const a = autos.find(x => String(x.id) === r.sc.id);
    assert(a, `the fake has no automation ${r.sc.id}: ${short(autos.map(x => x.id))}`);
    assert(a.name === automation.name && a.consumerKey === A.tenant, `stored automation: ${short(a)}`);
    return `id ${r.sc.id}`;
});

// 8. Partial failure
const tour2 = {
    ...tour1,
    tourId: `tour-${run}-2`,
    properties: [{ propertyId: 'prop-303', address: '303 Elm St, Austin, TX 78703', visitTime: '2026-12-02T09:30:00-06:00', durationMinutes: 30 }]
};
const getStatus = async (team, args) => call(team, 'get_sync_status', args);
// Polls get_sync_status until every job of `args` has the wanted status (or the step's time runs out).
async function waitStatus(team, args, want, ms = 15000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const r = await getStatus(team, args);
        const jobs = r.sc?.jobs || [];
        if (jobs.length > 0 && jobs.every(j => j.status === want)) return jobs;
        if (Date.now() > deadline) throw new Error(`jobs of ${short(args)} not all "${want}": ${short(jobs.map(j => [j.crmType, j.status, j.attempts, j.lastError]))}`);
        await sleep(250);
    }
}
await check('8 a 500 fault on the lofty credential -> highlevel succeeds, lofty is retried (status queued) and delivered once Rollout recovers', async () => {
    await fake('/_fake/faults', { method: 'POST', body: { match: { credentialId: cred.lofty }, action: 'status', status: 500, count: -1 } });
    let r;
    try {
        r = await call(A, 'sync_tour_data', { tourData: tour2, crmType: 'all' }, { ms: 15000 });
        assert(r.sc?.status === 'queued', `status ${short(r.sc?.status)} (isError ${r.isError}): ${short(r.text)}`);
        const byCrm = Object.fromEntries((r.sc.results || []).map(x => [x.crmType, x]));
        assert(byCrm.highlevel?.status === 'success', `highlevel: ${short(byCrm.highlevel)}`);
        assert(byCrm.lofty?.status === 'retrying' && /500/.test(byCrm.lofty.lastError), `lofty: ${short(byCrm.lofty)}`);
        assert(typeof byCrm.lofty.jobId === 'string' && byCrm.lofty.jobId.startsWith('job_'), `lofty jobId: ${short(byCrm.lofty)}`);
        const hl = crmOf(await fakeState(), cred.highlevel);
        assert(hl.counts.appointments === 3 && hl.appointments.some(a => Date.parse(a.startsAt) === Date.parse(tour2.properties[0].visitTime)),
            `highlevel appointments after the partial sync: ${short(hl.appointments.map(a => a.startsAt))}`);
    } finally {
        await fake('/_fake/faults', { method: 'DELETE' });
    }
    const jobs = await waitStatus(A, { tourId: tour2.tourId }, 'success');
    const lofty = crmOf(await fakeState(), cred.lofty);
    assert(lofty.counts.appointments === 3 && lofty.counts.people === 1, `lofty after recovery: ${short(lofty.counts)}`);
    return `lofty delivered after ${jobs.find(j => j.crmType === 'lofty').attempts} attempts`;
}, { ms: 40000 });

const tour3 = { ...tour1, tourId: `tour-${run}-3`, properties: [{ propertyId: 'prop-404', address: '404 Oak St, Austin, TX 78704', visitTime: '2026-12-03T11:00:00-06:00' }] };
await check('8b wait: false -> status queued with job ids at once; get_sync_status follows them to success', async () => {
    const r = await call(A, 'sync_tour_data', { tourData: tour3, crmType: 'highlevel', wait: false });
    assert(r.sc?.status === 'queued' || r.sc?.status === 'success', `status ${short(r.sc?.status)}: ${short(r.text)}`);
    const jobId = r.sc.results?.[0]?.jobId;
    assert(typeof jobId === 'string', `no jobId: ${short(r.sc)}`);
    const jobs = await waitStatus(A, { jobId }, 'success');
    assert(jobs.length === 1 && jobs[0].records.some(x => x.kind === 'appointment'), `job: ${short(jobs)}`);
    return `${jobId}: ${jobs[0].records.map(x => `${x.kind} ${x.action}`).join(', ')}`;
});
await check('8c idempotencyKey: the same key and arguments replay the first call\'s jobs; other arguments are refused', async () => {
    const key = `idem-${run}`;
    const first = await call(A, 'sync_tour_data', { tourData: tour3, crmType: 'highlevel', idempotencyKey: key });
    const again = await call(A, 'sync_tour_data', { crmType: 'highlevel', idempotencyKey: key, tourData: tour3, wait: false });
    assert(again.sc?.replayed === true, `second call not a replay: ${short(again.sc)}`);
    const ids = x => (x.sc?.results || []).map(y => y.jobId).join(',');
    assert(ids(first) && ids(first) === ids(again), `job ids differ: ${ids(first)} vs ${ids(again)}`);
    const other = await call(A, 'sync_tour_data', { tourData: { ...tour3, agentId: 'someone-else' }, crmType: 'highlevel', idempotencyKey: key });
    expectError(other, 'idempotencyKey', 'reused idempotencyKey with other arguments');
    return short(other.sc?.message, 160);
});
await check('8d a permanent CRM error fails at once with the CRM\'s message; retry_sync re-queues it and it succeeds', async () => {
    const tour4 = { ...tour3, tourId: `tour-${run}-4`, buyerId: `buyer-${run}-4`, buyer: { name: 'Pat Permanent', email: `pat-${run}@example.com` } };
    await fake('/_fake/faults', { method: 'POST', body: { match: { credentialId: cred.lofty, method: 'POST', pathPrefix: '/crm/api/people' }, action: 'status', status: 422, body: { errorMessage: 'phone number is not valid for this CRM' }, count: 1 } });
    const r = await call(A, 'sync_tour_data', { tourData: tour4, crmType: 'lofty' });
    expectError(r, 'phone number is not valid for this CRM', 'sync_tour_data with a 422');
    const job = r.sc.results[0];
    assert(job.status === 'error' && job.attempts === 1 && job.lastHttpStatus === 422, `job: ${short(job)}`);
    const retried = await call(A, 'retry_sync', { tourId: tour4.tourId });
    expectSuccess(retried, 'retry_sync');
    assert(retried.sc.jobs.length === 1, `re-queued: ${short(retried.sc.jobs)}`);
    await waitStatus(A, { jobId: job.jobId }, 'success');
    const none = await call(A, 'retry_sync', { tourId: tour4.tourId });
    expectError(none, 'no failed or dead sync jobs', 'retry_sync with nothing to retry');
    return 'failed -> re-queued -> success';
});
await check('8e get_sync_status: exactly one selector; another team sees none of these jobs', async () => {
    expectError(await getStatus(A, {}), 'exactly one', 'get_sync_status {}');
    expectError(await getStatus(A, { tourId: tour2.tourId, jobId: 'job_x' }), 'exactly one', 'get_sync_status with two selectors');
    const mine = await getStatus(A, { tourId: tour2.tourId });
    expectSuccess(mine, 'get_sync_status (A)');
    const theirs = await getStatus(B, { jobId: mine.sc.jobs[0].jobId });
    expectError(theirs, 'no sync jobs', 'get_sync_status (B asking for A\'s job)');
    const theirRetry = await call(B, 'retry_sync', { tourId: tour2.tourId });
    assert(theirRetry.isError, `team B re-queued team A's jobs: ${short(theirRetry.text)}`);
    return `A sees ${mine.sc.jobs.length} job(s) of ${tour2.tourId}; B sees none`;
});

// 9. Team isolation (issue 3)
await check('9a team B: list_crm_connections -> empty', async () => {
    const r = await call(B, 'list_crm_connections', {});
    expectSuccess(r, 'list_crm_connections (B)');
    assert(Array.isArray(r.sc.connections) && r.sc.connections.length === 0, `team B sees ${short(r.sc.connections)}`);
    return r.sc.message;
});
await check('9b team B: list_available_crms -> "not configured"', async () => {
    const r = await call(B, 'list_available_crms', {});
    expectError(r, /not configured/i, 'list_available_crms (B)');
    return short(r.sc?.message ?? r.text, 120);
});
await check('9c team B: remove_crm_connection highlevel -> error; team A still has highlevel', async () => {
    const r = await call(B, 'remove_crm_connection', { crmType: 'highlevel' });
    assert(r.isError, `team B removed "highlevel": ${short(r.text)}`);
    const a = await call(A, 'list_crm_connections', {});
    const types = (a.sc?.connections || []).map(c => c.crmType).sort();
    assert(JSON.stringify(types) === '["highlevel","lofty"]', `team A's connections now ${short(a.sc?.connections)}`);
    return short(r.sc?.message ?? r.text, 120);
});
await check('9d team B: configure_crm_connection with team A\'s credential -> error, nothing stored for B', async () => {
    const c = await call(B, 'configure_crm_connection', { crmType: 'highlevel', credentialKey: cred.highlevel });
    assert(c.isError, `team B bound team A's credential: ${short(c.text)}`);
    const l = await call(B, 'list_crm_connections', {});
    assert((l.sc?.connections || []).length === 0, `team B now has ${short(l.sc?.connections)}`);
    return short(c.sc?.message ?? c.text, 120);
});
if (UNTRUSTED_URL) {
    await check('9d2 team B: configure_rollout against a TLS server whose CA is not trusted -> isError, nothing stored', async () => {
        const r = await call(B, 'configure_rollout', { projectEnvKey: 'e2e-project-b', clientId: 'e2e-client-b', clientSecret: SECRET, baseUrl: UNTRUSTED_URL });
        expectError(r, /certificate|verif|tls|ssl|handshake/i, 'configure_rollout (untrusted CA)');
        const l = await call(B, 'list_available_crms', {});
        expectError(l, /not configured/i, 'list_available_crms (B) after the rejected configure_rollout');
        return short(r.sc?.message ?? r.text, 200);
    });
}
await check('9e team B: configure_rollout (own settings) succeeds; B\'s Rollout token is for B\'s tenant', async () => {
    await clearRequests();
    const r = await call(B, 'configure_rollout', { projectEnvKey: 'e2e-project-b', clientId: 'e2e-client-b', clientSecret: SECRET, baseUrl: BASE_URL });
    expectSuccess(r, 'configure_rollout (B)');
    const reqs = await collectTokens();
    const subs = new Set(reqs.filter(q => q.jwtClaims).map(q => q.jwtClaims.sub));
    assert(subs.size === 1 && subs.has(B.tenant), `B's requests carried JWT subs ${short([...subs])}, expected only ${B.tenant}`);
    const lc = await call(B, 'configure_crm_connection', { crmType: 'highlevel', credentialKey: cred.highlevel });
    assert(lc.isError, `after configuring Rollout, team B bound team A's credential: ${short(lc.text)}`);
    const s = await call(B, 'sync_tour_data', { tourData: tour1, crmType: 'all' });
    assert(s.isError, `team B synced with no connections of its own: ${short(s.text)}`);
    return short(r.sc.message, 120);
});
await check('9e2 team B: create_automation referencing team A\'s credentials -> isError, nothing created', async () => {
    const before = (await fakeState()).automations.length;
    const r = await call(B, 'create_automation', { ...automation, name: `e2e B automation ${run}` });
    expectError(r, 'credentialKey', 'create_automation (B with A\'s credentials)');
    const after = (await fakeState()).automations.length;
    assert(before === after, `automations in the fake: ${before} -> ${after}`);
    return short(r.sc?.message ?? r.text, 160);
});
await check('9f team A still syncs with its own settings after team B\'s configure_rollout (token sub = A, no new records)', async () => {
    const before = fingerprint(await fakeState());
    await clearRequests();
    // A changed note, so the sync really calls Rollout (an unchanged tour would make no call at all).
    const changed = { ...tour1, properties: tour1.properties.map(p => ({ ...p, notes: `seen again ${run}` })) };
    const r = await call(A, 'sync_tour_data', { tourData: changed, crmType: 'all' });
    expectSuccess(r, 'sync_tour_data (A after B configured)');
    const reqs = await collectTokens();
    const subs = new Set(reqs.filter(q => q.jwtClaims).map(q => q.jwtClaims.sub));
    assert(subs.size === 1 && subs.has(A.tenant), `A's sync carried JWT subs ${short([...subs])}, expected only ${A.tenant}`);
    const after = fingerprint(await fakeState());
    assert(before === after, `record counts changed: ${before} -> ${after}`);
    return `${reqs.length} Rollout requests, all as ${A.tenant}`;
});
await check('9g team B\'s key with team A\'s Mcp-Session-Id -> HTTP 404 (POST and DELETE); A\'s session still works', async () => {
    const headers = {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': A.transport.sessionId,
        'MCP-Protocol-Version': A.transport.protocolVersion ?? '2025-11-25',
        Authorization: `Bearer ${B.key}`
    };
    const post = await fetch(url, {
        method: 'POST', headers, signal: AbortSignal.timeout(5000),
        body: JSON.stringify({ jsonrpc: '2.0', id: 9001, method: 'tools/call', params: { name: 'list_crm_connections', arguments: {} } })
    });
    const postBody = await post.text();
    allToolText.push(postBody);
    assert(post.status === 404, `POST answered HTTP ${post.status}: ${short(postBody)}`);
    assert(!postBody.includes('highlevel'), `the 404 body leaks team A's data: ${short(postBody)}`);
    const del = await fetch(url, { method: 'DELETE', headers, signal: AbortSignal.timeout(5000) });
    await del.arrayBuffer();
    assert(del.status === 404, `DELETE answered HTTP ${del.status}`);
    const r = await call(A, 'list_crm_connections', {});
    expectSuccess(r, 'team A after the hijack attempts');
    return 'POST 404, DELETE 404, A unaffected';
});

// Transport-level check for the TLS variant: every Rollout call of this run went over TLS.
if (EXPECT_TLS) {
    await check('TLS: the server reached the fake over TLS (certificate verified through the test CA)', async () => {
        await clearRequests();
        const r = await call(A, 'test_crm_connection', { crmType: 'highlevel' });
        expectSuccess(r, 'test_crm_connection over TLS');
        const reqs = await collectTokens();
        assert(reqs.length > 0, 'the fake recorded no request');
        assert(reqs.every(q => q.tls === true), `request(s) over plain HTTP: ${short(reqs.filter(q => !q.tls).map(q => q.path))}`);
        return `${reqs.length} request(s), all TLS`;
    });
}

// 10. No secret in any tool result.
await check('10 no tool result contains the client secret, an API key or a Rollout token', async () => {
    await collectTokens();
    const secrets = [['client secret', SECRET], ['wrong client secret', WRONG_SECRET], ['team A API key', A.key], ['team B API key', B.key],
        ...[...tokens].map((t, i) => [`Rollout token #${i + 1}`, t])];
    const all = allToolText.join('\n');
    const leaks = secrets.filter(([, s]) => s && all.includes(s)).map(([what]) => what);
    assert(leaks.length === 0, `leaked in tool results: ${leaks.join(', ')}`);
    assert(tokens.size > 0, 'no Rollout token was seen in the fake\'s request log (cannot check tokens)');
    return `${allToolText.length} result texts scanned for ${secrets.length} secrets`;
});

try {
    await Promise.all([A, B].map(t => withTimeout(t.transport.terminateSession().catch(() => {}), 3000, 'terminate').catch(() => {})));
} catch {
    // ignore
}
await finish();
