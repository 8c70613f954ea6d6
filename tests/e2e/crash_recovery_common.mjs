// crash_recovery_common.mjs: what every mode of crash_recovery.mjs shares: the command line (exits 2 on a bad
// mode / missing --dir / --fake), the state files under --dir, JSON-lines helpers and the fake Rollout's control API.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
export const flag = name => process.argv.includes(`--${name}`);
export const MODE = process.argv[2];
export const DIR = arg('dir');
export const FAKE = (arg('fake') || '').replace(/\/+$/, '');
if (!['setup', 'load', 'check'].includes(MODE) || !DIR || !FAKE) {
    console.error('usage: crash_recovery.mjs setup|load|check --dir DIR --fake FAKE_URL [mode options]');
    process.exit(2);
}
export const CRMS = ['highlevel', 'lofty'];
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const short = (v, n = 300) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
export const readJsonl = file =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l)) : [];
export const appendJsonl = (file, obj) => appendFileSync(file, JSON.stringify(obj) + '\n');
export const F = {
    creds: join(DIR, 'creds.json'),
    sent: join(DIR, 'sent.jsonl'),
    accepted: join(DIR, 'accepted.jsonl'),
    problems: join(DIR, 'problems.jsonl'),
    faults: join(DIR, 'faults.jsonl'),
    feedbackSent: join(DIR, 'feedback-sent.jsonl'),
    feedbackAccepted: join(DIR, 'feedback-accepted.jsonl')
};

// ---- the fake's control API ------------------------------------------------------------------------
export async function fake(path, { method = 'GET', body, headers = {} } = {}) {
    const res = await fetch(`${FAKE}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10000)
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${short(text)}`);
    return text ? JSON.parse(text) : null;
}
