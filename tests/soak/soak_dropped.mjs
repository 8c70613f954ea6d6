// soak_dropped.mjs: the soak's dropped connections (raw sockets cut off half-way, silent ones the server must reap,
// SSE streams dropped mid-answer) and the GET streams --inject fd holds open.
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { HOST, PORT, MCP_PATH, REQUEST_TIMEOUT_MS, sleep, pick, chance, short, validOk, validFail, brokenResult,
         seenStatus } from './soak_common.mjs';
import { request, liveSession, refused, BASE_HEADERS, PING, head, rawSocket, waitFor } from './soak_client.mjs';
import { randomText, VALID_OPS, endSession } from './soak_valid.mjs';

// ---- dropped connections ---------------------------------------------------------------------------------
export const holdOpen = [];   // --inject fd: GET streams kept open through the final fd check
export async function holdStreams(n) {
    for (let i = 0; i < n; i++) {
        const s = await liveSession();
        if (!s) continue;
        const sock = net.connect(PORT, HOST, () => sock.write(head('GET', MCP_PATH, { ...s.headers(), Accept: 'text/event-stream' })));
        sock.on('error', () => {});
        holdOpen.push(sock);
    }
}

export const DROPPED = {
    async half_request() {
        const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: randomText() } } });
        const wire = head('POST', MCP_PATH, BASE_HEADERS, body.length + randomInt(1, 100)) + body;
        const cut = randomInt(1, wire.length);
        await rawSocket(async sock => { sock.write(wire.slice(0, cut)); await sleep(randomInt(0, 200)); sock.destroy(); });
        return null;
    },
    async connect_close() {
        await rawSocket(async sock => { await sleep(randomInt(0, 300)); chance(0.5) ? sock.destroy() : sock.end(); });
        return null;
    },
    async silent_reaped() {   // the server must cut a silent (or stalled) connection off by itself
        const partial = chance(0.5) ? '' : pick(['POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b', head('POST', MCP_PATH, BASE_HEADERS, 500) + '{"json']);
        const limit = REQUEST_TIMEOUT_MS + 3000;
        const st = await rawSocket(async (sock, state) => {
            if (partial) sock.write(partial);
            if (!(await waitFor(state, () => state.closed, limit))) { state.notReaped = true; sock.destroy(); }
        });
        if (st.notReaped) return `a silent connection (${partial ? 'half a request' : 'nothing sent'}) was still open after ${limit} ms`;
        const lasted = st.closedAt - st.t0;
        if (lasted < REQUEST_TIMEOUT_MS * 0.8) return `the server closed a silent connection after ${lasted.toFixed(0)} ms (< request_timeout)`;
        return null;
    },
    async write_no_read() {
        const wire = chance(0.5) ? head('GET', '/healthz', {}) : head('POST', MCP_PATH, BASE_HEADERS, PING.length) + PING;
        await rawSocket(sock => { sock.write(wire); sock.destroy(); });
        return null;
    },
    async sse_post_drop() {   // read the start of an SSE answer, then destroy the socket; the session must live on
        const s = await liveSession();
        if (!s) return null;
        const body = JSON.stringify({ jsonrpc: '2.0', id: s.nextId++, method: 'tools/call',
                                      params: { name: pick(['test_tool_with_progress', 'test_tool_with_logging']), arguments: {}, _meta: { progressToken: 7 } } });
        const st = await rawSocket(async (sock, state) => {
            sock.write(head('POST', MCP_PATH, s.headers(), Buffer.byteLength(body)) + body);
            state.gotStart = await waitFor(state, () => state.data.includes('\n\n', state.data.indexOf('\r\n\r\n') + 4) || state.closed, 10000);
            if (chance(0.5)) await sleep(randomInt(0, 80));
            sock.destroy();
        });
        const status = /^HTTP\/1\.1 (\d{3})/.exec(st.data.toString('latin1'))?.[1];
        seenStatus(Number(status), 'dropped SSE POST');
        if (status !== '200' || !st.data.includes('text/event-stream')) validFail('sse_start', `SSE POST answered ${short(st.data.toString('latin1'))}`);
        else validOk('sse_start');
        await sleep(randomInt(0, 150));
        try { await VALID_OPS.ping(s); validOk('ping_after_drop'); } catch (e) { validFail('ping_after_drop', e.message); }
        await endSession(s);
        return null;
    },
    async get_sse_drop() {   // a GET stream opened and dropped; a second GET meanwhile gets 409
        const s = await liveSession();
        if (!s) return null;
        let second;   // undefined: no second GET tried; null: refused with 409; else what went wrong
        const st = await rawSocket(async (sock, state) => {
            sock.write(head('GET', MCP_PATH, { ...s.headers(), Accept: 'text/event-stream' }));
            const ok = await waitFor(state, () => state.data.includes('\r\n\r\n') || state.closed, 10000);
            if (ok && /^HTTP\/1\.1 200/.test(state.data.toString('latin1')) && chance(0.5)) {
                const res = await request({ method: 'GET', headers: { ...s.headers(), Accept: 'text/event-stream' }, timeoutMs: 10000, what: 'second GET stream' });
                second = refused(res, [409]);
            }
            await sleep(randomInt(0, 1000));
            sock.destroy();
        });
        const text = st.data.toString('latin1');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
        seenStatus(Number(status), 'GET stream');
        if (status !== '200' || !/content-type: text\/event-stream/i.test(text)) validFail('get_stream', `GET stream answered ${short(text)}`);
        else validOk('get_stream');
        if (second !== undefined) brokenResult('second_get_stream', second === null, second);
        await endSession(s);
        return null;
    }
};
