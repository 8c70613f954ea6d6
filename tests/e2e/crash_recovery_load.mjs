// crash_recovery_load.mjs: the `load` mode of crash_recovery.mjs: re-sends lost tours, replays accepted ones, then
// keeps sync_tour_data calls (and feedback on accepted tours) in flight, with --faults under network and CRM faults,
// until the server is killed.
import { arg, flag, CRMS, sleep, short, readJsonl, appendJsonl, F, fake } from './crash_recovery_common.mjs';
import { Gone, connect } from './crash_recovery_client.mjs';

export async function load() {
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
                buyer: { name: `Crash Buyer${n}`, email: `${buyerId}@example.com`, phone: `+1 512 ${String(200 + (n % 700)).padStart(3, '0')} ${String(n % 10000).padStart(4, '0')}` }
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

    // 2. A steady stream of new tours (and feedback on accepted ones) until the server is killed. --faults:
    //    a first volley of network and CRM faults, then now and then another.
    const FAULT_KINDS = [
        { match: { method: 'POST', pathPrefix: '/crm/api/people', reusedConnection: true }, action: 'reset_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/appointments', reusedConnection: true }, action: 'half_close_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/appointments' }, action: 'timeout_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/notes', reusedConnection: true }, action: 'reset_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/notes' }, action: 'truncated_body' },
        { match: { method: 'POST', pathPrefix: '/crm/api/people', reusedConnection: false }, action: 'half_close_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/appointments', reusedConnection: false }, action: 'reset_after_write' },
        { match: { method: 'POST', pathPrefix: '/crm/api/people/' }, action: 'truncated_body' },
        { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'truncated_body' },
        { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'rate_limit', retryAfterSeconds: 1 },
        { match: { method: 'POST', pathPrefix: '/crm/api/appointments' }, action: 'rate_limit' },
        { match: { method: 'GET', pathPrefix: '/crm/api/people' }, action: 'status', status: 502, contentType: 'text/html',
          body: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>' },
        { match: { method: 'POST', pathPrefix: '/crm/api/notes' }, action: 'reset_before_handle' }
    ];
    async function addFault(kind) {
        try {
            const rule = await fake('/_fake/faults', { method: 'POST', body: { ...kind, count: 1 } });
            appendJsonl(F.faults, { round: ROUND, id: rule.id, action: kind.action, match: kind.match });
            stats.faults++;
        } catch (err) {
            problem('adding a fault to the fake', err?.message ?? String(err));
        }
    }
    if (FAULTS) await Promise.all(FAULT_KINDS.map(addFault));

    const feedbackStats = { sent: 0, accepted: 0 };
    // Feedback on an accepted tour: one of its properties, the tour's buyer and crmType.
    async function sendFeedback(tourArgs) {
        const t = tourArgs.tourData;
        const p = pick(t.properties);
        const args = {
            feedbackData: { tourId: t.tourId, propertyId: p.propertyId, buyerId: t.buyerId,
                            feedback: `Crash feedback on ${p.address}`, rating: 4, timestamp: '2026-12-06T15:00:00-06:00' },
            crmType: tourArgs.crmType,
            wait: Math.random() < 0.5,
            idempotencyKey: `fb-${t.tourId}-${p.propertyId}`
        };
        appendJsonl(F.feedbackSent, { round: ROUND, args });
        feedbackStats.sent++;
        try {
            const r = await client.callTool('sync_feedback_data', args);
            if (r.isError) {
                problem(`sync_feedback_data ${t.tourId}/${p.propertyId}`, `isError result: ${short(r.text)}`);
                return;
            }
            appendJsonl(F.feedbackAccepted, { round: ROUND, tourId: t.tourId, propertyId: p.propertyId,
                                              jobIds: jobIdsOf(r.sc), crmTypes: (r.sc?.results || []).map(x => x.crmType) });
            feedbackStats.accepted++;
        } catch (err) {
            if (err instanceof Gone) {
                if (!gone) goneWhy = err.message;
                gone = true;
                return;
            }
            problem(`sync_feedback_data ${t.tourId}/${p.propertyId}`, err?.message ?? String(err));
        }
    }

    let nextSlot = Date.now();
    async function worker() {
        while (!gone) {
            const wait = nextSlot - Date.now();
            nextSlot = Math.max(nextSlot, Date.now()) + 1000 / RATE;
            if (wait > 0) await sleep(wait);
            if (gone) break;
            if (FAULTS && Math.random() < 0.08) await addFault(pick(FAULT_KINDS));
            const args = newTour();
            appendJsonl(F.sent, { round: ROUND, how: 'new', args });
            stats.sent++;
            const r = await send(args, 'new');
            if (r && r !== true && Math.random() < 0.5 && !gone) await sendFeedback(args);
        }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`crash_recovery.mjs load ${tag}: server gone (${goneWhy}); ${JSON.stringify(stats)} feedback ${JSON.stringify(feedbackStats)}`);
    process.exit(0);
}
