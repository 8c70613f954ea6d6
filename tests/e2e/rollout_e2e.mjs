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
// The checks live in rollout_e2e_lib.mjs (shared set-up and helpers), rollout_e2e_sync.mjs (checks 4-8e) and here.
import {
    A, B, BASE_URL, CLIENT_ID, EXPECT_TLS, FAKE, PROJECT_ENV_KEY, SECRET, UNTRUSTED_URL, WRONG_SECRET, assert, call, check,
    clearRequests, collectTokens, connect, cred, expectError, expectSuccess, fake, fakeState, fingerprint, finish, run,
    seen, short, tour1, url, withTimeout
} from './rollout_e2e_lib.mjs';
import { badInputChecks, outboxChecks, tourSyncChecks } from './rollout_e2e_sync.mjs';

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
// 1b2-1b5: the server's [rollout] allowed_base_urls (the launcher lists only the fakes' origins) and the
// field patterns refuse hostile settings before any connection is made, and nothing is stored.
const refusedBefore = async (args, pattern, what) => {
    await clearRequests();
    const r = await call(A, 'configure_rollout', { projectEnvKey: PROJECT_ENV_KEY, clientId: CLIENT_ID, clientSecret: SECRET, ...args });
    expectError(r, pattern, what);
    const reqs = (await fake('/_fake/requests')).filter(q => !String(q.path ?? '').startsWith('/_fake'));
    assert(reqs.length === 0, `${what}: the fake saw ${reqs.length} Rollout request(s): ${short(reqs)}`);
    const l = await call(A, 'list_available_crms', {});
    expectError(l, /not configured/i, `list_available_crms after ${what}`);
    return short(r.sc?.message ?? r.text, 200);
};
const fakePort = new URL(FAKE).port;
await check('1b2 configure_rollout with a baseUrl not in [rollout] allowed_base_urls -> refused naming baseUrl and the setting', () =>
    refusedBefore({ baseUrl: 'https://rollout.example.invalid' }, /baseUrl[\s\S]*\[rollout\] allowed_base_urls/, 'unlisted https origin'));
await check('1b3 configure_rollout with http://localhost:<fake port> (not listed; only its exact listed spelling is) -> refused', () =>
    refusedBefore({ baseUrl: `http://localhost:${fakePort}` }, /baseUrl[\s\S]*\[rollout\] allowed_base_urls/, 'localhost spelling'));
await check('1b4 configure_rollout with the listed origin plus a path or a trailing "?" -> refused (an origin only)', async () => {
    await refusedBefore({ baseUrl: `${BASE_URL}/platform` }, /baseUrl[\s\S]*allowed_base_urls/, 'origin + path');
    return refusedBefore({ baseUrl: `${BASE_URL}?` }, /baseUrl[\s\S]*allowed_base_urls/, 'origin + "?"');
});
await check('1b5 configure_rollout with CR/LF in authToken, clientId or projectEnvKey -> refused, nothing sent', async () => {
    await refusedBefore({ clientId: undefined, clientSecret: undefined, authToken: 'aaa.bbb.ccc\r\nX-Evil: 1', baseUrl: BASE_URL },
        /authToken|pattern|invalid/i, 'authToken with CRLF in the third segment');
    await refusedBefore({ clientId: 'id\r\nX-Evil: 1', baseUrl: BASE_URL }, /clientId|pattern|invalid/i, 'clientId with CRLF');
    return refusedBefore({ projectEnvKey: 'a.evil.example', baseUrl: BASE_URL }, /projectEnvKey|pattern|invalid/i, 'projectEnvKey with dots');
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

// 4-8e (rollout_e2e_sync.mjs): the syncs, bad input and the outbox; check 9e2 reuses check 7's automation.
await tourSyncChecks();
const automation = await badInputChecks();
await outboxChecks();

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
        // Its origin is listed by the launcher: the refusal must come from TLS, not from the allow-list.
        assert(!/allowed_base_urls/.test(r.text), `refused by the allow-list instead of the certificate check: ${short(r.text)}`);
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
    seen.toolText.push(postBody);
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
        ...[...seen.tokens].map((t, i) => [`Rollout token #${i + 1}`, t])];
    const all = seen.toolText.join('\n');
    const leaks = secrets.filter(([, s]) => s && all.includes(s)).map(([what]) => what);
    assert(leaks.length === 0, `leaked in tool results: ${leaks.join(', ')}`);
    assert(seen.tokens.size > 0, 'no Rollout token was seen in the fake\'s request log (cannot check tokens)');
    return `${seen.toolText.length} result texts scanned for ${secrets.length} secrets`;
});

try {
    await Promise.all([A, B].map(t => withTimeout(t.transport.terminateSession().catch(() => {}), 3000, 'terminate').catch(() => {})));
} catch {
    // ignore
}
await finish();
