#!/usr/bin/env python3
"""compare.py [--mem session-mem.txt] pass1.csv [pass2.csv ...]

Reads perf/bench.sh CSVs holding rows tagged `ts-sdk` (the TypeScript reference) and `rollout-mcp`
and prints one markdown table: per (request, connections) the median over passes of req/s, p50 and
p99 for both, the req/s ratio (rollout-mcp / ts-sdk) and the p99 ratio, plus errors. With --mem,
adds the per-idle-session memory from perf/session-mem.sh lines ("<tag> sessions_opened=... ").
Rows tagged `rollout-mcp-tls` (run.sh --tls) get a second table: TLS against plain HTTP, same server."""
import csv
import statistics
import sys

REF, OURS, TLS = "ts-sdk", "rollout-mcp", "rollout-mcp-tls"
ORDER = ["ping", "tools_list", "echo", "sync_tour", "initialize"]

args = sys.argv[1:]
mem_file = None
if "--mem" in args:
    i = args.index("--mem")
    mem_file = args[i + 1]
    del args[i:i + 2]

cells = {}
for path in args:
    with open(path) as fh:
        for row in csv.DictReader(fh):
            cells.setdefault((row["req"], int(row["conns"])), {}).setdefault(row["tag"], []).append(row)


def med(rows, key):
    return statistics.median(float(r[key]) for r in rows) if rows else None


def ms(us):
    return "-" if us is None else f"{us / 1000:.2f}"


def num(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.1f}x"


def problems(rows):
    if not rows:
        return "-"
    errs = sum(int(r["errors"]) + int(r["non2xx"]) for r in rows)
    bad = sum(int(r["bad"]) for r in rows)
    return f"{errs}/{bad}"


passes = max((len(v) for c in cells.values() for v in c.values()), default=0)
print(f"### rollout-mcp vs TypeScript SDK reference (median of {passes} pass(es); server on CPU 0, wrk on CPU 1)")
print()
print("| request | conns | TS SDK req/s | rollout-mcp req/s | req/s ratio | TS p50 ms | ours p50 ms | TS p99 ms | ours p99 ms | p99 ratio (TS/ours) | errors/bad bodies (TS; ours) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (req, conns) in sorted(cells, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1])):
    if not cells[(req, conns)].get(REF) and not cells[(req, conns)].get(OURS):
        continue
    ref = cells[(req, conns)].get(REF, [])
    ours = cells[(req, conns)].get(OURS, [])
    r_rps, o_rps = med(ref, "rps"), med(ours, "rps")
    r_p99, o_p99 = med(ref, "p99_us"), med(ours, "p99_us")
    print(f"| {req} | {conns} | {num(r_rps)} | {num(o_rps)} | {ratio(o_rps, r_rps)} | {ms(med(ref, 'p50_us'))} | "
          f"{ms(med(ours, 'p50_us'))} | {ms(r_p99)} | {ms(o_p99)} | {ratio(r_p99, o_p99)} | {problems(ref)}; {problems(ours)} |")

tls_cells = sorted((k for k, v in cells.items() if v.get(TLS)),
                   key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1]))
if tls_cells:
    print()
    print("### rollout-mcp over TLS vs plain HTTP (kept-alive connections, same server and machine)")
    print()
    print("| request | conns | plain req/s | TLS req/s | TLS/plain req/s | plain p99 ms | TLS p99 ms | p99 ratio (TLS/plain) | errors/bad bodies (plain; TLS) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (req, conns) in tls_cells:
        plain = cells[(req, conns)].get(OURS, [])
        tls = cells[(req, conns)].get(TLS, [])
        p_rps, t_rps = med(plain, "rps"), med(tls, "rps")
        p_p99, t_p99 = med(plain, "p99_us"), med(tls, "p99_us")
        print(f"| {req} | {conns} | {num(p_rps)} | {num(t_rps)} | {ratio(t_rps, p_rps)} | {ms(p_p99)} | {ms(t_p99)} | "
              f"{ratio(t_p99, p_p99)} | {problems(plain)}; {problems(tls)} |")

if mem_file:
    rows = []
    with open(mem_file) as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            rows.append((parts[0], kv))
    if rows:
        print()
        print("| server | idle sessions opened | RSS before MiB | RSS after (5 s idle) MiB | KiB per idle session |")
        print("|---|---|---|---|---|")
        for tag, kv in rows:
            before = float(kv.get("rss_before_kb", 0))
            after = float(kv.get("rss_after_idle5s_kb", 0))
            print(f"| {tag} | {kv.get('sessions_opened', '-')} | {before / 1024:.1f} | {after / 1024:.1f} | {kv.get('rss_per_session_kb', '-')} |")
