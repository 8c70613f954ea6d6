// CRM changes flowing back, end to end through real processes (issue 20 "Proof"); changes_e2e.sh starts the fake
// Rollout and rollout-mcp ([server] public_url set) and runs this with:
//   --url MCP_URL --public-url URL --fake FAKE_URL --secret CLIENT_SECRET --key-a K --tenant-a ID --key-b K
//   --tenant-b ID --receiver-port PORT --control-dir DIR [--secrets-out FILE] [--timeout-ms N]
// Two teams sync a tour each; the fake's CRM users then reschedule, cancel, annotate and edit them, and the fake
// sends Rollout's signed notifications. Checked: configure_crm_connection subscribes at the fake; our own writes
// (and an unchanged re-sync) echoed back are no change; forged and unsigned deliveries are refused and change
// nothing; each change is seen through list_crm_changes, events/poll (official client 2.x pinned to 2026-07-28,
// resume cursors) and events/subscribe webhooks to a receiver that verifies every signature, once and in order;
// the teams never see each other's; a delivery stored but not yet processed survives SIGKILL and is reported once.
import { arg, check, deadline, expect, finish } from './tap_checks.mjs';
import { connectTeam, events, fakeApi, launcher, newWebhookSecret, short, startReceiver, tool, waitFor }
  from './changes_e2e_lib.mjs';
import { writeFileSync } from 'node:fs';

const URL_ = arg('--url'), PUBLIC_URL = arg('--public-url'), SECRET = arg('--secret'), CONTROL = arg('--control-dir');
const RECEIVER_PORT = Number(arg('--receiver-port'));
deadline(Number(arg('--timeout-ms', '90000')));
const fake = fakeApi(arg('--fake'));
const VISIBLE_MS = 20000;   // the longest a change may take to become visible
const run = Date.now().toString(36);
const teams = ['a', 'b'].map(label => ({
  label, key: arg(`--key-${label}`), tenant: arg(`--tenant-${label}`), hookPath: `/events/${label}`,
  webhookSecret: newWebhookSecret(), ids: {}, tourId: `tour-${label}-${run}` }));
const [A, B] = teams;
const latencies = [];   // [what, ms]
const secretsSeen = teams.map(t => t.webhookSecret);

// Set-up steps: a failure ends the run (the later checks would only repeat it).
const must = async (name, fn) => {
  let done = false;
  await check(name, async () => { const r = await fn(); done = true; return r; });
  if (!done) finish();
};
const tourOf = t => ({
  tourId: t.tourId, agentId: 'agent-7', buyerId: `buyer-${t.label}-${run}`, timeZone: 'America/Chicago',
  buyer: { name: `Jane ${t.label.toUpperCase()} Buyer`, email: `jane.${t.label}.${run}@example.com`, phone: '+1 512 555 0142' },
  properties: ['p1', 'p2', 'p3'].map((p, i) => ({
    propertyId: p, address: `${101 + i} Main St, Austin, TX 78701`, visitTime: `2026-12-01T1${i}:00:00-06:00`,
    durationMinutes: 30 })) });
const changes = async t => (await tool(t, 'list_crm_changes', { limit: 500 })).changes;
// Every answer to a /_fake/deliver has HTTP status want.status and, when given, {"status": want.body}.
const delivered = (sent, want, what) => {
  expect(Array.isArray(sent) && sent.length > 0, `${what}: the fake found no subscription to deliver to`);
  const said = body => { try { return JSON.parse(body).status; } catch { return undefined; } };
  for (const d of sent) expect(d.status === want.status && (!want.body || said(d.body) === want.body),
                               `${what}: answered ${d.status} ${short(d.body, 120)}, expected ${want.status} ${want.body ?? ''}`);
  return sent.length;
};
const stored = { status: 200, body: 'stored' };

const receiver = await startReceiver(RECEIVER_PORT, Object.fromEntries(teams.map(t => [t.hookPath, t.webhookSecret])));
const inbox = t => receiver.got[t.hookPath];

// 1. Set-up per team: a credential at the fake, configure_rollout (its clientSecret is the webhook key),
// configure_crm_connection (which subscribes at the fake), and a synced tour.
for (const t of teams) {
  await must(`1 ${t.label}: configure_rollout + configure_crm_connection -> changes.webhooks "subscribed"`, async () => {
    await connectTeam(URL_, t);
    t.credential = (await fake.call('/_fake/credentials', { method: 'POST',
      body: { appKey: 'highlevel', sub: t.tenant, label: `changes ${t.label}` } })).id;
    const r = await tool(t, 'configure_rollout', { projectEnvKey: `changes-${t.label}`, clientId: `client-${t.label}`,
                                                  clientSecret: SECRET, baseUrl: arg('--fake') });
    expect(r.webhookKey === 'clientSecret', `webhookKey ${short(r.webhookKey)}, expected "clientSecret"`);
    const c = await tool(t, 'configure_crm_connection', { crmType: 'highlevel', credentialKey: t.credential });
    expect(c.changes?.webhooks === 'subscribed', `changes: ${short(c.changes)}`);
    return `credential ${t.credential}`;
  });
  await must(`1 ${t.label}: the fake holds the server's subscriptions, all under <public_url>/hooks/rollout/`, async () => {
    const subs = await fake.call(`/_fake/webhooks/${t.credential}`);
    const prefix = `${PUBLIC_URL}/hooks/rollout/`;
    expect(subs.every(s => s.url.startsWith(prefix) && s.url.length > prefix.length + 20), 'a url outside the prefix');
    expect(new Set(subs.map(s => s.url)).size === 1, 'one route per team and connection');
    secretsSeen.push(subs[0].url.slice(prefix.length));   // the route is a secret: the log must not show it
    const names = subs.map(s => s.event);
    for (const e of ['appointmentsUpdated', 'appointmentsDeleted', 'peopleUpdated', 'notesCreated'])
      expect(names.includes(e), `no ${e} subscription in ${names.join(', ')}`);
    return `${subs.length} subscriptions`;
  });
  await must(`2 ${t.label}: sync_tour_data -> success; the ledger maps the buyer and 3 appointments`, async () => {
    const r = await tool(t, 'sync_tour_data', { tourData: tourOf(t), crmType: 'highlevel' });
    expect(r.status === 'success', `status ${r.status}: ${short(r.message)}`);
    for (const rec of r.results[0].records) {
      if (rec.kind === 'person') t.ids.person = rec.externalId;
      if (rec.kind === 'appointment') t.ids[rec.localId.split('/').pop()] = rec.externalId;
    }
    expect(t.ids.person && t.ids.p1 && t.ids.p2 && t.ids.p3, `records: ${short(r.results[0].records)}`);
    return `person ${t.ids.person}, appointments ${t.ids.p1} ${t.ids.p2} ${t.ids.p3}`;
  });
}

// 3. Events: the type is listed; each team subscribes its own receiver path with its own whsec_ secret, and the
// server's signed verification challenge is answered.
await must('3 events/list names crm.change for poll and webhook delivery', async () => {
  const r = await events(A, 'events/list', {});
  const type = r.events?.find(e => e.name === 'crm.change');
  expect(type && type.delivery?.includes('poll') && type.delivery?.includes('webhook'), short(r));
  return `${r.events.length} type(s)`;
});
for (const t of teams)
  await must(`3 ${t.label}: events/subscribe -> a subscription; the receiver answers its signed challenge`, async () => {
    const r = await events(t, 'events/subscribe', { name: 'crm.change', secret: t.webhookSecret, ttlSeconds: 3600,
                                                   callbackUrl: `http://127.0.0.1:${RECEIVER_PORT}${t.hookPath}` });
    expect(/^es_[0-9a-f]{32}$/.test(r.subscriptionId ?? ''), short(r));
    t.subscription = r.subscriptionId;
    await waitFor(() => inbox(t).challenges > 0, VISIBLE_MS, 'the verification challenge');
    expect(inbox(t).bad.length === 0, `bad requests: ${inbox(t).bad}`);
    return t.subscription;
  });

// 4. Our own writes come back as no change: an unchanged re-sync writes nothing, and notifications naming every
// record we wrote are examined (the fake serves the server's reads) without a change.
await check('4 a re-sync of the same tour, unchanged -> success with no write at the fake', async () => {
  const before = (await fake.requestsSince(0)).length;
  const r = await tool(A, 'sync_tour_data', { tourData: tourOf(A), crmType: 'highlevel' });
  expect(r.status === 'success', short(r));
  const writes = (await fake.requestsSince(0)).slice(before).filter(q => q.method !== 'GET');
  expect(writes.length === 0, `writes: ${short(writes.map(q => `${q.method} ${q.path}`))}`);
  return `${r.results[0].records.map(x => x.action).join(', ')}`;
});
await check('4 notifications of our own records (created, updated) -> stored, read back, no change for either team', async () => {
  const since = (await fake.requestsSince(0)).length;
  let n = 0;
  for (const t of teams) {
    const apts = [t.ids.p1, t.ids.p2, t.ids.p3];
    n += delivered(await fake.deliver(t, 'peopleCreated', [t.ids.person]), stored, 'peopleCreated');
    n += delivered(await fake.deliver(t, 'appointmentsCreated', apts), stored, 'appointmentsCreated');
    n += delivered(await fake.deliver(t, 'peopleUpdated', [t.ids.person]), stored, 'peopleUpdated');
    n += delivered(await fake.deliver(t, 'appointmentsUpdated', apts), stored, 'appointmentsUpdated');
  }
  // Every record was read back (twice: created and updated), then nothing was reported. The final checks see the
  // first real change first in each team's log: deliveries of one team are processed in order.
  const wanted = teams.flatMap(t => [`/crm/api/people/${t.ids.person}`, ...['p1', 'p2', 'p3'].map(p => `/crm/api/appointments/${t.ids[p]}`)]);
  await waitFor(async () => {
    const reads = (await fake.requestsSince(0)).slice(since).filter(q => q.method === 'GET' && q.status === 200);
    return wanted.every(p => reads.filter(q => q.path === p).length >= 2);
  }, VISIBLE_MS, 'the server reading back every notified record');
  for (const t of teams) expect((await changes(t)).length === 0, `${t.label} has changes: ${short(await changes(t))}`);
  return `${n} deliveries`;
});

// 5. Forged and unsigned notifications about a real CRM edit (team A's buyer renamed) are refused; nothing is
// stored, so no buyer_updated may appear before the valid notification of step 6.
const newLastName = `Buyer-Smith-${run}`;
await check('5 forged / unsigned / other-key notifications of a real edit -> 403 / 401 / 403, nothing stored', async () => {
  await fake.crm(A, 'PUT', `/people/${A.ids.person}`, { lastName: newLastName });
  delivered(await fake.deliver(A, 'peopleUpdated', [A.ids.person], { signing: 'forged' }), { status: 403 }, 'forged');
  delivered(await fake.deliver(A, 'peopleUpdated', [A.ids.person], { signing: 'unsigned' }), { status: 401 }, 'unsigned');
  delivered(await fake.deliver(A, 'peopleUpdated', [A.ids.person], { signing: 'otherKey' }), { status: 403 }, 'other key');
  return 'refused';
});

// 6. The CRM's users edit; each valid notification's change becomes visible, watched three ways at once:
// list_crm_changes, events/poll from the last cursor, and the team's Events receiver. Latency: from just before the
// notification to the change being visible there.
const edits = [
  { what: 'reschedule p1', kind: 'showing_rescheduled', visit: 'p1', record: () => A.ids.p1,
    edit: () => fake.crm(A, 'PUT', `/appointments/${A.ids.p1}`, { startsAt: '2026-12-02T15:00:00-06:00', endsAt: '2026-12-02T15:45:00-06:00' }),
    event: ['appointmentsUpdated', () => [A.ids.p1]],
    fields: f => Date.parse(f.startsAt) === Date.parse('2026-12-02T21:00:00Z') && f.previousStartsAt },
  { what: 'delete p2', kind: 'showing_cancelled', visit: 'p2', record: () => A.ids.p2,
    edit: () => fake.crm(A, 'DELETE', `/appointments/${A.ids.p2}`), event: ['appointmentsDeleted', () => [A.ids.p2]],
    fields: f => f.deleted === true },
  { what: 'note on the buyer', kind: 'agent_note_added', record: () => A.ids.note,
    edit: async () => { A.ids.note = (await fake.crm(A, 'POST', '/notes', { personId: A.ids.person, subject: 'Call back',
                                                                          body: `Buyer loved the kitchen ${run}` })).id; },
    event: ['notesCreated', () => [A.ids.note]], fields: f => f.body === `Buyer loved the kitchen ${run}` },
  { what: 'buyer renamed (step 5)', kind: 'buyer_updated', record: () => A.ids.person, edit: async () => {},
    event: ['peopleUpdated', () => [A.ids.person]], fields: f => f.changed?.includes('lastName') && f.lastName === newLastName },
];
let pollA;   // team A's events/poll cursor, moved past each change as it is seen
for (const [i, e] of edits.entries())
  await check(`6 a: ${e.what} -> ${e.kind} in list_crm_changes, events/poll and at the Events receiver`, async () => {
    await e.edit();
    const started = Date.now();
    delivered(await fake.deliver(A, e.event[0], e.event[1]()), stored, e.event[0]);
    const seen = async (what, probe) => [await waitFor(probe, VISIBLE_MS, what), Date.now() - started];
    const [[list, listMs], [polled, pollMs], [hook]] = await Promise.all([
      seen(`change ${i + 1} in list_crm_changes`, async () => { const c = await changes(A); return c.length > i && c; }),
      seen(`event ${i + 1} in events/poll`, async () => {
        const r = await events(A, 'events/poll', { name: 'crm.change', ...(pollA ? { cursor: pollA } : {}) });
        return r.events.length > 0 && r;
      }),
      seen(`event ${i + 1} at the receiver`, () => inbox(A).events[i])]);
    pollA = polled.cursor;
    const hookMs = hook.at - started;
    latencies.push([`${e.kind}: list_crm_changes`, listMs], [`${e.kind}: events/poll`, pollMs], [`${e.kind}: Events webhook`, hookMs]);
    expect(polled.events.length === 1 && polled.events[0].eventId === list[i]?.changeId, `events/poll: ${short(polled)}`);
    expect(list.length === i + 1, `${list.length} changes after delivery ${i + 1}: ${short(list.map(c => c.kind))}`);
    const c = list[i];
    expect(c.kind === e.kind && c.crmType === 'highlevel' && c.recordId === e.record(), short(c));
    expect(!e.visit || (c.tourId === A.tourId && c.visitId === `${A.tourId}/${e.visit}`), `tour/visit: ${short(c)}`);
    expect(e.fields(c.fields), `fields: ${short(c.fields)}`);
    return `${c.changeId}; ${listMs} / ${pollMs} / ${hookMs} ms`;
  });
await check('6 b: team B reschedules its own p1 -> one change for B', async () => {
  await fake.crm(B, 'PUT', `/appointments/${B.ids.p1}`, { startsAt: '2026-12-03T09:00:00-06:00', endsAt: '2026-12-03T09:30:00-06:00' });
  const started = Date.now();
  delivered(await fake.deliver(B, 'appointmentsUpdated', [B.ids.p1]), stored, 'appointmentsUpdated');
  const list = await waitFor(async () => { const c = await changes(B); return c.length && c; }, VISIBLE_MS, "B's change");
  latencies.push(['showing_rescheduled (team B): list_crm_changes', Date.now() - started]);
  expect(list.length === 1 && list[0].kind === 'showing_rescheduled' && list[0].tourId === B.tourId &&
         list[0].recordId === B.ids.p1, short(list));
  await waitFor(() => inbox(B).events.length, VISIBLE_MS, "B's event at its receiver");
  return list[0].changeId;
});

// 7. events/poll through the pinned 2026-07-28 client: the same changes in the same order as list_crm_changes, from
// the start or after a resume cursor; the returned cursor then yields nothing new.
let pollCursor;
await check('7 events/poll (2026-07-28) -> the same 4 events; resume cursor -> the rest; returned cursor -> nothing', async () => {
  const listed = await changes(A);
  const all = await events(A, 'events/poll', { name: 'crm.change' });
  expect(all.events.length === 4 && all.events.every((e, i) => e.name === 'crm.change' && e.eventId === listed[i].changeId &&
                                                                 e.data.kind === listed[i].kind), short(all));
  const rest = await events(A, 'events/poll', { name: 'crm.change', cursor: all.events[0].cursor });
  expect(rest.events.map(e => e.eventId).join() === listed.slice(1).map(c => c.changeId).join(), short(rest));
  const none = await events(A, 'events/poll', { name: 'crm.change', cursor: rest.cursor });
  expect(none.events.length === 0 && none.hasMore === false && none.cursor === rest.cursor, short(none));
  pollCursor = none.cursor;
  return `cursor ${pollCursor}, nextPollSeconds ${none.nextPollSeconds}`;
});

// 8. The Events webhooks: each change once, in order, signed (verified by the receiver), for its subscription.
const checkInbox = (t, want) => {
  const box = inbox(t);
  expect(box.bad.length === 0, `${t.label}: refused requests: ${box.bad.join('; ')}`);
  const ids = box.events.map(e => e.id);
  expect(ids.join() === want.map(c => c.changeId).join(), `${t.label}: got ${ids.join()}, want ${want.map(c => c.changeId).join()}`);
  expect(box.events.every(e => e.subscription === t.subscription && e.body.eventId === e.id && e.body.data?.changeId === e.id),
         `${t.label}: headers/body disagree: ${short(box.events.map(e => [e.subscription, e.body.eventId]))}`);
  return `${ids.length} event(s), every signature valid`;
};
await check('8 the Events receiver got each of team A\'s changes once, in order, validly signed', async () => checkInbox(A, await changes(A)));

// 9. SIGKILL between receipt and processing: the CRM reschedules p3 and the fake holds the server's read of it (a
// minute's latency), so the notification is stored (2xx) and claimed, but not processed, when the server is killed.
// Restarted on the same data and port (faults removed), the server takes the dead process's claim up at once (not
// after its 5-minute lease): the change is reported exactly once, and delivered to the receiver once.
await check('9 a delivery stored (2xx) but not processed survives SIGKILL and a restart: its change appears once', async () => {
  await fake.crm(A, 'PUT', `/appointments/${A.ids.p3}`, { startsAt: '2026-12-04T10:00:00-06:00', endsAt: '2026-12-04T10:30:00-06:00' });
  await fake.call('/_fake/faults', { method: 'POST', body: { match: { method: 'GET', pathPrefix: `/crm/api/appointments/${A.ids.p3}` },
                                                             action: 'latency', ms: 60000, count: -1 } });
  const since = (await fake.requestsSince(0)).length;
  const eventId = `evt-crash-${run}`;
  delivered(await fake.deliver(A, 'appointmentsUpdated', [A.ids.p3], { eventId }), stored, 'the notification');
  await waitFor(async () => (await fake.requestsSince(0)).slice(since)
                  .some(q => q.method === 'GET' && q.path.includes(A.ids.p3) && q.status === 0),
                VISIBLE_MS, "the server's read of p3 held by the fake");
  const before = (await changes(A)).length;
  const killed = await launcher(CONTROL, 'kill');
  await fake.call('/_fake/faults', { method: 'DELETE' });
  const started = Date.now();
  const restarted = await launcher(CONTROL, 'start');
  for (const t of teams) await connectTeam(URL_, t);
  const list = await waitFor(async () => { const c = await changes(A); return c.length > before && c; }, VISIBLE_MS,
                             'the change after the restart');
  latencies.push(['restart to the change listed', Date.now() - started]);
  // Rollout re-sending it (the same eventId) is a duplicate; a new eventId for the same record finds no change.
  delivered(await fake.deliver(A, 'appointmentsUpdated', [A.ids.p3], { eventId }), { status: 200, body: 'duplicate' }, 'redelivery');
  delivered(await fake.deliver(A, 'appointmentsUpdated', [A.ids.p3]), stored, 'new eventId');
  // A sentinel after them: once its change is listed, the notifications before it were processed (in order).
  const note = await fake.crm(A, 'POST', '/notes', { personId: A.ids.person, body: `sentinel ${run}` });
  delivered(await fake.deliver(A, 'notesCreated', [note.id]), stored, 'sentinel');
  const after = await waitFor(async () => { const c = await changes(A); return c.some(x => x.recordId === note.id) && c; },
                              VISIBLE_MS, 'the sentinel note');
  const p3 = after.filter(c => c.recordId === A.ids.p3);
  expect(p3.length === 1 && p3[0].kind === 'showing_rescheduled' && p3[0].visitId === `${A.tourId}/p3`, short(p3));
  expect(after.length === before + 2 && after[before].recordId === A.ids.p3, `log: ${short(after.map(c => c.kind))}`);
  expect(list[before].changeId === p3[0].changeId, 'the change listed first after the restart is the reschedule');
  return `${killed}; ${restarted}; ${after.length} changes`;
});
await check('9 after the restart: events/poll from the earlier cursor and the receiver get the 2 new changes once', async () => {
  const listed = await changes(A);
  const polled = await events(A, 'events/poll', { name: 'crm.change', cursor: pollCursor });
  expect(polled.events.map(e => e.eventId).join() === listed.slice(4).map(c => c.changeId).join(), short(polled));
  await waitFor(() => inbox(A).events.length >= listed.length, VISIBLE_MS, 'the receiver getting the new changes');
  return checkInbox(A, listed);
});

// 10. Isolation: team B sees only its own change, in every channel.
await check("10 team B's list_crm_changes, events/poll and receiver hold only B's change, none of A's", async () => {
  const mine = await changes(B);
  const polled = await events(B, 'events/poll', { name: 'crm.change' });
  const aIds = new Set((await changes(A)).map(c => c.changeId));
  expect(mine.length === 1 && mine.every(c => c.tourId === B.tourId && !aIds.has(c.changeId)), short(mine));
  expect(polled.events.length === 1 && polled.events[0].eventId === mine[0].changeId, short(polled));
  expect(!(await changes(A)).some(c => c.tourId === B.tourId), "team A sees B's change");
  return checkInbox(B, mine);
});

for (const [what, ms] of latencies) console.log(`# latency ${what}: ${ms} ms`);
if (arg('--secrets-out')) writeFileSync(arg('--secrets-out'), secretsSeen.join('\n') + '\n');
receiver.close();
finish();
