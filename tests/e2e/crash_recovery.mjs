#!/usr/bin/env node
// crash_recovery.mjs: the MCP client side of the durable-outbox crash test (issue 4 "Proof"). Plain `fetch`
// JSON-RPC over Streamable HTTP (no SDK), so a killed server is simply a failed fetch. Started by
// crash_recovery.sh in three modes; every mode shares --dir DIR, the test's state directory:
//
//   setup --url MCP_URL --key API_KEY --fake FAKE_URL --tenant ID --secret CLIENT_SECRET
//       configure_rollout against the fake, one highlevel + one lofty credential in the fake for the team,
//       configure_crm_connection for both; writes DIR/creds.json.
//   load  --url MCP_URL --key API_KEY --fake FAKE_URL --round N [--concurrency 3] [--rate 25] [--faults] [--max-ms 30000]
//       first re-sends (same idempotencyKey) the tours of earlier rounds whose answer was lost, and replays a
//       few accepted ones (must come back replayed, same job ids); then keeps `concurrency` sync_tour_data
//       calls in flight, at most --rate new ones a second (unique tourId and buyer, 1-2 properties, crmType
//       all/highlevel/lofty, wait true or false, most with an idempotencyKey) until the server goes away (it is
//       killed with SIGKILL), then exits 0.
//       DIR/sent.jsonl gets each call's arguments BEFORE it is sent, DIR/accepted.jsonl each tour whose call
//       returned a result (not isError: its jobs are durably stored) as soon as it arrives, DIR/problems.jsonl
//       anything a live server must not answer (isError results, JSON-RPC or HTTP errors, replay mismatches).
//       --faults: now and then adds a `timeout_after_write` fault (stored by the fake, never answered).
//   check --fake FAKE_URL --outbox FILE (the output of `rollout-mcp outbox list --json`)
//       compares what was sent / accepted with the fake's records and the outbox; prints a summary and every
//       violation; exit 0 iff none. CRASH_RECOVERY_INJECT=duplicate|lost first plants a duplicate appointment
//       in the fake / a never-sent "accepted" tour, to prove the check catches them (it must then exit 1).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const flag = name => process.argv.includes(`--${name}`);
const MODE = process.argv[2];
const DIR = arg('dir');
const FAKE = (arg('fake') || '').replace(/\/+$/, '');
if (!['setup', 'load', 'check'].includes(MODE) || !DIR || !FAKE) {
    console.error('usage: crash_recovery.mjs setup|load|check --dir DIR --fake FAKE_URL [mode options]');
    process.exit(2);
}
const CRMS = ['highlevel', 'lofty'];
const sleep = ms => new Promise(r => setTimeout(r, ms));
const short = (v, n = 300) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
const readJsonl = file =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l)) : [];
const appendJsonl = (file, obj) => appendFileSync(file, JSON.stringify(obj) + '\n');
const F = {
    creds: join(DIR, 'creds.json'),
    sent: join(DIR, 'sent.jsonl'),
    accepted: join(DIR, 'accepted.jsonl'),
    problems: join(DIR, 'problems.jsonl'),
    faults: join(DIR, 'faults.jsonl')
};

// ---- the fake's control API ------------------------------------------------------------------------
async function fake(path, { method = 'GET', body, headers = {} } = {}) {
    const res = await fetch(`${FAKE}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10000)
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${short(text)}`);
    return text ? JSON.parse(text) : null;
}

// ---- a minimal Streamable HTTP MCP client ----------------------------------------------------------
// A transport failure (connection refused / reset, body cut off): the server is gone.
class Gone extends Error {}
// The server answered, but not with a tool result (HTTP error status, JSON-RPC error).
class Refused extends Error {}

class Mcp {
    constructor(url, key) {
        this.url = url;
        this.key = key;
        this.session = undefined;
        this.version = '2025-11-25';
        this.nextId = 1;
    }
    headers() {
        const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${this.key}` };
        if (this.session) {
            h['Mcp-Session-Id'] = this.session;
            h['MCP-Protocol-Version'] = this.version;
        }
        return h;
    }
    // POSTs one message; for a request, returns its JSON-RPC response (from a JSON body or an SSE stream).
    async post(message, ms) {
        let res, text;
        try {
            res = await fetch(this.url, { method: 'POST', headers: this.headers(), body: JSON.stringify(message), signal: AbortSignal.timeout(ms) });
            text = await res.text();
        } catch (err) {
            if (err?.name === 'TimeoutError') throw new Refused(`${message.method}: no answer within ${ms} ms`);
            throw new Gone(`${message.method}: ${err?.message ?? err}${err?.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : ''}`);
        }
        if (message.id === undefined) {
            if (res.status !== 202 && res.status !== 200) throw new Refused(`${message.method}: HTTP ${res.status}: ${short(text)}`);
            return { res };
        }
        if (res.status !== 200) throw new Refused(`${message.method}: HTTP ${res.status}: ${short(text)}`);
        const type = res.headers.get('content-type') || '';
        let msgs = [];
        if (type.includes('text/event-stream')) {
            for (const block of text.split(/\r?\n\r?\n/)) {
                const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, '')).join('\n');
                if (data) msgs.push(JSON.parse(data));
            }
        } else {
            const v = JSON.parse(text);
            msgs = Array.isArray(v) ? v : [v];
        }
        const reply = msgs.find(m => m && m.id === message.id && ('result' in m || 'error' in m));
        // An SSE stream that ends without the response: the server died while answering.
        if (!reply) throw new Gone(`${message.method}: the response stream ended without a response (${msgs.length} message(s))`);
        return { res, reply };
    }
    async initialize() {
        const { res, reply } = await this.post({
            jsonrpc: '2.0', id: this.nextId++, method: 'initialize',
            params: { protocolVersion: this.version, capabilities: {}, clientInfo: { name: 'crash-recovery', version: '1.0.0' } }
        }, 10000);
        if (reply.error) throw new Refused(`initialize: ${short(reply.error)}`);
        this.session = res.headers.get('mcp-session-id') || undefined;
        this.version = reply.result?.protocolVersion || this.version;
        await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, 10000);
    }
    // tools/call -> {isError, sc, text}; throws Gone / Refused.
    async callTool(name, args, ms = 20000) {
        const { reply } = await this.post({ jsonrpc: '2.0', id: this.nextId++, method: 'tools/call', params: { name, arguments: args } }, ms);
        if (reply.error) throw new Refused(`${name}: JSON-RPC error ${short(reply.error)}`);
        const r = reply.result || {};
        const text = (r.content || []).filter(c => c.type === 'text').map(c => c.text).join('\n');
        let sc = r.structuredContent;
        if (!sc) {
            try {
                sc = JSON.parse(text);
            } catch {
                sc = undefined;
            }
        }
        return { isError: r.isError === true, sc, text };
    }
}

async function connect(url, key, boundMs) {
    const deadline = Date.now() + boundMs;
    for (;;) {
        const c = new Mcp(url, key);
        try {
            await c.initialize();
            return c;
        } catch (err) {
            if (!(err instanceof Gone) || Date.now() > deadline) throw err;
            await sleep(100);
        }
    }
}

// ================================================================================================
if (MODE === 'setup') {
    const url = arg('url'), key = arg('key'), tenant = arg('tenant'), secret = arg('secret');
    if (!url || !key || !tenant || !secret) {
        console.error('setup needs --url --key --tenant --secret');
        process.exit(2);
    }
    try {
        const c = await connect(url, key, 10000);
        const r = await c.callTool('configure_rollout', { projectEnvKey: 'crash-project', clientId: 'crash-client', clientSecret: secret, baseUrl: FAKE });
        if (r.isError) throw new Error(`configure_rollout: ${short(r.text)}`);
        const creds = {};
        for (const crm of CRMS) {
            creds[crm] = (await fake('/_fake/credentials', { method: 'POST', body: { appKey: crm, sub: tenant, label: `crash ${crm}` } })).id;
            const cc = await c.callTool('configure_crm_connection', { crmType: crm, credentialKey: creds[crm] });
            if (cc.isError) throw new Error(`configure_crm_connection ${crm}: ${short(cc.text)}`);
        }
        writeFileSync(F.creds, JSON.stringify(creds) + '\n');
        console.log(`crash_recovery.mjs setup: Rollout configured, connected ${CRMS.map(c => `${c} (${creds[c]})`).join(', ')}`);
        process.exit(0);
    } catch (err) {
        console.log(`crash_recovery.mjs setup: FAIL ${err?.message ?? err}`);
        process.exit(1);
    }
}

// ================================================================================================
if (MODE === 'load') {
    const url = arg('url'), key = arg('key');
    const ROUND = Number(arg('round', '1'));
    const CONCURRENCY = Number(arg('concurrency', '3'));
    const FAULTS = flag('faults');
    const MAX_MS = Number(arg('max-ms', '30000'));
    const RATE = Number(arg('rate', '25'));   // keeps the outbox under `outbox list --limit 1000` on fast machines
    if (!url || !key) {
        console.error('load needs --url --key');
        process.exit(2);
    }
    const tag = `r${ROUND}`;
    const stats = { sent: 0, accepted: 0, retried: 0, replays: 0, faults: 0, problems: 0, gone: 0 };
    let gone = false;
    let goneWhy = '';
    const problem = (what, detail) => {
        stats.problems++;
        appendJsonl(F.problems, { round: ROUND, what, detail });
        console.log(`crash_recovery.mjs load ${tag}: PROBLEM ${what}: ${detail}`);
    };
    setTimeout(() => {
        console.log(`crash_recovery.mjs load ${tag}: FAIL the server was not killed within ${MAX_MS} ms ` + JSON.stringify(stats));
        process.exit(3);
    }, MAX_MS).unref();

    let client;
    try {
        client = await connect(url, key, 0);   // the server was healthy before this started: no answer = killed
    } catch (err) {
        if (err instanceof Gone) {
            console.log(`crash_recovery.mjs load ${tag}: the server went away before a session was made (${err.message})`);
            process.exit(0);
        }
        problem('initialize', err?.message ?? String(err));
        process.exit(1);
    }

    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    let seq = 0;
    const pick = a => a[Math.floor(Math.random() * a.length)];
    function newTour() {
        const n = ++seq;
        const tourId = `crash-${tag}-${run}-${n}`;
        const buyerId = `buyer-${tag}-${run}-${n}`;
        const nprops = 1 + (Math.random() < 0.5 ? 1 : 0);
        const properties = [];
        for (let i = 1; i <= nprops; i++)
            properties.push({
                propertyId: `p${i}`,
                address: `${100 * i + n} Crash St, Austin, TX 7870${i}`,
                visitTime: `2026-12-${String(1 + (n % 28)).padStart(2, '0')}T${String(8 + i).padStart(2, '0')}:00:00-06:00`,
                durationMinutes: 30
            });
        const args = {
            tourData: {
                tourId, agentId: 'agent-crash', buyerId, timeZone: 'America/Chicago', properties,
                buyer: { name: `Crash Buyer${n}`, email: `${buyerId}@example.com`, phone: '+1 512 555 0199' }
            },
            crmType: Math.random() < 0.7 ? 'all' : pick(CRMS),
            wait: Math.random() < 0.5
        };
        if (Math.random() < 0.75) args.idempotencyKey = `idem-${tourId}`;
        return args;
    }
    const jobIdsOf = sc => (sc?.results || []).map(x => x.jobId);

    // Sends one sync_tour_data call; records it as accepted when a result arrives. Returns false once the
    // server is gone.
    async function send(args, how) {
        const tourId = args.tourData.tourId;
        try {
            const r = await client.callTool('sync_tour_data', args);
            if (r.isError) {
                problem(`sync_tour_data ${tourId} (${how})`, `isError result: ${short(r.text)}`);
                return true;
            }
            const jobIds = jobIdsOf(r.sc);
            if (jobIds.length === 0 || jobIds.some(id => typeof id !== 'string')) {
                problem(`sync_tour_data ${tourId} (${how})`, `a result without job ids: ${short(r.sc)}`);
                return true;
            }
            appendJsonl(F.accepted, { round: ROUND, tourId, how, jobIds, replayed: r.sc?.replayed === true, status: r.sc?.status,
                                      crmTypes: (r.sc?.results || []).map(x => x.crmType) });
            stats.accepted++;
            return r;
        } catch (err) {
            if (err instanceof Gone) {
                if (!gone) goneWhy = err.message;
                gone = true;
                stats.gone++;
                return false;
            }
            problem(`sync_tour_data ${tourId} (${how})`, err?.message ?? String(err));
            return true;
        }
    }

    // 1. Tours of earlier rounds whose answer was lost: the client retries them with the same key
    //    (those without a key stay unknown); a few accepted ones are replayed and must match.
    const sent = readJsonl(F.sent);
    const accepted = readJsonl(F.accepted);
    const acceptedIds = new Set(accepted.map(a => a.tourId));
    const lastArgs = new Map();
    for (const s of sent) lastArgs.set(s.args.tourData.tourId, s.args);
    const lost = [...lastArgs.values()].filter(a => !acceptedIds.has(a.tourData.tourId) && a.idempotencyKey);
    const firstAccept = new Map();
    for (const a of accepted) if (!firstAccept.has(a.tourId)) firstAccept.set(a.tourId, a);
    const replayable = [...firstAccept.values()].filter(a => lastArgs.get(a.tourId)?.idempotencyKey);
    const replays = [];
    for (let i = 0; i < 2 && replayable.length; i++) replays.push(replayable.splice(Math.floor(Math.random() * replayable.length), 1)[0]);
    await Promise.all([
        ...lost.map(async args => {
            const again = { ...args, wait: Math.random() < 0.5 };
            appendJsonl(F.sent, { round: ROUND, how: 'retry', args: again });
            if (await send(again, 'retry')) stats.retried++;
        }),
        ...replays.map(async first => {
            const args = { ...lastArgs.get(first.tourId), wait: false };
            appendJsonl(F.sent, { round: ROUND, how: 'replay', args });
            const r = await send(args, 'replay');
            if (!r || r === true) return;
            stats.replays++;
            const a = [...first.jobIds].sort().join(','), b = jobIdsOf(r.sc).sort().join(',');
            if (r.sc?.replayed !== true || a !== b)
                problem(`replay of ${first.tourId}`, `replayed ${short(r.sc?.replayed)}, job ids ${b} (first call: ${a})`);
        })
    ]);

    // 2. A steady stream of new tours until the server is killed. --faults: two timeout_after_write faults
    //    at once (so some time out before the kill), then now and then another.
    async function addFault(pathPrefix) {
        try {
            const rule = await fake('/_fake/faults', { method: 'POST', body: { match: { method: 'POST', pathPrefix }, action: 'timeout_after_write', count: 1 } });
            appendJsonl(F.faults, { round: ROUND, id: rule.id, pathPrefix });
            stats.faults++;
        } catch (err) {
            problem('adding a fault to the fake', err?.message ?? String(err));
        }
    }
    if (FAULTS) await Promise.all([addFault('/crm/api/people'), addFault('/crm/api/appointments')]);
    let nextSlot = Date.now();
    async function worker() {
        while (!gone) {
            const wait = nextSlot - Date.now();
            nextSlot = Math.max(nextSlot, Date.now()) + 1000 / RATE;
            if (wait > 0) await sleep(wait);
            if (gone) break;
            if (FAULTS && Math.random() < 0.05) await addFault(pick(['/crm/api/appointments', '/crm/api/people']));
            const args = newTour();
            appendJsonl(F.sent, { round: ROUND, how: 'new', args });
            stats.sent++;
            await send(args, 'new');
        }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`crash_recovery.mjs load ${tag}: server gone (${goneWhy}); ${JSON.stringify(stats)}`);
    process.exit(0);
}

// ================================================================================================
if (MODE === 'check') {
    const outboxFile = arg('outbox');
    if (!outboxFile) {
        console.error('check needs --outbox FILE');
        process.exit(2);
    }
    const creds = JSON.parse(readFileSync(F.creds, 'utf8'));
    const sentLines = readJsonl(F.sent);
    let accepted = readJsonl(F.accepted);
    const problems = readJsonl(F.problems);
    const jobs = readJsonl(outboxFile);
    const errors = [];
    const err = msg => errors.push(msg);

    // Self-test of this check: plant a violation it must report.
    const inject = process.env.CRASH_RECOVERY_INJECT || '';
    if (inject === 'duplicate') {
        const st = await fake('/_fake/state');
        const victim = st.crm[creds.highlevel]?.appointments?.[0];
        if (!victim) throw new Error('CRASH_RECOVERY_INJECT=duplicate: no appointment to copy');
        const { token } = await fake('/_fake/jwt', { method: 'POST', body: { sub: st.crm[creds.highlevel].sub } });
        const { id, created, updated, rolloutUpdated, originalIds, original, ...body } = victim;
        await fake('/crm/api/appointments', { method: 'POST', body, headers: { Authorization: `Bearer ${token}`, 'X-Rollout-Credential-Id': creds.highlevel } });
        console.log(`# CRASH_RECOVERY_INJECT=duplicate: planted a copy of highlevel appointment ${id} (${short(String(body.description).replace(/\s+/g, " "), 120)})`);
    } else if (inject === 'lost') {
        const ghost = { ...sentLines[0].args, tourData: { ...sentLines[0].args.tourData, tourId: 'crash-ghost-never-sent', buyerId: 'buyer-ghost',
                                                                           buyer: { name: 'Ghost Buyer', email: 'buyer-ghost@example.com' } } };
        sentLines.push({ round: 0, how: 'new', args: ghost });
        accepted = [...accepted, { round: 0, how: 'injected', tourId: 'crash-ghost-never-sent', jobIds: ['job_ghost'], crmTypes: ghost.crmType === 'all' ? CRMS : [ghost.crmType] }];
        console.log('# CRASH_RECOVERY_INJECT=lost: pretending tour crash-ghost-never-sent was accepted');
    }

    const state = await fake('/_fake/state');
    const faultsAdded = readJsonl(F.faults).length;
    const faultsLeft = (state.faults || []).filter(f => f.action === 'timeout_after_write').length;
    // Per CRM: people per buyer tag and per email, appointments per visit marker.
    const count = (m, k) => m.set(k, (m.get(k) || 0) + 1);
    const idx = {};
    for (const crm of CRMS) {
        const c = state.crm?.[creds[crm]] || { people: [], appointments: [], counts: {} };
        const byTag = new Map(), byEmail = new Map(), byMarker = new Map();
        for (const p of c.people || []) {
            for (const t of p.tags || []) if (typeof t === 'string' && t.startsWith('reanna:buyer:')) count(byTag, t);
            for (const e of p.emails || []) count(byEmail, String(e.value).toLowerCase());
        }
        for (const a of c.appointments || []) {
            const m = `${a.description ?? ''}\n${a.title ?? ''}`.match(/\[reanna:visit:[^\]]+\]/g) || [];
            const uniq = [...new Set(m)];
            if (uniq.length !== 1) err(`${crm}: appointment ${a.id} carries ${uniq.length} visit markers: ${short(a)}`);
            for (const k of uniq) count(byMarker, k);
        }
        idx[crm] = { byTag, byEmail, byMarker, people: (c.people || []).length, appointments: (c.appointments || []).length,
                     tasks: (c.tasks || []).length };
    }

    // The tours: the last arguments sent for each (a retry or replay repeats them, apart from `wait`).
    const tours = new Map();
    for (const s of sentLines) tours.set(s.args.tourData.tourId, s.args);
    const acc = new Map();
    for (const a of accepted) {
        if (!acc.has(a.tourId)) acc.set(a.tourId, []);
        acc.get(a.tourId).push(a);
    }
    const jobsByTour = new Map();
    for (const j of jobs) {
        if (!jobsByTour.has(j.tourId)) jobsByTour.set(j.tourId, []);
        jobsByTour.get(j.tourId).push(j);
    }
    const jobIds = new Set(jobs.map(j => j.jobId));

    // Outbox: everything succeeded; never two jobs for one tour and CRM (a retry with the same key replays).
    const byStatus = {};
    for (const j of jobs) byStatus[j.jobStatus] = (byStatus[j.jobStatus] || 0) + 1;
    for (const j of jobs)
        if (j.jobStatus !== 'succeeded')
            err(`outbox: job ${j.jobId} (${j.crmType}, tour ${j.tourId}) is ${j.jobStatus} after ${j.attempts} attempt(s): ${short(j.lastError ?? '')}`);
    for (const [tourId, list] of jobsByTour) {
        if (!tours.has(tourId)) err(`outbox: jobs for tour ${tourId}, which was never sent`);
        const per = new Map();
        for (const j of list) count(per, j.crmType);
        for (const [crm, n] of per) if (n > 1) err(`outbox: ${n} jobs for tour ${tourId} in ${crm} (one call, retried with its idempotencyKey, must make one set of jobs)`);
    }

    const expected = { people: Object.fromEntries(CRMS.map(c => [c, 0])), appointments: Object.fromEntries(CRMS.map(c => [c, 0])) };
    let nAccepted = 0, nStoredUnknown = 0, nNeverStored = 0, recordsChecked = 0;
    for (const [tourId, args] of tours) {
        const t = args.tourData;
        const targets = args.crmType === 'all' ? CRMS : [args.crmType];
        const isAccepted = acc.has(tourId);
        const tourJobs = jobsByTour.get(tourId) || [];
        const delivered = isAccepted || tourJobs.length > 0;
        if (isAccepted) {
            nAccepted++;
            for (const a of acc.get(tourId))
                for (const id of a.jobIds) if (!jobIds.has(id)) err(`tour ${tourId}: accepted job ${id} (round ${a.round}, ${a.how}) is not in the outbox`);
            const crmsAccepted = [...new Set(acc.get(tourId).flatMap(a => a.crmTypes || []))].sort();
            if (crmsAccepted.join() !== [...targets].sort().join()) err(`tour ${tourId}: accepted for ${crmsAccepted} but sent to ${args.crmType}`);
        } else if (tourJobs.length) nStoredUnknown++;
        else nNeverStored++;
        if (delivered) {
            const crmsJobs = [...new Set(tourJobs.map(j => j.crmType))].sort();
            if (crmsJobs.join() !== [...targets].sort().join()) err(`tour ${tourId}: outbox jobs for [${crmsJobs}] but sent to ${args.crmType}`);
        }
        const what = isAccepted ? 'accepted tour' : tourJobs.length ? 'tour in flight at a kill, stored' : 'tour in flight at a kill, never stored';
        for (const crm of CRMS) {
            const want = delivered && targets.includes(crm) ? 1 : 0;
            const tagN = idx[crm].byTag.get(`reanna:buyer:${t.buyerId}`) || 0;
            const mailN = idx[crm].byEmail.get(t.buyer.email.toLowerCase()) || 0;
            if (tagN !== want) err(`${what} ${tourId} (${args.crmType}): ${tagN} ${crm} people tagged reanna:buyer:${t.buyerId}, expected ${want}`);
            if (mailN !== want) err(`${what} ${tourId} (${args.crmType}): ${mailN} ${crm} people with email ${t.buyer.email}, expected ${want}`);
            expected.people[crm] += want;
            for (const p of t.properties) {
                const marker = `[reanna:visit:${tourId}/${p.propertyId}]`;
                const n = idx[crm].byMarker.get(marker) || 0;
                if (n !== want) err(`${what} ${tourId} (${args.crmType}): ${n} ${crm} appointments marked ${marker}, expected ${want}`);
                expected.appointments[crm] += want;
                recordsChecked++;
            }
            recordsChecked++;
        }
    }
    for (const crm of CRMS) {
        if (idx[crm].people !== expected.people[crm]) err(`${crm}: ${idx[crm].people} people in all, expected ${expected.people[crm]}`);
        if (idx[crm].appointments !== expected.appointments[crm]) err(`${crm}: ${idx[crm].appointments} appointments in all, expected ${expected.appointments[crm]}`);
        if (idx[crm].tasks !== 0) err(`${crm}: ${idx[crm].tasks} tasks (visits should be appointments)`);
    }
    for (const p of problems) err(`client, round ${p.round}: ${p.what}: ${p.detail}`);
    if (nAccepted === 0) err('no sync call was accepted at all: the test proved nothing');

    const rounds = new Set(sentLines.map(s => s.round)).size;
    const how = {};
    for (const a of accepted) how[a.how] = (how[a.how] || 0) + 1;
    console.log(`crash_recovery.mjs check: ${tours.size} tours sent over ${rounds} round(s): ${nAccepted} accepted ` +
        `(results: ${Object.entries(how).map(([k, v]) => `${v} ${k}`).join(', ')}), ${nStoredUnknown} in flight at a kill but stored, ` +
        `${nNeverStored} in flight and never stored`);
    const retried = jobs.filter(j => j.attempts > 1);
    const refound = jobs.filter(j => (j.records || []).some(r => r.action === 'found' || r.action === 'updated'));
    console.log(`crash_recovery.mjs check: ${retried.length} job(s) took more than one attempt; ${refound.length} of them ` +
        'found records an interrupted attempt had written (person "found" / appointment "updated") instead of creating them again');
    console.log(`crash_recovery.mjs check: outbox ${jobs.length} jobs (${Object.entries(byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
        `fake: ${CRMS.map(c => `${c} ${idx[c].people} people / ${idx[c].appointments} appointments`).join(', ')}; ` +
        `${state.requestCount ?? '?'} Rollout requests; ${recordsChecked} per-record counts checked`);
    console.log(`crash_recovery.mjs check: ${faultsAdded - faultsLeft} of ${faultsAdded} timeout_after_write faults fired ` +
        '(a CRM write stored by the fake but never answered)');
    if (errors.length) {
        const MAX = 40;
        for (const e of errors.slice(0, MAX)) console.log(`FAIL - ${e}`);
        if (errors.length > MAX) console.log(`FAIL - ... and ${errors.length - MAX} more`);
        console.log(`crash_recovery.mjs check: ${errors.length} violation(s)`);
        process.exit(1);
    }
    console.log('ok - every accepted sync is in its CRM(s) exactly once; tours in flight at a kill at most once; no job failed or dead');
    process.exit(0);
}
