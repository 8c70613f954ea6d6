// flood_isolation.mjs: one team floods the server while another works (issue "Hostile teams", Proof).
// Team B measures tools/list latency and a sync_tour_data round trip alone, then again while team A keeps
// FLOOD concurrent clients (in a child process) sending syncs (wait: false) and interactive Rollout calls (test_crm_connection,
// list_available_crms). Prints one JSON line: p50/p99 of both, their ratios (flood / quiet), and what A got
// (accepted, refused by its caps). Target: B's tools/list p99 ratio <= 2.
import { Mcp, toolOk, fake } from './sync_throughput_client.mjs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? process.argv[i + 1] : d; };
const URL_ = arg('url'), FAKE = arg('fake'), SECRET = arg('secret');
const [A, B] = arg('teams').split(',').map(t => { const [key, tenant] = t.split(':'); return { key, tenant }; });
const FLOOD = Number(arg('flood', '64')), SAMPLES = Number(arg('samples', '400')), SYNCS = Number(arg('syncs', '20'));
const ROLE = arg('role', 'measure');   // the flood runs in a child process, so it cannot slow the measuring one
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

async function team(t, name) {
    const c = await new Mcp(URL_, t.key).init();
    await toolOk(c, 'configure_rollout', { projectEnvKey: name, clientId: `${name}-client`, clientSecret: SECRET, baseUrl: FAKE });
    const cred = (await fake(FAKE, '/_fake/credentials', { method: 'POST', body: { appKey: 'highlevel', sub: t.tenant } })).id;
    await toolOk(c, 'configure_crm_connection', { crmType: 'highlevel', credentialKey: cred });
    return { c, cred };
}
let seq = 0;
const tour = tag => {
    const n = ++seq;
    return { tourData: { tourId: `${tag}-${n}`, agentId: 'a', buyerId: `${tag}-buyer-${n}`,
                         properties: [{ propertyId: 'p1', address: `${n} Flood St`, visitTime: '2026-12-05T10:00:00-06:00' }] } };
};
async function measure(b) {
    const list = [], sync = [];
    for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        await b.c.rpc('tools/list', {});
        list.push(performance.now() - t0);
    }
    for (let i = 0; i < SYNCS; i++) {
        const t0 = performance.now();
        const r = await b.c.tool('sync_tour_data', { ...tour('b'), wait: true }, 60000);
        if (r.isError || r.sc.status !== 'success') throw new Error(`team B's sync failed under the flood: ${r.text.slice(0, 300)}`);
        sync.push(performance.now() - t0);
    }
    return { list, sync };
}

if (ROLE === 'flood') {
    // Team A's clients until stdin closes; then one JSON line of what they got.
    const cred = arg('cred');
    let stop = false;
    const got = { accepted: 0, refused: 0, interactive: 0, interactiveRefused: 0 };
    async function flooder(i) {
        const c = await new Mcp(URL_, A.key).init();
        while (!stop) {
            try {
                if (i % 4 === 0) {
                    const r = await c.tool(i % 8 === 0 ? 'test_crm_connection' : 'list_available_crms',
                                           i % 8 === 0 ? { crmType: 'highlevel', credentialKey: cred } : {}, 30000);
                    if (r.isError) got.interactiveRefused++; else got.interactive++;
                } else {
                    const r = await c.tool('sync_tour_data', { ...tour('a'), wait: false }, 30000);
                    if (r.isError) got.refused++; else got.accepted++;
                }
            } catch { got.refused++; }
        }
    }
    process.stdin.on('close', () => { stop = true; });
    process.stdin.resume();
    await Promise.all(Array.from({ length: FLOOD }, (_, i) => flooder(i)));
    console.log(JSON.stringify(got));
    process.exit(0);
}

const a = await team(A, 'flood-a'), b = await team(B, 'flood-b');
const quiet = await measure(b);
const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--role', 'flood', '--cred', a.cred],
                    { stdio: ['pipe', 'pipe', 'inherit'] });
let childOut = '';
child.stdout.on('data', d => { childOut += d; });
const childDone = new Promise(r => child.on('exit', r));
await new Promise(r => setTimeout(r, 2000));   // let A's backlog build up first
const flood = await measure(b);
child.stdin.end();
await childDone;
const got = JSON.parse(childOut.trim().split('\n').pop());
const row = {
    flood: FLOOD,
    quiet: { listP50: pct(quiet.list, 0.5), listP99: pct(quiet.list, 0.99), syncP50: pct(quiet.sync, 0.5) },
    flooded: { listP50: pct(flood.list, 0.5), listP99: pct(flood.list, 0.99), syncP50: pct(flood.sync, 0.5) },
    teamA: got
};
row.listP99Ratio = row.flooded.listP99 / row.quiet.listP99;
row.syncP50Ratio = row.flooded.syncP50 / row.quiet.syncP50;
console.log(JSON.stringify(row));
process.exit(0);
