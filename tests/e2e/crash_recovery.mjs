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
//       Now and then it also sends sync_feedback_data for a property of an accepted tour (same buyer, same
//       crmType; DIR/feedback-sent.jsonl and feedback-accepted.jsonl).
//       --faults: the network and CRM faults of a real deployment, armed in the fake: a write applied and then
//       the connection reset, half-closed, hung or its reply cut short, on fresh and reused connections, 429
//       with and without Retry-After, 5xx HTML pages, truncated list replies.
//   check --fake FAKE_URL --outbox FILE (the output of `rollout-mcp outbox list --json`)
//       compares what was sent / accepted (tours and feedback) with the fake's records (people, appointments,
//       notes, by the team's markers) and the outbox; prints a summary and every
//       violation; exit 0 iff none. CRASH_RECOVERY_INJECT=duplicate|lost first plants a duplicate appointment
//       in the fake / a never-sent "accepted" tour, to prove the check catches them (it must then exit 1).
//
// The modules: crash_recovery_common.mjs (command line, state files, the fake's API), crash_recovery_client.mjs
// (the MCP client), crash_recovery_load.mjs and crash_recovery_check.mjs (those two modes); setup is here.
import { writeFileSync } from 'node:fs';
import { arg, MODE, FAKE, CRMS, short, F, fake } from './crash_recovery_common.mjs';
import { connect } from './crash_recovery_client.mjs';
import { load } from './crash_recovery_load.mjs';
import { check } from './crash_recovery_check.mjs';

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
        writeFileSync(F.creds, JSON.stringify({ ...creds, tenant }) + '\n');
        console.log(`crash_recovery.mjs setup: Rollout configured, connected ${CRMS.map(c => `${c} (${creds[c]})`).join(', ')}`);
        process.exit(0);
    } catch (err) {
        console.log(`crash_recovery.mjs setup: FAIL ${err?.message ?? err}`);
        process.exit(1);
    }
}

// ================================================================================================
if (MODE === 'load') await load();

// ================================================================================================
if (MODE === 'check') await check();
