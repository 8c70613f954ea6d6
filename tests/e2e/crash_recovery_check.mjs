// crash_recovery_check.mjs: the `check` mode of crash_recovery.mjs: compares the tours sent / accepted with the fake's
// records and the outbox (exactly once per accepted tour, at most once in flight, no failed job); exit 0 iff none.
import { readFileSync } from 'node:fs';
import { arg, CRMS, short, readJsonl, F, fake } from './crash_recovery_common.mjs';

export async function check() {
    const outboxFile = arg('outbox');
    if (!outboxFile) {
        console.error('check needs --outbox FILE');
        process.exit(2);
    }
    const creds = JSON.parse(readFileSync(F.creds, 'utf8'));
    // The server's markers name the team: reanna:<team>:buyer:<id>, [reanna:<team>:visit:T/P], [reanna:<team>:feedback:T/P/B].
    const M = `reanna:${creds.tenant}:`;
    const feedbackSent = readJsonl(F.feedbackSent);
    const feedbackAccepted = readJsonl(F.feedbackAccepted);
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
    const faultsLeft = (state.faults || []).length;
    // Per CRM: people per buyer tag and per email, appointments per visit marker.
    const count = (m, k) => m.set(k, (m.get(k) || 0) + 1);
    const idx = {};
    for (const crm of CRMS) {
        const c = state.crm?.[creds[crm]] || { people: [], appointments: [], notes: [], counts: {} };
        const byTag = new Map(), byEmail = new Map(), byMarker = new Map(), byNote = new Map();
        for (const p of c.people || []) {
            for (const t of p.tags || []) if (typeof t === 'string' && t.startsWith(`${M}buyer:`)) count(byTag, t);
            for (const e of p.emails || []) count(byEmail, String(e.value).toLowerCase());
        }
        const markers = (text, kind) => [...new Set(String(text).match(new RegExp(`\\[${M.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${kind}:[^\\]]+\\]`, 'g')) || [])];
        for (const a of c.appointments || []) {
            const uniq = markers(`${a.description ?? ''}\n${a.title ?? ''}`, 'visit');
            if (uniq.length !== 1) err(`${crm}: appointment ${a.id} carries ${uniq.length} visit markers: ${short(a)}`);
            for (const k of uniq) count(byMarker, k);
        }
        for (const n of c.notes || []) {
            const uniq = markers(`${n.body ?? ''}\n${n.subject ?? ''}`, 'feedback');
            if (uniq.length !== 1) err(`${crm}: note ${n.id} carries ${uniq.length} feedback markers: ${short(n)}`);
            for (const k of uniq) count(byNote, k);
        }
        idx[crm] = { byTag, byEmail, byMarker, byNote, people: (c.people || []).length, appointments: (c.appointments || []).length,
                     notes: (c.notes || []).length, tasks: (c.tasks || []).length };
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
    for (const j of jobs.filter(x => x.kind === 'tour')) {
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
            const tagN = idx[crm].byTag.get(`${M}buyer:${t.buyerId}`) || 0;
            const mailN = idx[crm].byEmail.get(t.buyer.email.toLowerCase()) || 0;
            if (tagN !== want) err(`${what} ${tourId} (${args.crmType}): ${tagN} ${crm} people tagged ${M}buyer:${t.buyerId}, expected ${want}`);
            if (mailN !== want) err(`${what} ${tourId} (${args.crmType}): ${mailN} ${crm} people with email ${t.buyer.email}, expected ${want}`);
            expected.people[crm] += want;
            for (const p of t.properties) {
                const marker = `[${M}visit:${tourId}/${p.propertyId}]`;
                const n = idx[crm].byMarker.get(marker) || 0;
                if (n !== want) err(`${what} ${tourId} (${args.crmType}): ${n} ${crm} appointments marked ${marker}, expected ${want}`);
                expected.appointments[crm] += want;
                recordsChecked++;
            }
            recordsChecked++;
        }
    }
    // Feedback: the last arguments sent per (tour, property); accepted ones exactly once per targeted CRM,
    // ones in flight at a kill at most once (stored or not).
    const feedback = new Map();
    for (const f of feedbackSent) feedback.set(`${f.args.feedbackData.tourId}/${f.args.feedbackData.propertyId}`, f.args);
    const fbAccepted = new Set(feedbackAccepted.map(a => `${a.tourId}/${a.propertyId}`));
    const fbJobs = new Set(jobs.filter(j => j.kind === 'feedback').map(j => j.subject));
    expected.notes = Object.fromEntries(CRMS.map(c => [c, 0]));
    let nFeedbackAccepted = 0, nFeedbackUnknown = 0;
    for (const [key, args] of feedback) {
        const f = args.feedbackData;
        const local = `${f.tourId}/${f.propertyId}/${f.buyerId}`;
        const targets = args.crmType === 'all' ? CRMS : [args.crmType];
        const isAccepted = fbAccepted.has(key);
        if (isAccepted) nFeedbackAccepted++;
        else nFeedbackUnknown++;
        const stored = isAccepted || fbJobs.has(local);
        for (const crm of CRMS) {
            const n = idx[crm].byNote.get(`[${M}feedback:${local}]`) || 0;
            const want = stored && targets.includes(crm) ? 1 : 0;
            if (n !== want) err(`${isAccepted ? 'accepted' : 'in-flight'} feedback ${local} (${args.crmType}): ${n} ${crm} notes, expected ${want}`);
            expected.notes[crm] += want;
        }
    }
    for (const crm of CRMS) {
        if (idx[crm].notes !== expected.notes[crm]) err(`${crm}: ${idx[crm].notes} notes in all, expected ${expected.notes[crm]}`);
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
    console.log(`crash_recovery.mjs check: ${feedback.size} feedback calls sent, ${nFeedbackAccepted} accepted, ${nFeedbackUnknown} in flight at a kill; ` +
        `notes: ${CRMS.map(c => `${c} ${idx[c].notes}`).join(', ')}`);
    console.log(`crash_recovery.mjs check: ${faultsAdded - faultsLeft} of ${faultsAdded} injected faults fired ` +
        '(writes applied then reset / half-closed / hung / cut short, 429s, 5xx HTML, truncated reads)');
    if (errors.length) {
        const MAX = 40;
        for (const e of errors.slice(0, MAX)) console.log(`FAIL - ${e}`);
        if (errors.length > MAX) console.log(`FAIL - ... and ${errors.length - MAX} more`);
        console.log(`crash_recovery.mjs check: ${errors.length} violation(s)`);
        process.exit(1);
    }
    console.log('ok - every accepted sync (people, appointments, notes) is in its CRM(s) exactly once; calls in flight at a kill at most once; no job failed or dead');
    process.exit(0);
}
