#!/usr/bin/env node
// sdk_client_e2e.mjs: end-to-end test of an MCP Streamable HTTP server with the official TypeScript
// SDK client (@modelcontextprotocol/sdk, pinned in tests/package.json), plus raw-fetch checks of
// SSE resumption and session termination.
//
//   node sdk_client_e2e.mjs --url http://127.0.0.1:PORT/mcp [--bearer KEY] [--timeout-ms 50000]
//
// The server must register the conformance fixture tools (test_tool_with_progress,
// test_simple_text, test_reconnection), i.e. rollout-mcp with `[mcp] test_fixtures = true`.
// Prints one line per check ("ok - ..." / "FAIL - ..."), then "N passed, M failed".
// Exit 0 iff every check passed; the whole run is bounded by --timeout-ms (default 50 s).
// The shared set-up and helpers (arguments, bookkeeping, SDK client, SSE parsing) are in sdk_client_e2e_lib.mjs.
import {
    STEP_MS, assert, authHeaders, check, client, finish, mcpHeaders, parseData, readAll, rememberSession, short, sleep,
    sseEvents, textOf, transport, url, watchdog, wire, withTimeout
} from './sdk_client_e2e_lib.mjs';

// 1. initialize
await check(
    'initialize',
    async () => {
        await client.connect(transport);
        const info = client.getServerVersion();
        const caps = client.getServerCapabilities();
        assert(info?.name && info?.version, `serverInfo lacks name/version: ${short(info)}`);
        assert(caps?.tools, `capabilities lack tools: ${short(caps)}`);
        assert(transport.sessionId, 'no Mcp-Session-Id on the initialize response');
        assert(/^[\x21-\x7E]+$/.test(transport.sessionId), `session id has non-visible-ASCII characters: ${short(transport.sessionId)}`);
        return `server ${info.name} ${info.version}, protocol ${transport.protocolVersion}, session ${transport.sessionId}`;
    },
    { fatal: true }
);
rememberSession();

// 2. tools/list
const toolNames = await check('tools/list: every tool has name, description, inputSchema.type=object', async () => {
    const names = [];
    let cursor;
    let pages = 0;
    do {
        const res = await client.listTools(cursor ? { cursor } : {});
        pages++;
        assert(Array.isArray(res.tools), `tools is not an array: ${short(res)}`);
        for (const t of res.tools) {
            assert(typeof t.name === 'string' && t.name.length > 0, `tool without name: ${short(t)}`);
            assert(typeof t.description === 'string' && t.description.length > 0, `tool ${t.name} has no description`);
            assert(t.inputSchema && t.inputSchema.type === 'object', `tool ${t.name}: inputSchema.type is ${short(t.inputSchema?.type)}`);
            names.push(t.name);
        }
        cursor = res.nextCursor;
        assert(pages < 100, 'more than 100 pages of tools');
    } while (cursor);
    assert(names.length > 0, 'no tools');
    assert(new Set(names).size === names.length, `duplicate tool names: ${names.join(',')}`);
    return names;
});
await check('tools/list: fixture tools present', async () => {
    const want = ['test_tool_with_progress', 'test_simple_text', 'test_reconnection'];
    const missing = want.filter(n => !(toolNames || []).includes(n));
    assert(missing.length === 0, `missing ${missing.join(', ')} (is [mcp] test_fixtures = true?) — server lists: ${(toolNames || []).join(', ')}`);
    return `${toolNames.length} tools`;
});

// 3. tools/call with progress
await check('tools/call test_tool_with_progress: >= 3 non-decreasing progress notifications, then the result', async () => {
    const progress = [];
    let resultAt = -1;
    const result = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
        onprogress: p => progress.push({ ...p, afterResult: resultAt >= 0 }),
        timeout: STEP_MS
    });
    resultAt = progress.length;
    assert(!result.isError, `isError result: ${short(result)}`);
    assert(Array.isArray(result.content), `no content array: ${short(result)}`);
    assert(progress.length >= 3, `got ${progress.length} progress notifications before the result: ${short(progress)}`);
    for (let i = 1; i < progress.length; i++) {
        assert(progress[i].progress >= progress[i - 1].progress, `progress decreased: ${short(progress.map(p => p.progress))}`);
    }
    await sleep(200);
    assert(progress.length === resultAt, `progress notification(s) after the result: ${short(progress.slice(resultAt))}`);
    return `progress ${progress.map(p => (p.total !== undefined ? `${p.progress}/${p.total}` : p.progress)).join(', ')}`;
});

// 4. tools/call simple text
await check('tools/call test_simple_text: non-empty text', async () => {
    const result = await client.callTool({ name: 'test_simple_text' });
    assert(!result.isError, `isError result: ${short(result)}`);
    const text = textOf(result);
    assert(text.length > 0, `no text block: ${short(result)}`);
    return short(text);
});

// 5. SDK-level resumption: test_reconnection closes the POST stream after the priming event;
//    the client must GET with Last-Event-ID and receive the result there.
await check('tools/call test_reconnection: result arrives after the client resumes with GET + Last-Event-ID', async () => {
    const before = wire.length;
    const t0 = Date.now();
    const result = await client.callTool({ name: 'test_reconnection', arguments: {} }, undefined, { timeout: STEP_MS });
    const ms = Date.now() - t0;
    assert(!result.isError, `isError result: ${short(result)}`);
    assert(textOf(result).length > 0, `no text in result: ${short(result)}`);
    const resumes = wire.slice(before).filter(w => w.method === 'GET' && w.lastEventId);
    assert(resumes.length >= 1, `result arrived but no GET with Last-Event-ID was made (requests: ${short(wire.slice(before))})`);
    assert(resumes.every(r => r.status === 200), `resume GET status: ${resumes.map(r => r.status).join(',')}`);
    return `${ms} ms, resumed from Last-Event-ID ${resumes[0].lastEventId}`;
});

// 6. Raw resumption: POST tools/call with progress, abort after the first progress event, resume
//    with GET + Last-Event-ID, expect the rest and the response, no duplicates.
await check('raw SSE: abort mid-stream, GET with Last-Event-ID replays the rest once, then the response', async () => {
    const reqId = 424242;
    const token = 'e2e-progress-1';
    const ac = new AbortController();
    const res = await fetch(url, {
        method: 'POST',
        headers: mcpHeaders(),
        body: JSON.stringify({
            jsonrpc: '2.0',
            id: reqId,
            method: 'tools/call',
            params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } }
        }),
        signal: ac.signal
    });
    if (res.status !== 200) throw new Error(`POST status ${res.status}: ${short(await res.text())}`);
    const ct = res.headers.get('content-type') || '';
    assert(ct.includes('text/event-stream'), `POST answered ${ct}, not text/event-stream (progress must be streamed)`);
    const first = []; // events seen before the abort
    let lastId;
    let sawProgress = false;
    try {
        for await (const e of sseEvents(res)) {
            first.push(e);
            if (e.id !== undefined) lastId = e.id;
            const msg = parseData(e);
            if (msg?.method === 'notifications/progress') {
                sawProgress = true;
                break;
            }
            if (msg && 'id' in msg) throw new Error(`response arrived before any progress: ${short(msg)}`);
        }
    } finally {
        ac.abort();
    }
    assert(sawProgress, `POST stream ended without a progress notification; events: ${short(first)}`);
    assert(lastId !== undefined, `no SSE event carried an id before the abort (events: ${short(first)}); resumption impossible`);
    const firstProgress = first.map(parseData).filter(m => m?.method === 'notifications/progress');
    // Resume at once by default: a client whose connection died silently must be able to take the
    // stream over. E2E_RESUME_DELAY_MS=N waits first (diagnostics only).
    if (Number(process.env.E2E_RESUME_DELAY_MS || 0) > 0) await sleep(Number(process.env.E2E_RESUME_DELAY_MS));

    const ac2 = new AbortController();
    const timer = setTimeout(() => ac2.abort(), 5000);
    const second = [];
    let response;
    try {
        const res2 = await fetch(url, { method: 'GET', headers: mcpHeaders({ Accept: 'text/event-stream', 'Last-Event-ID': lastId }), signal: ac2.signal });
        if (res2.status !== 200) throw new Error(`resume GET status ${res2.status}: ${short(await res2.text())}`);
        assert((res2.headers.get('content-type') || '').includes('text/event-stream'), `resume GET content-type ${res2.headers.get('content-type')}`);
        for await (const e of sseEvents(res2)) {
            second.push(e);
            const msg = parseData(e);
            if (msg && 'id' in msg && !('method' in msg)) {
                response = msg;
                break;
            }
        }
    } catch (err) {
        if (!response) throw new Error(`resume GET: ${err.name === 'AbortError' ? 'no response within 5 s' : err.message}; events: ${short(second)}`);
    } finally {
        clearTimeout(timer);
        ac2.abort();
    }
    assert(response, `resume GET ended without the response; events: ${short(second)}`);
    assert(response.id === reqId, `response id ${short(response.id)} !== ${reqId}`);
    assert(response.result && !response.error, `response is not a result: ${short(response)}`);
    const ids1 = first.map(e => e.id).filter(x => x !== undefined);
    const ids2 = second.map(e => e.id).filter(x => x !== undefined);
    const dupIds = ids2.filter(x => ids1.includes(x));
    assert(dupIds.length === 0, `event ids replayed twice: ${dupIds.join(', ')}`);
    assert(new Set(ids2).size === ids2.length, `duplicate ids on the resumed stream: ${ids2.join(', ')}`);
    const secondProgress = second.map(parseData).filter(m => m?.method === 'notifications/progress');
    for (const p of [...firstProgress, ...secondProgress]) {
        assert(p.params.progressToken === token, `progress token ${short(p.params.progressToken)} !== ${short(token)} (must echo the string token)`);
    }
    const values = [...firstProgress, ...secondProgress].map(p => p.params.progress);
    assert(new Set(values).size === values.length, `duplicate progress values across the two connections: ${values.join(', ')}`);
    assert(values.length >= 3, `only ${values.length} progress notifications in total: ${values.join(', ')}`);
    for (let i = 1; i < values.length; i++) assert(values[i] >= values[i - 1], `progress out of order: ${values.join(', ')}`);
    const others = second.map(parseData).filter(m => m && m.method && m.method !== 'notifications/progress');
    assert(others.length === 0, `unexpected messages on the resumed stream: ${short(others)}`);
    return `before abort: ${firstProgress.map(p => p.params.progress).join(',')} (last id ${lastId}); after resume: ${secondProgress.map(p => p.params.progress).join(',')} + response`;
});

// 7. Older revisions: a raw 2025-06-18 / 2025-03-26 session negotiates that version, serves
//    tools/call echo, and never sends an SSE event with empty data (priming is for >= 2025-11-25).
for (const version of ['2025-06-18', '2025-03-26']) {
    await check(`protocol ${version}: initialize negotiates it, tools/call echo works, no empty-data SSE events`, async () => {
        const base = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...authHeaders };
        const r1 = await fetch(url, {
            method: 'POST',
            headers: base,
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'e2e-raw', version: '1.0.0' } } })
        });
        if (r1.status !== 200) throw new Error(`initialize status ${r1.status}: ${short(await r1.text())}`);
        const sid = r1.headers.get('mcp-session-id');
        const init = await readAll(r1);
        const initRes = init.messages.find(m => m.id === 1);
        assert(initRes?.result?.protocolVersion === version, `initialize answered ${short(initRes)}`);
        assert(sid, 'no Mcp-Session-Id');
        const h = { ...base, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': version };
        const r2 = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
        assert(r2.status === 202, `notifications/initialized got ${r2.status}`);
        await r2.arrayBuffer();
        const nonce = `e2e-${version}-${Date.now()}`;
        const r3 = await fetch(url, {
            method: 'POST',
            headers: h,
            body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: nonce } } })
        });
        if (r3.status !== 200) throw new Error(`tools/call status ${r3.status}: ${short(await r3.text())}`);
        const call = await readAll(r3);
        const res = call.messages.find(m => m.id === 2);
        assert(res?.result && JSON.stringify(res.result).includes(nonce), `tools/call echo answered ${short(call.messages)}`);
        const empty = [...init.events, ...call.events].filter(e => e.data.trim() === '');
        assert(empty.length === 0, `${empty.length} SSE event(s) with empty data in a ${version} session (priming is only for >= 2025-11-25): ${short(empty)}`);
        await fetch(url, { method: 'DELETE', headers: h }).then(r => r.arrayBuffer()).catch(() => {});
        return `${init.ct.split(';')[0]} / ${call.ct.split(';')[0]}`;
    });
}

// 8. Terminate the session (DELETE) and check the id is dead (404).
await check('DELETE via transport.terminateSession() succeeds', async () => {
    const before = wire.length;
    await transport.terminateSession();
    const del = wire.slice(before).find(w => w.method === 'DELETE');
    assert(del, 'no DELETE was sent');
    assert(del.status >= 200 && del.status < 300, `DELETE answered ${del.status} (405 means the server does not support termination)`);
    return `HTTP ${del.status}`;
});
await check('request on the terminated session gets HTTP 404', async () => {
    const res = await fetch(url, {
        method: 'POST',
        headers: mcpHeaders(),
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} })
    });
    const body = await res.text();
    assert(res.status === 404, `POST tools/list with the old session id got ${res.status}: ${short(body)}`);
    return 'HTTP 404';
});
await check('GET on the terminated session gets HTTP 404', async () => {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 3000);
    try {
        const res = await fetch(url, { method: 'GET', headers: mcpHeaders({ Accept: 'text/event-stream' }), signal: ac.signal });
        assert(res.status === 404, `GET with the old session id got ${res.status}`);
        return 'HTTP 404';
    } finally {
        clearTimeout(t);
        ac.abort();
    }
});

try {
    await withTimeout(client.close(), 3000, 'client.close');
} catch (err) {
    console.log(`# client.close: ${err.message}`);
}
clearTimeout(watchdog);
finish();
