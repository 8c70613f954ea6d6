// sync_throughput_proc.mjs: the benchmark's /proc readers: CPU seconds of a process, and per thread CPU, run-queue
// wait and sampled syscalls over the window, from which the server's storage thread is picked out.
import { readdirSync, readFileSync } from 'node:fs';

const now = () => performance.now();

// CPU seconds (user + system) of a process, from /proc (0 when unreadable). `A+B+C`: the sum of several
// processes (the instances of a multi-instance row); `tree:PID`: PID and its children (PostgreSQL's postmaster
// and its backends, whose CPU is not in the postmaster's own figures while they live).
export function cpuSeconds(pid) {
    if (typeof pid === 'string' && pid.includes('+')) return pid.split('+').reduce((s, p) => s + cpuSeconds(p), 0);
    if (typeof pid === 'string' && pid.startsWith('tree:')) {
        const root = pid.slice(5);
        return cpuSeconds(root) + children(root).reduce((s, p) => s + cpuSeconds(p), 0);
    }
    if (pid === 'self') {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
    }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) / Number(process.env.CLK_TCK || 100);
    } catch {
        return 0;
    }
}

function children(pid) {
    const out = [];
    for (const p of readdirSync('/proc').filter(d => /^[0-9]+$/.test(d))) {
        try {
            const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
            if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid)) out.push(p);
        } catch {
            // the process ended
        }
    }
    return out;
}

// Where a process's threads spend the window: CPU time and run-queue wait from /proc/TID/schedstat, and what
// each thread is doing, sampled from /proc/TID/syscall every 50 ms (fdatasync, futex = idle pool thread,
// epoll = idle I/O thread, running, other). Needs the right to read the process's /proc (same user or root).
const SYSCALLS = { 74: 'fsync', 75: 'fsync', 202: 'futex', 232: 'epoll', 281: 'epoll', 441: 'epoll', 18: 'pwrite', 17: 'pread' };
function readTids(pid) {
    try {
        return readdirSync(`/proc/${pid}/task`);
    } catch {
        return [];
    }
}
function schedstat(pid) {
    const out = {};
    for (const tid of readTids(pid)) {
        try {
            const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
            out[tid] = { run, wait };
        } catch {
            // the thread ended
        }
    }
    return out;
}
export class ThreadSampler {
    constructor(pid) {
        this.pid = pid;
        this.samples = 0;
        this.tally = {};
        this.timer = null;
    }
    start() {
        if (!this.pid) return this;
        this.s0 = schedstat(this.pid);
        this.t0 = now();
        this.timer = setInterval(() => this.tick(), 50);
        return this;
    }
    tick() {
        this.samples++;
        for (const tid of readTids(this.pid)) {
            let what;
            try {
                const first = readFileSync(`/proc/${this.pid}/task/${tid}/syscall`, 'utf8').split(' ')[0].trim();
                what = first === 'running' ? 'running' : SYSCALLS[first] || 'other';
            } catch {
                continue;
            }
            const t = (this.tally[tid] ??= {});
            t[what] = (t[what] || 0) + 1;
        }
    }
    // [{tid, cpu %, runq %, states: {fsync %, futex %, ...}}], busiest (CPU + run-queue wait) first.
    stop() {
        if (!this.timer) return [];
        clearInterval(this.timer);
        const s1 = schedstat(this.pid);
        const ns = (now() - this.t0) * 1e6;
        const out = [];
        for (const [tid, b] of Object.entries(s1)) {
            const a = this.s0[tid] || { run: 0, wait: 0 };
            const states = {};
            const tally = this.tally[tid] || {};
            const n = Object.values(tally).reduce((s, x) => s + x, 0);
            for (const [k, v] of Object.entries(tally)) states[k] = Math.round((100 * v) / Math.max(1, n));
            out.push({ tid, cpu: (100 * (b.run - a.run)) / ns, runq: (100 * (b.wait - a.wait)) / ns, states });
        }
        return out.sort((x, y) => y.cpu + y.runq - (x.cpu + x.runq));
    }
}
// The storage thread (SQLite, one thread): never in epoll (unlike the I/O threads); among those, the one that
// commits (fdatasync/pwrite samples), else the busiest.
export function storageThread(threads) {
    const io = t => (t.states.epoll || 0) > 0;
    const commits = t => (t.states.fsync || 0) + (t.states.pwrite || 0) + (t.states.pread || 0);
    const candidates = threads.filter(t => !io(t));
    if (!candidates.length) return null;
    const withCommits = candidates.filter(t => commits(t) > 0);
    const pool = withCommits.length ? withCommits : candidates;
    return pool.reduce((best, t) => (t.cpu + t.runq > best.cpu + best.runq ? t : best));
}
