// soak_common.mjs: the soak driver's command-line options, small helpers and the run's statistics (tallies,
// kept details, HTTP statuses), shared by every soak module. Exits 2 on missing --base / --pid / --seconds.
import { randomInt } from 'node:crypto';

// ---- options -------------------------------------------------------------------------------------------
function arg(name, def) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
export const BASE = arg('base');
export const PID = Number(arg('pid'));
export const SECONDS = Number(arg('seconds', '120'));
if (!BASE || !PID || !(SECONDS > 0)) {
    console.error('usage: soak.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --seconds N [options]');
    process.exit(2);
}
const base = new URL(BASE);
export const HOST = base.hostname;
export const PORT = Number(base.port);
export const MCP_PATH = arg('path', '/mcp');
export const WORKERS = Number(arg('workers', '40'));
export const MAX_BODY = Number(arg('max-body-bytes', '65536'));
export const MAX_HEADER = Number(arg('max-header-bytes', '8192'));
export const REQUEST_TIMEOUT_MS = Number(arg('request-timeout-ms', '2000'));
export const SAMPLE_MS = Number(arg('sample-ms', String(Math.min(5000, Math.max(1000, Math.floor((SECONDS * 1000) / 12))))));
export const WARMUP = Number(arg('warmup', '0.25'));
export const RSS_PCT = Number(arg('rss-pct', '15'));
export const RSS_MIB = Number(arg('rss-mib', '8'));
export const FD_SLACK = Number(arg('fd-slack', '4'));
export const SETTLE_S = Number(arg('settle-s', '20'));
export const REPORT = arg('report');
export const INJECT = arg('inject', process.env.SOAK_INJECT || '');
export const ONLY = (arg('only', '') || '').split(',').filter(Boolean);
export const VERSIONS = ['2025-11-25', '2025-11-25', '2025-11-25', '2025-06-18', '2025-03-26'];
export const VALID_TIMEOUT_MS = 15000;

export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const pick = a => a[randomInt(a.length)];
export const chance = p => Math.random() < p;
export const short = (v, n = 240) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > n ? `${s.slice(0, n)}...` : s;
};
export const now = () => performance.now();

// ---- statistics ------------------------------------------------------------------------------------------
export const stats = {
    valid: {}, broken: {}, dropped: {},             // kind -> { n, ok, bad }
    status: {},                                       // HTTP status -> count (every response seen)
    validErrors: [], brokenAnomalies: [], serverErrors: [],
    counts: { validErrors: 0, brokenAnomalies: 0, serverErrors: 0 },
    sessions: { created: 0, deleted: 0, abandoned: 0 }
};
const KEEP = 30;   // details kept per list
// The run's shared state: when the load started (reset by the main program), and whether the workers must stop.
export const run = { loadStart: now(), stopping: false };
export function tally(category, kind, ok) {
    const t = (stats[category][kind] ??= { n: 0, ok: 0, bad: 0 });
    t.n++;
    ok ? t.ok++ : t.bad++;
}
export function note(list, counter, entry) {
    stats.counts[counter]++;
    if (stats[list].length < KEEP) stats[list].push({ t: +((now() - run.loadStart) / 1000).toFixed(1), ...entry });
}
export function seenStatus(status, what) {
    if (!status) return;
    stats.status[status] = (stats.status[status] || 0) + 1;
    if (status >= 500) note('serverErrors', 'serverErrors', { status, what });
}
export const validOk = kind => tally('valid', kind, true);
export function validFail(kind, detail) {
    tally('valid', kind, false);
    note('validErrors', 'validErrors', { kind, detail: short(detail, 400) });
}
export function brokenResult(kind, ok, detail) {
    tally('broken', kind, ok);
    if (!ok) note('brokenAnomalies', 'brokenAnomalies', { kind, detail: short(detail, 400) });
}
