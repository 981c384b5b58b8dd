#!/usr/bin/env python3
"""bench/bulk/check.py - checks answers against gen.py's truth.

    check.py mx   TRUTH MX_JSONL     every `mx route --bulk` line
    check.py adns TRUTH ADNS_OUT     adnshost --asynch output (-Fa format)

Prints one JSON object (counts, and the first few mismatches) on stdout.
Exit status 0 when the answers agree with the truth (for adns: wherever
adnshost's job overlaps mx's, see below), 1 otherwise.

mx: each input domain must appear exactly once, with the right status,
implicit_mx flag, no domain-level problems, and hosts in preference order:
the same preferences in the same order, the same set of host names at each
preference (the order inside one preference is random by design), the same
set of addresses per host, and host status "ok" exactly when it has one.

adns (-t mx: MX records plus the addresses of each exchange, from the
additional section or from its own A/AAAA queries) has no implicit MX and
no null MX: for a domain without MX it reports "nodata", for "MX 0 ." a
host named "." whose address lookup fails.  Those are counted apart
("by design"), not as mismatches; everything else must match the truth
like mx's answers do (status ok/nxdomain, hosts, addresses).
"""
import ipaddress
import json
import re
import sys

MAX_SHOWN = 10


def norm_addrs(addrs):
    return sorted(str(ipaddress.ip_address(a)) for a in addrs)


def groups(hosts):
    """[(pref, {host: sorted addrs})] in order, from [(pref, host, addrs)]."""
    out = []
    for pref, host, addrs in hosts:
        if not out or out[-1][0] != pref:
            out.append((pref, {}))
        out[-1][1][host.rstrip(".").lower()] = norm_addrs(addrs)
    return out


def load_truth(path):
    truth = {}
    order = []
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            truth[t["domain"]] = t
            order.append(t["domain"])
    return truth, order


def check_mx(truth, path):
    seen = set()
    bad = []
    lines = 0
    by_status = {}

    def mismatch(domain, why):
        if len(bad) < MAX_SHOWN:
            bad.append(f"{domain}: {why}")
        return 1

    n_bad = 0
    with open(path) as f:
        for line in f:
            lines += 1
            try:
                got = json.loads(line)
            except ValueError:
                n_bad += mismatch("?", f"line {lines} is not JSON")
                continue
            d = got.get("domain", "?")
            by_status[got.get("status")] = by_status.get(got.get("status"), 0) + 1
            t = truth.get(d)
            if t is None:
                n_bad += mismatch(d, "not in the input")
                continue
            if d in seen:
                n_bad += mismatch(d, "answered twice")
                continue
            seen.add(d)
            if got.get("status") != t["status"]:
                n_bad += mismatch(d, f"status {got.get('status')}, expected {t['status']}")
                continue
            if bool(got.get("implicit_mx")) != bool(t.get("implicit_mx")):
                n_bad += mismatch(d, f"implicit_mx {got.get('implicit_mx')}")
                continue
            if got.get("problems"):
                n_bad += mismatch(d, f"problems {got.get('problems')}")
                continue
            hosts = got.get("hosts") or []
            want = groups(t["hosts"])
            have = groups((h["preference"], h["host"], h.get("addresses") or [])
                          for h in hosts)
            if have != want:
                n_bad += mismatch(d, f"hosts {have}, expected {want}")
                continue
            wrong = [h["host"] for h in hosts
                     if (h.get("status") == "ok") != bool(h.get("addresses"))]
            if wrong:
                n_bad += mismatch(d, f"host status wrong for {wrong}")
    missing = len(truth) - len(seen)
    if missing:
        n_bad += missing
        for d in truth:
            if d not in seen:
                mismatch(d, "no answer")
                if len(bad) >= MAX_SHOWN:
                    break
    return {"tool": "mx", "lines": lines, "expected": len(truth),
            "mismatches": n_bad, "by_status": by_status, "examples": bad}, n_bad == 0


HEADER = re.compile(r'^(\d+) (\d+) (\S+) (\d+) (\S+) (\S+) (\S+) "')
MX_RR = re.compile(r'^(\S+) MX (\d+) (\S+) (\S+) (\d+) (\S+) "[^"]*" (.*)$')


def parse_adns(path, order):
    """{domain: (statusabbrev, [(pref, host, addrs, host_status)])}."""
    out = {}
    with open(path, errors="replace") as f:
        it = iter(f)
        for line in it:
            m = HEADER.match(line)
            if not m:
                continue
            qid, nrrs, status = int(m.group(1)), int(m.group(2)), m.group(5)
            rrs = []
            for _ in range(nrrs):
                rr = next(it, "")
                r = MX_RR.match(rr.rstrip("\n"))
                if not r:
                    rrs.append((None, rr.strip(), [], "unparsed"))
                    continue
                tail = r.group(7).strip()
                addrs = re.findall(r"INET6? (\S+)", tail) if tail.startswith("(") else []
                rrs.append((int(r.group(2)), r.group(3), addrs, r.group(6)))
            if qid < len(order):
                out[order[qid]] = (status, rrs)
    return out


def check_adns(truth, order, path):
    got = parse_adns(path, order)
    n_bad = 0
    bad = []
    by_design = {"implicit-mx (adns: nodata)": 0, "null-mx (adns: host \".\")": 0}
    by_status = {}
    agree = 0
    for d in order:
        t = truth[d]
        status, rrs = got.get(d, ("missing", []))
        by_status[status] = by_status.get(status, 0) + 1
        ok = False
        if t.get("implicit_mx"):
            if status == "nodata":
                by_design["implicit-mx (adns: nodata)"] += 1
                continue
        elif t["status"] == "null-mx":
            if status == "ok" and [r[1] for r in rrs] == ["."]:
                by_design["null-mx (adns: host \".\")"] += 1
                continue
        elif t["status"] == "nxdomain":
            ok = status == "nxdomain"
        elif status == "ok":
            rrs = sorted(rrs, key=lambda r: (r[0] is None, r[0] or 0))
            ok = groups((p, h, a) for p, h, a, _ in rrs) == groups(t["hosts"])
        if ok:
            agree += 1
        else:
            n_bad += 1
            if len(bad) < MAX_SHOWN:
                bad.append(f"{d}: adns {status} {rrs}, expected {t['status']} {t['hosts']}")
    return {"tool": "adnshost", "answers": len(got), "expected": len(truth),
            "agree": agree, "by_design": by_design, "mismatches": n_bad,
            "by_status": by_status, "examples": bad}, n_bad == 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("mx", "adns"):
        sys.exit(__doc__.split("\n\n")[1])
    truth, order = load_truth(sys.argv[2])
    if sys.argv[1] == "mx":
        res, ok = check_mx(truth, sys.argv[3])
    else:
        res, ok = check_adns(truth, order, sys.argv[3])
    print(json.dumps(res))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
