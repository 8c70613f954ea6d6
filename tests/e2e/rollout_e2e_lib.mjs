// rollout_e2e_lib.mjs: what the rollout_e2e*.mjs check modules share: the command line (exit 2 if incomplete),
// the check/ok/fail/finish bookkeeping, the fake Rollout's control API, token collection, the MCP clients, test data.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { writeFileSync } from 'node:fs';

function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const flag = name => process.argv.includes(`--${name}`);
export const A = { name: 'team A', key: arg('key-a'), tenant: arg('tenant-a') };
export const B = { name: 'team B', key: arg('key-b'), tenant: arg('tenant-b') };
const URL_ARG = arg('url');
export const FAKE = (arg('fake') || '').replace(/\/+$/, '');
export const BASE_URL = arg('base-url');
export const SECRET = arg('secret');
export const EXPECT_TLS = flag('expect-tls');
const SECRETS_OUT = arg('secrets-out');
export const UNTRUSTED_URL = arg('untrusted-base-url'); // a TLS listener whose CA the server does not trust
const TOTAL_MS = Number(arg('timeout-ms', '150000'));
const STEP_MS = 20000; // bound on any single check (one check may make several calls)
if (!URL_ARG || !FAKE || !BASE_URL || !SECRET || !A.key || !B.key || !A.tenant || !B.tenant) {
    console.error('usage: rollout_e2e.mjs --url MCP_URL --fake FAKE_HTTP_BASE --base-url ROLLOUT_BASE --key-a K --key-b K ' +
        '--tenant-a ID --tenant-b ID --secret S [--expect-tls] [--secrets-out F] [--timeout-ms N]');
    process.exit(2);
}
export const url = new URL(URL_ARG);
export const WRONG_SECRET = `wrong-${SECRET.split('').reverse().join('')}`;
export const PROJECT_ENV_KEY = 'e2e-project';
export const CLIENT_ID = 'e2e-client';

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
export async function finish() {
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

export function withTimeout(promise, ms, what) {
    let t;
    const timer = new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}
export async function check(name, fn, { fatal = false, ms = STEP_MS } = {}) {
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
export function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}
export const short = (v, n = 400) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
export const sleep = ms => new Promise(r => setTimeout(r, ms));

// ---- the fake's control API ------------------------------------------------------------------------
export async function fake(path, { method = 'GET', body } = {}) {
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
export const fakeState = () => fake('/_fake/state');
// Everything a bad call must not change: per-credential record counts, automations, credentials.
export function fingerprint(state) {
    const crm = {};
    for (const [id, c] of Object.entries(state.crm || {})) crm[id] = c.counts;
    return JSON.stringify({ crm, automations: (state.automations || []).length, credentials: (state.credentials || []).length });
}

// What the leak checks (check 10 and the launcher's log grep) scan; shared by all the check modules, so it
// lives in one object: the Rollout tokens the server used (from the fake's request log) and every tool result text.
export const seen = { tokens: new Set(), toolText: [] };
export async function collectTokens() {
    const reqs = await fake('/_fake/requests');
    for (const r of reqs) {
        const h = r.headers?.authorization;
        if (typeof h === 'string' && /^bearer /i.test(h)) seen.tokens.add(h.slice(7).trim());
    }
    return reqs;
}
// Empties the fake's request log, keeping the tokens seen so far.
export async function clearRequests() {
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
    writeFileSync(SECRETS_OUT, [...seen.tokens].map(t => `token ${t}`).join('\n') + (seen.tokens.size ? '\n' : ''));
}

// ---- MCP clients -----------------------------------------------------------------------------------
export async function connect(team) {
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
export async function call(team, name, args, { onprogress, ms = STEP_MS - 2000 } = {}) {
    let result;
    try {
        result = await team.client.callTool({ name, arguments: args }, undefined, {
            timeout: ms,
            ...(onprogress ? { onprogress, resetTimeoutOnProgress: false } : {})
        });
    } catch (err) {
        // A JSON-RPC error (e.g. invalid params on an older revision) is recorded like a tool error.
        seen.toolText.push(String(err?.message ?? err));
        throw new Error(`${name} threw (JSON-RPC error or transport failure, not a tool result): ${err?.message ?? err}`);
    }
    const text = textOf(result);
    seen.toolText.push(text, JSON.stringify(result.structuredContent ?? null));
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
export function expectSuccess(r, what) {
    assert(!r.isError, `${what}: isError result: ${short(r.text)}`);
    assert(r.sc?.status === 'success', `${what}: status ${short(r.sc?.status)}, not "success": ${short(r.text)}`);
}
// A tool error naming `field` (a string or a RegExp).
export function expectError(r, field, what) {
    assert(r.isError, `${what}: expected isError true, got a successful result: ${short(r.text)}`);
    const named = field instanceof RegExp ? field.test(r.text) : r.text.includes(field);
    assert(named, `${what}: the error does not name ${field}: ${short(r.text)}`);
}

// ---- test data -------------------------------------------------------------------------------------
export const cred = {}; // the fake's credential ids (highlevel, lofty, notReady), filled by check 3a
export const run = Date.now().toString(36);
const buyer = { name: 'Jane Buyer', email: `jane.buyer.${run}@example.com`, phone: '+1 512 555 0142' };
export const tour1 = {
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
export const feedbackText = `Loved the kitchen, the backyard is too small (${run})`;
export const feedback1 = {
    propertyId: 'prop-101',
    tourId: tour1.tourId,
    buyerId: tour1.buyerId,
    feedback: feedbackText,
    rating: 4,
    interestLevel: 'high',
    address: tour1.properties[0].address,
    timestamp: '2026-12-01T12:30:00-06:00'
};
