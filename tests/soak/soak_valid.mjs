// soak_valid.mjs: the soak's valid workload: a session of 2-8 checked operations (mixed with broken calls on the
// same session), then DELETEd or abandoned.
import { randomBytes, randomInt } from 'node:crypto';
import { INJECT, VALID_TIMEOUT_MS, sleep, pick, chance, short, stats, run, validOk, validFail, brokenResult } from './soak_common.mjs';
import { request, messages, liveSession, refused } from './soak_client.mjs';
import { SESSION_BROKEN } from './soak_hostile.mjs';

export function randomText() {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', 'é', 'ß', '中', '文', '🙂', '<', '>', '&', '{', '}', '\u2028'];
    const len = chance(0.1) ? randomInt(2000, 6000) : randomInt(0, 200);
    let s = '';
    for (let i = 0; i < len; i++) s += chance(0.7) ? String.fromCharCode(97 + randomInt(26)) : pick(alphabet);
    return s;
}
const textOf = r => (Array.isArray(r?.content) && r.content.length === 1 && r.content[0].type === 'text' ? r.content[0].text : undefined);
let injectedValid = false;

// ---- valid operations on a live session ------------------------------------------------------------------
export const VALID_OPS = {
    async echo(s) {
        const text = randomText();
        const { msg } = await s.call('tools/call', { name: 'echo', arguments: { text } }, { what: 'tools/call echo' });
        let expect = text;
        if (INJECT === 'valid' && !injectedValid) { injectedValid = true; expect = `${text}#injected`; }
        if (msg.result?.isError || textOf(msg.result) !== expect)
            throw new Error(`echo: sent ${short(JSON.stringify(text), 80)}, got ${short(msg.result)}`);
    },
    async simple_text(s) {
        const { msg } = await s.call('tools/call', { name: 'test_simple_text', arguments: {} }, { what: 'tools/call test_simple_text' });
        if (textOf(msg.result) !== 'This is a simple text response for testing.' || msg.result.isError)
            throw new Error(`test_simple_text: ${short(msg.result)}`);
    },
    async progress(s) {
        const token = chance(0.5) ? `p-${randomBytes(4).toString('hex')}` : randomInt(1, 1e9);
        const { msg, notes, res } = await s.call('tools/call', { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } },
            { what: 'tools/call test_tool_with_progress' });
        if (!String(res.headers['content-type']).startsWith('text/event-stream')) throw new Error(`progress: not SSE (${res.headers['content-type']})`);
        const prog = notes.filter(n => n.method === 'notifications/progress');
        const seq = prog.map(n => n.params?.progress).join(',');
        if (seq !== '0,50,100' || prog.some(n => n.params?.progressToken !== token || n.params?.total !== 100))
            throw new Error(`progress: notifications ${short(prog)}`);
        if (textOf(msg.result) !== 'Progress tool completed') throw new Error(`progress: result ${short(msg.result)}`);
    },
    async logging(s) {
        const { msg } = await s.call('tools/call', { name: 'test_tool_with_logging', arguments: {} }, { what: 'tools/call test_tool_with_logging' });
        if (textOf(msg.result) !== 'Tool with logging executed successfully') throw new Error(`logging tool: ${short(msg.result)}`);
    },
    async ping(s) {
        const { msg } = await s.call('ping');
        if (JSON.stringify(msg.result) !== '{}') throw new Error(`ping: ${short(msg.result)}`);
    },
    async tools_list(s) {
        const { msg } = await s.call('tools/list', {});
        const names = (msg.result?.tools || []).map(t => t.name);
        if (!names.includes('echo') || !names.includes('test_simple_text')) throw new Error(`tools/list: ${short(names)}`);
    },
    async error_tool(s) {
        const { msg } = await s.call('tools/call', { name: 'test_error_handling', arguments: {} }, { what: 'tools/call test_error_handling' });
        if (msg.result?.isError !== true || textOf(msg.result) !== 'This tool intentionally returns an error for testing')
            throw new Error(`test_error_handling: ${short(msg.result)}`);
    },
    async set_level(s) {
        const { msg } = await s.call('logging/setLevel', { level: pick(['debug', 'info', 'warning', 'error']) });
        if (JSON.stringify(msg.result) !== '{}') throw new Error(`logging/setLevel: ${short(msg.result)}`);
    },
    async batch(s) {   // 2025-03-26 only
        const text = randomText();
        const a = s.nextId++, b = s.nextId++;
        const res = await s.post([{ jsonrpc: '2.0', id: a, method: 'ping' },
                                  { jsonrpc: '2.0', id: b, method: 'tools/call', params: { name: 'echo', arguments: { text } } }], {}, 'batch');
        if (res.error || res.status !== 200) throw new Error(`batch: ${res.error || `HTTP ${res.status} ${short(res.text)}`}`);
        const all = messages(res);
        const ra = all.find(m => m.id === a), rb = all.find(m => m.id === b);
        if (JSON.stringify(ra?.result) !== '{}' || textOf(rb?.result) !== text) throw new Error(`batch: ${short(res.text)}`);
    }
};
const VALID_WEIGHTS = [['echo', 5], ['simple_text', 2], ['progress', 3], ['logging', 1], ['ping', 2], ['tools_list', 1],
                       ['error_tool', 1], ['set_level', 1], ['batch', 1]];
function weighted(list) {
    const total = list.reduce((a, [, w]) => a + w, 0);
    let r = Math.random() * total;
    for (const [k, w] of list) if ((r -= w) < 0) return k;
    return list[0][0];
}

export async function endSession(s) {
    if (chance(0.45)) {
        const res = await request({ method: 'DELETE', headers: s.headers(), timeoutMs: VALID_TIMEOUT_MS, what: 'DELETE session' });
        if (res.error || res.status !== 200) validFail('delete', res.error || `HTTP ${res.status} ${short(res.text)}`);
        else {
            validOk('delete');
            stats.sessions.deleted++;
            if (chance(0.4)) {   // the ended session's id is now unknown
                const again = await s.post({ jsonrpc: '2.0', id: s.nextId++, method: 'ping' }, {}, 'deleted session');
                const r = refused(again, [404]);
                brokenResult('deleted_session', r === null, r);
            }
        }
    } else {
        stats.sessions.abandoned++;
    }
}

export async function validSession() {
    const s = await liveSession();
    if (!s) return;
    const ops = randomInt(2, 9);
    for (let i = 0; i < ops && !run.stopping; i++) {
        if (chance(0.25)) {
            const kind = pick(Object.keys(SESSION_BROKEN));
            const r = await SESSION_BROKEN[kind](s);
            brokenResult(kind, r === null, r);
        } else {
            let kind = weighted(VALID_WEIGHTS);
            if (kind === 'batch' && s.version !== '2025-03-26') kind = 'echo';
            try { await VALID_OPS[kind](s); validOk(kind); } catch (e) { validFail(kind, e.message); }
        }
        await sleep(randomInt(0, 15));
    }
    await endSession(s);
}
