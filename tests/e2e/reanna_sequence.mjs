#!/usr/bin/env node
// reanna_sequence.mjs --url MCP_URL --fake FAKE_URL --key API_KEY --tenant TEAM_ID
// REanna Router's real call sequence, with the arguments exactly as its integration sends them, over the
// official MCP TypeScript SDK client against the fake Rollout, then the same tour and feedback again:
//   configure_rollout {projectEnvKey, authToken (HS512 JWT), baseUrl}, list_available_crms {},
//   configure_crm_connection / test_crm_connection for "gohighlevel" and "lofty",
//   sync_tour_data (three visits, no buyer, local offsets), sync_feedback_data (with buyerId),
//   create_automation (rollout-tools webhook trigger, gohighlevel create_task action).
// Per CRM: exactly one person, the three appointments and the note on that person; exactly one automation
// (action app "highlevel"); nothing new after the repeat. Prints "N passed, M failed".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const arg = n => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? process.argv[i + 1] : undefined; };
const URL_ = arg('url'), FAKE = arg('fake'), KEY = arg('key'), TENANT = arg('tenant');
let passed = 0, failed = 0;
const ok = (name, detail = '') => { passed++; console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`); };
const bad = (name, detail) => { failed++; console.log(`FAIL - ${name}: ${detail}`); };
const done = () => { console.log(`${passed} passed, ${failed} failed`); process.exit(failed === 0 && passed > 0 ? 0 : 1); };
setTimeout(() => { bad('whole run', 'did not finish within 120 s'); done(); }, 120000).unref();

async function fake(path, { method = 'GET', body } = {}) {
    const res = await fetch(`${FAKE}${path}`, { method, headers: body ? { 'Content-Type': 'application/json' } : {},
                                                 body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
}
const client = new Client({ name: 'reanna-router', version: '1.0.0' }, { capabilities: {} });
await client.connect(new StreamableHTTPClientTransport(new URL(URL_), { requestInit: { headers: { Authorization: `Bearer ${KEY}` } } }));
async function call(name, args) {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 30000 });
    const text = (r.content ?? []).filter(c => c.type === 'text').map(c => c.text).join('\n');
    return { sc: r.structuredContent ?? JSON.parse(text), isError: r.isError === true, text };
}
async function step(name, fn) {
    try { ok(name, await fn()); } catch (err) { bad(name, err?.message ?? err); }
}
const expect = (cond, msg) => { if (!cond) throw new Error(msg); };

// The team's Rollout account, its CRM credentials and the webhook credential REanna hard-codes.
const { token } = await fake('/_fake/jwt', { method: 'POST', body: { sub: TENANT, ttlSeconds: 3600 } });
const cred = {};
for (const app of ['highlevel', 'lofty'])
    cred[app] = (await fake('/_fake/credentials', { method: 'POST', body: { appKey: app, sub: TENANT, label: app } })).id;
await fake('/_fake/credentials', { method: 'POST', body: { appKey: 'rollout-tools', sub: TENANT, id: 'webhook-cred-123' } });

const tourData = { tourId: 'reanna-tour-1', agentId: 'agent-42', properties: [
    { address: '1420 Maple Ave, Austin, TX', visitTime: '2026-12-05T10:00:00-06:00', propertyId: 'prop-1' },
    { address: '77 Oak St, Austin, TX', visitTime: '2026-12-05T11:00:00-06:00', propertyId: 'prop-2' },
    { address: '9 Elm Ct, Austin, TX', visitTime: '2026-12-05T12:00:00-06:00', propertyId: 'prop-3' }] };
const feedbackData = { propertyId: 'prop-2', tourId: 'reanna-tour-1', feedback: 'Loved the backyard, kitchen too small',
                       buyerId: 'buyer-7', timestamp: '2026-12-05T13:00:00-06:00' };
const automation = { name: 'New Feedback Notification',
    trigger: { appKey: 'rollout-tools', triggerKey: 'webhook', credentialKey: 'webhook-cred-123', inputParams: { endpoint: '/feedback-webhook' } },
    action: { appKey: 'gohighlevel', actionKey: 'create_task', credentialKey: cred.highlevel, inputParams: {
        title: 'Review New Property Feedback', description: '{{data.feedback}}',
        dueDate: "{{formatDate add='1' 'days' format='YYYY-MM-DD'}}", assignedTo: '{{data.listingAgentId}}' } } };

await step('1 configure_rollout {projectEnvKey, authToken, baseUrl}', async () => {
    const r = await call('configure_rollout', { projectEnvKey: 'reanna-env', authToken: token, baseUrl: FAKE });
    expect(!r.isError, r.text);
});
await step('1 list_available_crms {}', async () => {
    const r = await call('list_available_crms', {});
    expect(!r.isError && r.sc.crms.some(c => c.key === 'highlevel') && r.sc.crms.some(c => c.key === 'lofty'), r.text);
});
for (const [crmType, app] of [['gohighlevel', 'highlevel'], ['lofty', 'lofty']])
    await step(`2 configure_crm_connection + test_crm_connection ${crmType}`, async () => {
        const c = await call('configure_crm_connection', { crmType, credentialKey: cred[app] });
        expect(!c.isError, c.text);
        const t = await call('test_crm_connection', { crmType, credentialKey: cred[app] });
        expect(!t.isError && t.sc.state === 'ready', t.text);
    });
const state = () => fake('/_fake/state');
for (const round of ['first', 'repeated']) {
    await step(`3 sync_tour_data (${round})`, async () => {
        const r = await call('sync_tour_data', { tourData, crmType: 'all' });
        expect(!r.isError && r.sc.status === 'success', r.text);
    });
    await step(`4 sync_feedback_data (${round})`, async () => {
        const r = await call('sync_feedback_data', { feedbackData, crmType: 'all' });
        expect(!r.isError && r.sc.status === 'success', r.text);
    });
    await step(`5 create_automation (${round})`, async () => {
        const r = await call('create_automation', automation);
        expect(!r.isError, r.text);
        expect(r.sc.replayed === (round === 'repeated'), `replayed ${r.sc.replayed}`);
        return `id ${r.sc.id}`;
    });
    await step(`per CRM: one person with the three appointments and the note (${round})`, async () => {
        const s = await state();
        for (const app of ['highlevel', 'lofty']) {
            const c = s.crm[cred[app]];
            expect(c.people.length === 1, `${app}: ${c.people.length} people`);
            const person = c.people[0].id;
            expect(c.appointments.length === 3 && c.appointments.every(a => a.personId === person), `${app}: appointments ${JSON.stringify(c.appointments.map(a => a.personId))}`);
            expect(c.notes.length === 1 && c.notes[0].personId === person, `${app}: notes ${JSON.stringify(c.notes.map(n => n.personId))}`);
            expect(c.people[0].tags.includes(`reanna:${TENANT}:buyer:buyer-7`), `${app}: tags ${c.people[0].tags}`);
        }
        const autos = s.automations;
        expect(autos.length === 1 && autos[0].action.appKey === 'highlevel', JSON.stringify(autos.map(a => a.action.appKey)));
        return 'highlevel and lofty';
    });
}
done();
