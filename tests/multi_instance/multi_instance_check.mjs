// multi_instance_check.mjs: the verdict of the several-instances test. Compares what the clients sent (and what
// came back) with the outbox (`outbox list --json` of every team) and the fake Rollout's records:
//  - every sync_tour_data / sync_feedback_data call was accepted in the end (nothing lost at the door);
//  - the outbox: exactly one job per call and targeted CRM (a call repeated on another instance with its
//    idempotencyKey made no second set), every job the answers named exists, every job succeeded and finished;
//  - the fake, per team and CRM: exactly one person per buyer (by the team's buyer tag and by email), exactly one
//    appointment per visit, exactly one note per feedback, no other record (no tasks, nothing of another team),
//    and the totals match.
// Returns true iff there is no violation; prints a summary and the first violations.
import { CRMS, short } from './multi_instance_lib.mjs';

const esc = s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function check({ teams, tours, jobs, state, problems, report }) {
    const errors = problems.map(p => `client: ${p}`);
    const err = msg => errors.push(msg);
    const count = (m, k) => m.set(k, (m.get(k) || 0) + 1);

    // ---- the calls
    const lostTours = tours.filter(t => !t.result).length;
    const lostFeedback = tours.filter(t => t.feedback && !t.feedback.result).length;
    if (lostTours) err(`${lostTours} sync_tour_data call(s) never accepted`);
    if (lostFeedback) err(`${lostFeedback} sync_feedback_data call(s) never accepted`);
    if (tours.length !== report.tours) err(`${tours.length} tours sent, expected ${report.tours}`);

    // ---- the outbox
    const byStatus = {};
    const jobIds = new Set();
    const jobsOf = new Map();   // tenant|kind|subjectOrTour|crm -> count
    for (const j of jobs) {
        byStatus[j.jobStatus] = (byStatus[j.jobStatus] || 0) + 1;
        if (jobIds.has(j.jobId)) err(`outbox: job ${j.jobId} listed twice`);
        jobIds.add(j.jobId);
        if (j.jobStatus !== 'succeeded' || !j.finishedAt)
            err(`outbox: job ${j.jobId} (${j.kind} ${j.subject}, ${j.crmType}) is ${j.jobStatus} after ${j.attempts} attempt(s): ${short(j.lastError ?? '')}`);
        count(jobsOf, `${j.tenantId}|${j.kind}|${j.kind === 'tour' ? j.tourId : j.subject}|${j.crmType}`);
    }
    let expectedJobs = 0;
    const expected = new Map();   // tenant|crm -> {people, appointments, notes}
    const exp = (tenant, crm) => {
        const k = `${tenant}|${crm}`;
        if (!expected.has(k)) expected.set(k, { people: 0, appointments: 0, notes: 0 });
        return expected.get(k);
    };
    for (const t of tours) {
        const targets = t.args.crmType === 'all' ? CRMS : [t.args.crmType];
        const tourId = t.args.tourData.tourId;
        if (t.result) {
            const answered = (t.result.sc?.results || []).map(r => r.crmType).sort();
            if (answered.join() !== [...targets].sort().join()) err(`tour ${tourId}: the answer names [${answered}], sent to ${t.args.crmType}`);
            for (const r of t.result.sc?.results || [])
                if (!jobIds.has(r.jobId)) err(`tour ${tourId}: job ${r.jobId} of the answer is not in the outbox`);
        }
        for (const crm of targets) {
            expectedJobs++;
            const n = jobsOf.get(`${t.tenant}|tour|${tourId}|${crm}`) || 0;
            if (n !== 1) err(`tour ${tourId} (${t.team}): ${n} ${crm} jobs, expected 1`);
            exp(t.tenant, crm).people++;
            exp(t.tenant, crm).appointments += t.args.tourData.properties.length;
        }
        if (t.feedback) {
            const f = t.feedback.args.feedbackData;
            const subject = `${f.tourId}/${f.propertyId}/${f.buyerId}`;
            if (t.feedback.result)
                for (const r of t.feedback.result.sc?.results || [])
                    if (!jobIds.has(r.jobId)) err(`feedback ${subject}: job ${r.jobId} of the answer is not in the outbox`);
            for (const crm of targets) {
                expectedJobs++;
                const n = jobsOf.get(`${t.tenant}|feedback|${subject}|${crm}`) || 0;
                if (n !== 1) err(`feedback ${subject} (${t.team}): ${n} ${crm} jobs, expected 1`);
                exp(t.tenant, crm).notes++;
            }
        }
    }
    if (jobs.length !== expectedJobs) err(`outbox: ${jobs.length} jobs in all, expected ${expectedJobs}`);

    // ---- the fake's records, per team and CRM
    const totals = { people: 0, appointments: 0, notes: 0 };
    const credOwner = new Map();
    for (const team of teams) for (const crm of CRMS) credOwner.set(team.creds[crm], { team, crm });
    for (const [credId, c] of Object.entries(state.crm || {})) {
        if (!credOwner.has(credId)) {
            const n = (c.people || []).length + (c.appointments || []).length + (c.notes || []).length;
            if (n) err(`fake: credential ${credId} (${c.appKey}) belongs to no team but holds ${n} records`);
        }
    }
    const toursOf = new Map();
    for (const t of tours) {
        if (!toursOf.has(t.tenant)) toursOf.set(t.tenant, []);
        toursOf.get(t.tenant).push(t);
    }
    for (const [credId, { team, crm }] of credOwner) {
        const c = state.crm?.[credId] || {};
        const M = `reanna:${team.tenant}:`;
        const byTag = new Map(), byEmail = new Map(), byVisit = new Map(), byNote = new Map();
        for (const p of c.people || []) {
            for (const tag of p.tags || []) if (typeof tag === 'string' && tag.startsWith(`${M}buyer:`)) count(byTag, tag);
            for (const e of p.emails || []) count(byEmail, String(e.value).toLowerCase());
        }
        const markers = (text, kind) => [...new Set(String(text).match(new RegExp(`\\[${esc(M)}${kind}:[^\\]]+\\]`, 'g')) || [])];
        for (const a of c.appointments || []) {
            const m = markers(`${a.description ?? ''}\n${a.title ?? ''}`, 'visit');
            if (m.length !== 1) err(`${team.name} ${crm}: appointment ${a.id} carries ${m.length} visit markers of the team: ${short(a, 200)}`);
            for (const k of m) count(byVisit, k);
        }
        for (const n of c.notes || []) {
            const m = markers(`${n.body ?? ''}\n${n.subject ?? ''}`, 'feedback');
            if (m.length !== 1) err(`${team.name} ${crm}: note ${n.id} carries ${m.length} feedback markers of the team: ${short(n, 200)}`);
            for (const k of m) count(byNote, k);
        }
        for (const t of toursOf.get(team.tenant) || []) {
            const targets = t.args.crmType === 'all' ? CRMS : [t.args.crmType];
            const want = targets.includes(crm) ? 1 : 0;
            const d = t.args.tourData;
            const tagN = byTag.get(`${M}buyer:${d.buyerId}`) || 0;
            const mailN = byEmail.get(d.buyer.email.toLowerCase()) || 0;
            if (tagN !== want) err(`${team.name} ${crm}: ${tagN} people tagged for buyer ${d.buyerId} (tour ${d.tourId}), expected ${want}`);
            if (mailN !== want) err(`${team.name} ${crm}: ${mailN} people with email ${d.buyer.email}, expected ${want}`);
            for (const p of d.properties) {
                const n = byVisit.get(`[${M}visit:${d.tourId}/${p.propertyId}]`) || 0;
                if (n !== want) err(`${team.name} ${crm}: ${n} appointments for visit ${d.tourId}/${p.propertyId}, expected ${want}`);
            }
            if (t.feedback) {
                const f = t.feedback.args.feedbackData;
                const n = byNote.get(`[${M}feedback:${f.tourId}/${f.propertyId}/${f.buyerId}]`) || 0;
                if (n !== want) err(`${team.name} ${crm}: ${n} notes for feedback ${f.tourId}/${f.propertyId}, expected ${want}`);
            }
        }
        const e = expected.get(`${team.tenant}|${crm}`) || { people: 0, appointments: 0, notes: 0 };
        for (const kind of ['people', 'appointments', 'notes']) {
            const n = (c[kind] || []).length;
            totals[kind] += n;
            if (n !== e[kind]) err(`${team.name} ${crm}: ${n} ${kind} in all, expected ${e[kind]}`);
        }
        if ((c.tasks || []).length) err(`${team.name} ${crm}: ${(c.tasks || []).length} tasks (visits should be appointments)`);
    }

    // ---- summary
    const retried = jobs.filter(j => j.attempts > 1).length;
    const refound = jobs.filter(j => (j.records || []).some(r => r.action === 'found' || r.action === 'updated')).length;
    const attempts = jobs.reduce((s, j) => s + j.attempts, 0);
    Object.assign(report, { jobs: jobs.length, byStatus, attempts, retriedJobs: retried, refoundJobs: refound, records: totals,
                            requests: state.requestCount, faultsLeft: (state.faults || []).length, violations: errors.length });
    const feedbacks = tours.filter(t => t.feedback).length;
    console.log(`multi_instance_check: ${tours.length} tours + ${feedbacks} feedback calls from ${teams.length} teams, ` +
        `${tours.length - lostTours} + ${feedbacks - lostFeedback} accepted; outbox ${jobs.length} jobs ` +
        `(${Object.entries(byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}), ${attempts} attempts, ${retried} job(s) took more ` +
        `than one, ${refound} found records an interrupted attempt had written`);
    console.log(`multi_instance_check: fake: ${totals.people} people, ${totals.appointments} appointments, ${totals.notes} notes in ` +
        `${credOwner.size} CRM connections; ${state.requestCount ?? '?'} Rollout requests; ` +
        `${report.faultsArmed - (state.faults || []).length} of ${report.faultsArmed} armed faults fired`);
    if (errors.length) {
        for (const e of errors.slice(0, 40)) console.log(`FAIL - ${e}`);
        if (errors.length > 40) console.log(`FAIL - ... and ${errors.length - 40} more`);
        console.log(`multi_instance_check: ${errors.length} violation(s)`);
        return false;
    }
    console.log('ok - every call accepted; one job per call and CRM, each succeeded; every person, appointment and note ' +
        'in its CRM exactly once, nothing else');
    return true;
}
