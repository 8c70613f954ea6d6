// rollout_e2e_sync.mjs: rollout_e2e.mjs's checks 4-8e for team A: sync_tour_data / sync_feedback_data and their
// idempotence, bad input (nothing changes), create_automation, and the durable outbox (retries, wait, retry_sync).
import {
    A, B, assert, call, check, cred, expectError, expectSuccess, fake, fakeState, feedback1, feedbackText, fingerprint,
    clearRequests, collectTokens, run, short, sleep, tour1
} from './rollout_e2e_lib.mjs';

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

// Checks 4-6, in order.
export async function tourSyncChecks() {
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
}

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
// Check 7 (bad input, then a valid create_automation), in order; returns that automation for check 9e2.
export async function badInputChecks() {
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
    return automation;
}

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
// Checks 8-8e, in order.
export async function outboxChecks() {
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
}
