#!/usr/bin/env python3
"""bench/bulk/report.py - the bulk benchmark's table, from run's work dir.

    report.py --work DIR [--mx PATH] [--server ADDR]

Reads DIR/results.jsonl (one record per measured process, written by run),
the /usr/bin/time -v files, dnsperf's and mx's own summaries, checks every
mx output and adnshost output against DIR/data/truth (check.py), and prints
a Markdown table plus the target verdicts.  Each row is the median run by
wall time; the ceiling is the highest rate dnsperf reported in any run.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_time(path):
    """user+sys CPU seconds and peak RSS (KiB) from a `time -v` file."""
    out = {"cpu": None, "rss_kib": None}
    user = sys_ = 0.0
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().rpartition(": ")
            if k == "User time (seconds)":
                user = float(v)
            elif k == "System time (seconds)":
                sys_ = float(v)
            elif k == "Maximum resident set size (kbytes)":
                out["rss_kib"] = int(v)
    out["cpu"] = user + sys_
    return out


def dnsperf_qps(path):
    text = open(path, errors="replace").read()
    m = re.search(r"Queries per second:\s+([\d.]+)", text)
    lost = re.search(r"Queries lost:\s+(\d+)", text)
    return (float(m.group(1)) if m else None), (int(lost.group(1)) if lost else None)


def mx_summary(path):
    text = open(path, errors="replace").read()
    m = re.search(r"queries (\d+), retries (\d+), timeouts (\d+), address cache hits (\d+)", text)
    if not m:
        return {}
    return dict(zip(("queries", "retries", "timeouts", "cache_hits"), map(int, m.groups())))


def check(kind, truth, out):
    p = subprocess.run([sys.executable, os.path.join(HERE, "check.py"), kind, truth, out],
                       capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"mismatches": None, "error": p.stderr.strip()[-500:]}


def fmt_int(x):
    return "-" if x is None else f"{x:,.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--mx", default="mx")
    ap.add_argument("--server", default="?")
    args = ap.parse_args()
    W = args.work
    stats = json.load(open(os.path.join(W, "data", "stats")))
    n = stats["domains"]
    truth = os.path.join(W, "data", "truth")
    records = [json.loads(l) for l in open(os.path.join(W, "results.jsonl"))]

    rows = {}
    for r in records:
        r.update(read_time(r["time"]))
        r["wall"] = r["t1"] - r["t0"]
        out = r["time"][:-len(".time")] + ".out"
        if r["name"].startswith("dnsperf"):
            r["qps_tool"], r["lost"] = dnsperf_qps(out)
        elif r["name"].startswith("mx"):
            r.update(mx_summary(r["time"][:-len(".time")] + ".err"))
            r["check"] = check("mx", truth, out)
        elif r["name"].startswith("adnshost"):
            r["check"] = check("adns", truth, out)
            # The feeder's own CPU is not adnshost's: CPU and RSS of
            # adnshost alone, from the time file inside the feeder.
            outer = r["cpu"]
            r.update(read_time(r["time"][:-len(".time")] + ".adnstime"))
            r["feeder_cpu"] = outer - r["cpu"]
        rows.setdefault(r["name"], []).append(r)

    perf = [r for r in records if r["name"].startswith("dnsperf") and r.get("qps_tool")]
    ceiling = max((r["qps_tool"] for r in perf), default=None)

    def median_run(runs):
        runs = sorted(runs, key=lambda r: r["wall"])
        return runs[(len(runs) - 1) // 2]

    table = []
    summary = {}
    for name, runs in rows.items():
        m = median_run(runs)
        if name.startswith("dnsperf"):
            qps = statistics.median(r["qps_tool"] or 0 for r in runs)
            names = None
            queries = m["server_queries"]
        else:
            names = n / m["wall"]
            queries = m["server_queries"]
            qps = queries / m["wall"]
        bad = [r["check"].get("mismatches") for r in runs if "check" in r]
        row = {
            "name": name, "runs": len(runs), "wall": m["wall"], "names_s": names,
            "queries": queries, "qps": qps,
            "share": qps / ceiling if ceiling else None,
            "cpu": m["cpu"], "us_name": 1e6 * m["cpu"] / n, "rss_mib": m["rss_kib"] / 1024 if m["rss_kib"] else None,
            "mismatches": None if not bad else (None if None in bad else max(bad)),
            "rc": sorted({r["rc"] for r in runs}),
            "median": m,
        }
        summary[name] = row
        table.append(row)

    def label(name):
        if name == "mx":
            return "`mx route --bulk` (default, 1000)"
        if name.startswith("mx-c"):
            return f"`mx route --bulk --concurrency {name[4:]}`"
        if name.startswith("dnsperf-q"):
            return f"dnsperf MX, -q {name[9:]}"
        if name.startswith("adnshost-w"):
            return f"`adnshost -t mx`, {name[10:]} in flight"
        return f"`{name}`"

    order = sorted(table, key=lambda r: (not r["name"].startswith("dnsperf"),
                                         not r["name"].startswith("adnshost"),
                                         r["name"] != "mx",
                                         int(re.sub(r"\D", "", r["name"]) or 0)))
    print(f"bulk: {n:,} domains (seed {stats['seed']}, {stats['providers']:,} providers, "
          f"{stats['provider_hosts']:,} provider hosts), NSD on {args.server}, "
          f"{len(next(iter(rows.values())))} run(s) each, median by wall time")
    print(f"kinds: " + ", ".join(f"{k} {v:,}" for k, v in stats["kinds"].items()))
    load = [open(os.path.join(W, f)).read().strip() if os.path.exists(os.path.join(W, f))
            else "?" for f in ("load.before", "load.after")]
    print(f"load average before {load[0]}, after {load[1]} (2 vCPU: anything else running "
          f"inflates wall times)")
    print(f"ceiling (best dnsperf MX rate): {fmt_int(ceiling)} q/s\n")
    print("| tool | wall s | names/s | queries | q/s | of ceiling | CPU s | CPU µs/name "
          "| peak RSS MiB | wrong answers |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in order:
        wrong = r["mismatches"]
        if r["name"].startswith("adnshost") and "check" in r["median"]:
            c = r["median"]["check"]
            bd = sum(c.get("by_design", {}).values())
            wrong = f"{c.get('mismatches')} (+{bd:,} by design)"
        share = "-" if r["share"] is None else f"{100 * r['share']:.0f}%"
        us = "-" if r["names_s"] is None else f"{r['us_name']:.1f}"
        print(f"| {label(r['name'])} | {r['wall']:.2f} | {fmt_int(r['names_s'])} | "
              f"{fmt_int(r['queries'])} | {fmt_int(r['qps'])} | {share} | "
              f"{r['cpu']:.2f} | {us} | {r['rss_mib']:.1f} | {'-' if wrong is None else wrong} |")
    print()
    for name in sorted(summary):
        r = summary[name]
        m = r["median"]
        if name.startswith("mx"):
            print(f"{name}: mx counted {m.get('queries')} queries ({m.get('retries')} retries, "
                  f"{m.get('timeouts')} timeouts, {m.get('cache_hits')} address cache hits); "
                  f"NSD counted {m['server_queries']}; exit {r['rc']}; "
                  f"check {json.dumps(m['check'].get('by_status'))}")
            for ex in m["check"].get("examples", [])[:5]:
                print(f"  mismatch: {ex}")
        elif name.startswith("adnshost"):
            c = m["check"]
            print(f"{name}: feeder CPU {m['feeder_cpu']:.2f} s (not counted); {c.get('answers')} answers for {c.get('expected')} names, "
                  f"{c.get('agree')} agree with the truth, by design {json.dumps(c.get('by_design'))}, "
                  f"{c.get('mismatches')} mismatches; statuses {json.dumps(c.get('by_status'))}; "
                  f"NSD counted {m['server_queries']} queries; exit {r['rc']}")
            for ex in c.get("examples", [])[:5]:
                print(f"  mismatch: {ex}")
        elif name.startswith("dnsperf"):
            print(f"{name}: runs {[round(x['qps_tool'] or 0) for x in rows[name]]} q/s, "
                  f"lost {[x['lost'] for x in rows[name]]}")
    print()
    mx = summary.get("mx")
    ads = [s for k, s in summary.items() if k.startswith("adnshost")]
    ad = max(ads, key=lambda s: s["names_s"]) if ads else None
    if mx and ad:
        ratio = mx["names_s"] / ad["names_s"]
        print(f"names/s, mx (default) / best adnshost ({ad['name']}): {ratio:.2f}x "
              f"(target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
        best = max((s for k, s in summary.items() if k.startswith("mx")),
                   key=lambda s: s["names_s"])
        if best is not mx:
            print(f"names/s, best mx ({best['name']}) / best adnshost: "
                  f"{best['names_s'] / ad['names_s']:.2f}x")
        print(f"CPU per name, mx / adnshost: {mx['us_name']:.1f} / {ad['us_name']:.1f} us "
              f"= {mx['us_name'] / ad['us_name']:.2f}x")
    if mx and mx["share"] is not None:
        print(f"q/s, mx / ceiling: {100 * mx['share']:.0f}% (target >= 80%: "
              f"{'met' if mx['share'] >= 0.8 else 'NOT met'})")
    if mx:
        print(f"mx peak RSS: {mx['rss_mib']:.1f} MiB at {n:,} domains"
              + (f" (target < 64 MiB at 1,000,000: {'met' if mx['rss_mib'] < 64 else 'NOT met'})"
                 if n >= 1000000 else ""))
        print(f"mx correctness: {mx['mismatches']} wrong answers out of {n:,} "
              f"(all mx runs: {[s['mismatches'] for k, s in summary.items() if k.startswith('mx')]})")
    ok = all(s["mismatches"] == 0 for k, s in summary.items() if k.startswith("mx"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
