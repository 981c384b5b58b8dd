#!/usr/bin/env python3
"""`mx route` against a hostile DNS responder (hostile_dns.py).

The responder listens on 127.0.0.77 port 53 (UDP and TCP) inside the
sandbox's private network namespace and answers every question about
`<case>.hostile.test` with a reply that is broken, spoofed or odd on
purpose.  Every case runs on both transports (libunbound forwarding to
the responder, and the c-ares stub asking it directly), and all of them
together once more through `mx route --bulk`.

For every run: mx must not crash (exit 0, 68 or 75, never a signal, no
sanitizer report), must finish within --timeout plus a margin, must print
exactly one JSON plan, and the plan must be the right one:

  * malformed, spoofed or mismatched replies: tempfail, never ok with
    wrong data and never a permanent verdict (nxdomain, no-mail-host);
  * valid but odd replies: what RFC 5321 section 5.1 and RFC 7505 require.

Plans must never hold the responder's trap data: `spoof.*` hosts and the
address 127.0.0.66 (given only to names a correct router never asks:
spoofed exchanges, and the domains themselves, which only a router that
wrongly fell back to an implicit MX would look up).  The responder's query
log is checked too: a correct router never asks for a spoofed exchange,
an IP-literal exchange or an exchange that is not a host name.

Two cases have two right answers, recorded in the summary this test
prints: `fwdptr` (a compression pointer pointing forward, to a correct
name: RFC 1035 4.1.4 says pointers refer to a *prior* occurrence;
libunbound decodes it, mxkit's own parser rejects it) and `caseq` (the
reply's question differs only in letter case: names compare case-
insensitively, so using the answer is right, and so is dropping it).
`truncudp` may also end ok, but only with the full answer fetched again
over TCP, never with the partial UDP one.

Outside the sandbox the test skips (exit 77), or fails when
MX_REQUIRE_SANDBOX=1.  MX_BIN names the binary (build/src/mx).
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_dns  # noqa: E402

MX = os.environ.get("MX_BIN", "build/src/mx")
ADDRESS = "127.0.0.77"
TIMEOUT = 2.0          # --timeout given to mx
MARGIN = 1.5           # allowed beyond it (process start, libunbound set-up)
HANG = 20.0            # a run still going after this is a hang
TRANSPORTS = ["unbound", "stub"]
WORKERS = 12
BULK_GOOD_REPEATS = 50

EX_OK, EX_NOHOST, EX_TEMPFAIL = 0, 68, 75
EXIT_FOR = {"ok": EX_OK, "tempfail": EX_TEMPFAIL, "nxdomain": EX_NOHOST,
            "no-mail-host": EX_NOHOST, "null-mx": EX_NOHOST, "loop": EX_NOHOST}
TRAP = hostile_dns.TRAP_ADDR
GOOD = hostile_dns.GOOD_ADDR


def mx_domain(case):
    return case + ".hostile.test"


def addr_domain(case):
    return case + ".addr.hostile.test"


# ---- expectations: each returns a list of what is wrong with a plan ---------

def want_status(p, *allowed):
    if p["status"] not in allowed:
        return ["status %s, expected %s (reason: %s)"
                % (p["status"], " or ".join(allowed), p.get("reason"))]
    return []


def want_hosts(p, expected):
    """expected: [(host, preference, status, addresses (sorted) or None)]."""
    got = [(h["host"], h["preference"], h["status"],
            sorted(h["addresses"])) for h in p["hosts"]]
    exp = [(n, pref, st, sorted(a)) for n, pref, st, a in expected]
    if got != exp:
        return ["hosts %r, expected %r" % (got, exp)]
    return []


def tempfail_unused(p):
    """Malformed, spoofed or mismatched MX reply: tempfail, nothing used."""
    return want_status(p, "tempfail") + want_hosts(p, [])


def ok_with(*hosts):
    def check(p):
        return want_status(p, "ok") + want_hosts(p, list(hosts))
    return check


def ok_or_tempfail(ok_check, tempfail_check=tempfail_unused):
    """Either the full, right data or tempfail; nothing in between."""
    def check(p):
        if p["status"] == "tempfail":
            return tempfail_check(p)
        return ok_check(p)
    return check


def good_host(domain, pref=10, name="mx"):
    return ("%s.%s" % (name, domain), pref, "ok", [GOOD])


def check_good(p):
    errs = ok_with(good_host(p["domain"]))(p)
    if not errs and p["hosts"][0]["ttl"] != 300:
        errs.append("ttl %r, expected 300" % p["hosts"][0]["ttl"])
    return errs


def check_tc_full(p):
    d = p["domain"]
    return ok_with(good_host(d), good_host(d, 20, "mx2"))(p)


def check_many(p):
    errs = want_status(p, "ok")
    hosts = p["hosts"]
    if len(hosts) != hostile_dns.MANY:
        return errs + ["%d hosts, expected %d" % (len(hosts), hostile_dns.MANY)]
    exp = [("h%04d.many.hostile.test" % i, i) for i in range(1, hostile_dns.MANY + 1)]
    if [(h["host"], h["preference"]) for h in hosts] != exp:
        errs.append("hosts not h0001..h%04d in preference order" % hostile_dns.MANY)
    bad = [h["host"] for h in hosts if h["status"] != "ok" or h["addresses"] != [GOOD]]
    if bad:
        errs.append("%d hosts without their address, first %s" % (len(bad), bad[:3]))
    return errs


def check_nullmix(p):
    # RFC 7505 3: a null MX must stand alone; mxkit ignores the "." entry,
    # uses the others and reports null-mx-mixed (documented choice).
    errs = ok_with(good_host(p["domain"]))(p)
    if "null-mx-mixed" not in p["problems"]:
        errs.append("problems %r lack null-mx-mixed" % p["problems"])
    return errs


def check_ipliteral(p):
    # RFC 5321 5.1: the exchange must be a host name; 192.0.2.1 is never dialled.
    errs = ok_with(("192.0.2.1", 10, "ip-literal", []), good_host(p["domain"], 20))(p)
    if p["hosts"] and "ip-literal-target" not in p["hosts"][0]["problems"]:
        errs.append("ip-literal host lacks ip-literal-target")
    return errs


def check_exchnul(p):
    # An exchange with a NUL byte and a "." inside labels is no host name:
    # dropped unresolved, never cut at the NUL or split at the dot.
    errs = want_status(p, "ok")
    hosts = p["hosts"]
    if len(hosts) != 2:
        return errs + ["hosts %r, expected the bad name and mx" % [h["host"] for h in hosts]]
    bad, good = hosts
    if bad["preference"] != 10 or bad["status"] != "bad-name" or bad["addresses"]:
        errs.append("NUL exchange: %r, expected preference 10, bad-name, no address" % bad)
    if "evil" not in bad["host"] or not bad["host"].startswith("mx\\"):
        errs.append("NUL exchange shown as %r: cut or unescaped" % bad["host"])
    if "bad-hostname" not in bad["problems"]:
        errs.append("NUL exchange lacks bad-hostname")
    errs += want_hosts({"hosts": [good]}, [good_host(p["domain"], 20)])
    return errs


def check_ttlbig(p):
    # RFC 2181 8: a TTL with the top bit set is zero.
    errs = ok_with(good_host(p["domain"]))(p)
    if not errs and p["hosts"][0]["ttl"] != 0:
        errs.append("ttl %r, expected 0" % p["hosts"][0]["ttl"])
    return errs


GLUE_ADDR = "127.0.0.82"   # the in-bailiwick exchange's address in the additional section


def check_glue(p):
    # mx.glue.hostile.test: from the additional section (stub) or asked
    # (libunbound: it validates what it is asked, so mx does not use glue
    # there); mx.other.hostile.test is outside glue.hostile.test, so its
    # additional address (the trap) is never taken: always asked.
    host = "mx." + p["domain"]
    other = ("mx.other.hostile.test", 20, "ok", [GOOD])
    errs = ok_with((host, 10, "ok", [GLUE_ADDR]), other)(p)
    return errs if errs and ok_with((host, 10, "ok", [GOOD]), other)(p) else []


def check_nxans(p):
    return want_status(p, "nxdomain") + want_hosts(p, [])


MX_CASES = {
    "good": check_good,
    "selfptr": tempfail_unused,
    "ptrloop": tempfail_unused,
    "fwdptr": ok_or_tempfail(check_good),
    "ptrpastend": tempfail_unused,
    "endc0": tempfail_unused,
    "badlabel": tempfail_unused,
    "noterm": tempfail_unused,
    "qselfptr": tempfail_unused,
    "rdlenlong": tempfail_unused,
    "rdlen8000": tempfail_unused,
    "mxshort": tempfail_unused,
    "ancount": tempfail_unused,
    "qd0": tempfail_unused,
    "qd2": tempfail_unused,
    "truncudp": ok_or_tempfail(check_tc_full),
    "tconly": check_tc_full,
    "tcpclose": tempfail_unused,
    "zerolen": tempfail_unused,
    "wrongid": tempfail_unused,
    "wrongq": tempfail_unused,
    "wrongtype": tempfail_unused,
    "caseq": ok_or_tempfail(check_good),
    "wrongport": tempfail_unused,
    "dupe": check_good,
    "many": check_many,
    "nullmix": check_nullmix,
    "ipliteral": check_ipliteral,
    "exchnul": check_exchnul,
    "cnameloop": tempfail_unused,
    "servfailans": tempfail_unused,
    "nxans": check_nxans,
    "ttlbig": check_ttlbig,
    "glue": check_glue,
    "qr0": tempfail_unused,
    "opcode": tempfail_unused,
    "optanswer": tempfail_unused,
    "garbage": tempfail_unused,
    "garbagetail": tempfail_unused,
}
assert sorted(MX_CASES) == sorted(hostile_dns.MX_BEHAVIOURS)


def addr_tempfail(p):
    """The only exchange's A reply is hostile (its AAAA is NODATA): the
    host failed for now, so the domain is tempfail, never no-mail-host."""
    host = "mx." + p["domain"]
    return want_status(p, "tempfail") + want_hosts(p, [(host, 10, "tempfail", [])])


def addr_ok(*addrs):
    def check(p):
        return ok_with(("mx." + p["domain"], 10, "ok", list(addrs)))(p)
    return check


ADDR_CASES = {b: addr_tempfail for b in hostile_dns.ADDR_BEHAVIOURS}
ADDR_CASES.update({
    "good": addr_ok(GOOD),
    "truncudp": ok_or_tempfail(addr_ok(GOOD, "127.0.0.82"), addr_tempfail),
    "tconly": addr_ok(GOOD, "127.0.0.82"),
    "dupe": addr_ok(GOOD),
})


def all_cases():
    """(domain, check) of every case, MX-level then address-level."""
    return [(mx_domain(c), f) for c, f in MX_CASES.items()] + \
        [(addr_domain(c), f) for c, f in ADDR_CASES.items()]


# ---- running mx -----------------------------------------------------------

class Run:
    """One `mx route` process and what it left behind."""

    def __init__(self, args, stdin=None):
        self.args = args
        start = time.monotonic()
        try:
            p = subprocess.run(args, input=stdin, capture_output=True, text=True,
                               timeout=HANG, errors="replace")
            self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
            self.hang = False
        except subprocess.TimeoutExpired as e:
            self.rc, self.hang = None, True
            self.out = e.stdout.decode(errors="replace") if e.stdout else ""
            self.err = e.stderr.decode(errors="replace") if e.stderr else ""
        self.elapsed = time.monotonic() - start

    def crash_problems(self):
        errs = []
        if self.hang:
            errs.append("hang: still running after %.0f s (killed)" % HANG)
        elif self.rc < 0:
            errs.append("killed by signal %d" % -self.rc)
        elif self.rc not in (EX_OK, EX_NOHOST, EX_TEMPFAIL):
            errs.append("exit status %d" % self.rc)
        for marker in ("Sanitizer", "runtime error:", "LeakSanitizer", "Segmentation"):
            if marker in self.err:
                errs.append("sanitizer/crash report on stderr")
                break
        return errs

    def describe(self):
        return "$ %s\n  rc=%s elapsed=%.2fs\n  stdout: %s\n  stderr: %s" % (
            " ".join(self.args), self.rc, self.elapsed, self.out[:1500].rstrip(),
            self.err[-3000:].rstrip())


def route_args(transport, *extra):
    return [MX, "route", "--json", "--transport", transport, "--resolver", ADDRESS,
            "--trust-anchor", "none", "--timeout", str(TIMEOUT)] + list(extra)


def common_problems(p, domain):
    """What no plan may ever hold, whatever the case."""
    errs = []
    if p.get("domain") != domain:
        errs.append("plan for %r, expected %r" % (p.get("domain"), domain))
    if p.get("implicit_mx"):
        errs.append("implicit MX: a bad MX reply was taken for NODATA")
    for h in p.get("hosts", []):
        if h["host"].startswith("spoof."):
            errs.append("spoofed host %s used" % h["host"])
        if TRAP in h["addresses"]:
            errs.append("trap address %s on %s" % (TRAP, h["host"]))
    return errs


def single_run_problems(run, domain, check):
    errs = run.crash_problems()
    if run.hang:
        return errs
    if run.elapsed > TIMEOUT + MARGIN:
        errs.append("took %.2f s with --timeout %g" % (run.elapsed, TIMEOUT))
    lines = run.out.splitlines()
    if len(lines) != 1:
        return errs + ["%d lines of output, expected one JSON plan" % len(lines)]
    try:
        p = json.loads(lines[0])
    except ValueError as e:
        return errs + ["output is not JSON: %s" % e]
    if run.rc in (EX_OK, EX_NOHOST, EX_TEMPFAIL) and EXIT_FOR.get(p["status"]) != run.rc:
        errs.append("exit %d for status %s" % (run.rc, p["status"]))
    return errs + common_problems(p, domain) + check(p)


def plan_of(run):
    try:
        return json.loads(run.out.splitlines()[0])
    except (ValueError, IndexError):
        return None


# ---- the run of everything, shared by the tests ---------------------------

SERVER = None
RUNS = {}            # (domain, transport) -> Run
BULK = None          # Run
BULK_LINES = []


def run_everything():
    global BULK
    jobs = [(d, t) for d, _ in all_cases() for t in TRANSPORTS]
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = {pool.submit(Run, route_args(t, d)): (d, t) for d, t in jobs}
        for f in concurrent.futures.as_completed(futures):
            RUNS[futures[f]] = f.result()
    BULK_LINES.extend([d for d, _ in all_cases()] +
                      [mx_domain("good")] * BULK_GOOD_REPEATS)
    BULK = Run([MX, "route", "--bulk", "--resolver", ADDRESS, "--trust-anchor", "none",
                "--timeout", str(TIMEOUT), "-"], stdin="".join(l + "\n" for l in BULK_LINES))


def forbidden_queries(domain):
    """Queries no correct router sends while routing domain."""
    bad = []
    for transport, name, qtype in SERVER.queries():
        if name.endswith("." + domain) and name.startswith("spoof."):
            bad.append((transport, name, qtype, "spoofed exchange"))
        elif name == domain and qtype in (1, 28):
            bad.append((transport, name, qtype, "implicit-MX fallback"))
    if domain == mx_domain("ipliteral"):
        bad += [(t, n, q, "IP-literal exchange") for t, n, q in SERVER.queries()
                if n.startswith("192.0.2.1")]
    if domain == mx_domain("exchnul"):
        bad += [(t, n, q, "exchange with NUL") for t, n, q in SERVER.queries()
                if "evil" in n]
    return bad


class Hostile(unittest.TestCase):
    maxDiff = None

    def check_run(self, domain, transport, check):
        run = RUNS[(domain, transport)]
        errs = single_run_problems(run, domain, check)
        if errs:
            self.fail("%s over %s:\n  - %s\n%s" % (domain, transport,
                      "\n  - ".join(errs), run.describe()))

    def test_query_log(self):
        """No spoofed, IP-literal or bad exchange was ever looked up."""
        bad = []
        for domain, _ in all_cases():
            bad += forbidden_queries(domain)
        if bad:
            self.fail("forbidden queries:\n" + "\n".join(map(repr, bad)))

    def test_truncated_cases_went_to_tcp(self):
        """The truncation cases really went to TCP."""
        log = SERVER.queries(mx_domain("tconly"))
        self.assertTrue(any(t == "tcp" for t, _, _ in log), log)
        self.assertTrue(any(t == "tcp" for t, _, _ in SERVER.queries(mx_domain("many"))))

    def bulk_plans(self):
        run = BULK
        lines = run.out.splitlines()
        self.assertEqual(len(lines), len(BULK_LINES), run.describe())
        plans = {}
        for line in lines:
            p = json.loads(line)
            plans.setdefault(p["domain"], []).append(p)
        self.assertEqual(sorted(plans), sorted(set(BULK_LINES)))
        self.assertEqual(len(plans[mx_domain("good")]), BULK_GOOD_REPEATS + 1)
        return plans

    def test_bulk_runs(self):
        """--bulk with every case at once: no crash, in time, one JSON line per line."""
        run = BULK
        self.assertEqual(run.crash_problems(), [], run.describe())
        self.assertEqual(run.rc, EX_OK, run.describe())
        self.assertLess(run.elapsed, TIMEOUT + 3 * MARGIN, run.describe())
        self.bulk_plans()

    def test_glue_used_by_the_stub(self):
        """The stub (alone and in --bulk) takes the in-bailiwick exchange's
        address from the additional section; the other one it asks."""
        domain = mx_domain("glue")
        plans = [plan_of(RUNS[(domain, "stub")])] + self.bulk_plans()[domain]
        for p in plans:
            self.assertIsNotNone(p)
            self.assertEqual([(h["host"], h["addresses"]) for h in p["hosts"]],
                             [("mx." + domain, [GLUE_ADDR]),
                              ("mx.other.hostile.test", [GOOD])], json.dumps(p))

    def test_bulk_plans(self):
        """--bulk gives every case the plan it gets alone (stub transport):
        one hostile reply must not change the plans of other domains (for
        instance a resolver closing a TCP connection, case tcpclose, must
        not fail the queries of other domains in flight)."""
        plans = self.bulk_plans()
        problems = []
        for domain, check in all_cases():
            single = plan_of(RUNS[(domain, "stub")])
            for p in plans[domain]:
                errs = common_problems(p, domain) + check(p)
                if single is not None and p["status"] != single["status"]:
                    errs.append("status %s in bulk, %s alone (stub)"
                                % (p["status"], single["status"]))
                if errs:
                    problems.append("%s: %s\n    %s" % (domain, "; ".join(errs),
                                                        json.dumps(p)[:600]))
        if problems:
            self.fail("%d of %d bulk plans differ:\n%s"
                      % (len(problems), len(BULK_LINES), "\n".join(problems)))


def add_tests():
    for domain, check in all_cases():
        for transport in TRANSPORTS:
            name = "test_%s_%s" % (domain.replace(".hostile.test", "").replace(".", "_"),
                                   transport)

            def t(self, domain=domain, transport=transport, check=check):
                self.check_run(domain, transport, check)
            t.__doc__ = "%s over %s" % (domain, transport)
            setattr(Hostile, name, t)


add_tests()


class StubQueries(unittest.TestCase):
    """What the stub transport puts on the wire: queries padded to 128
    bytes (EDNS padding, so a batch goes out as one segmented send), and
    without EDNS to a server that answers FORMERR to it (RFC 6891 7)."""

    def run_stub(self, *domains, bulk=False):
        args = [MX, "route", "--json", "--transport", "stub", "--resolver", ADDRESS,
                "--timeout", str(TIMEOUT)]
        if bulk:
            run = Run(args + ["--bulk"], stdin="".join(d + "\n" for d in domains))
        else:
            run = Run(args + ["--trust-anchor", "none"] + list(domains))
        self.assertEqual(run.crash_problems(), [], run.describe())
        return run, [json.loads(line) for line in run.out.splitlines()]

    def assert_good_plan(self, p, domain):
        self.assertEqual(p["domain"], domain, json.dumps(p))
        self.assertEqual(p["status"], "ok", json.dumps(p))
        self.assertEqual([(h["host"], h["addresses"]) for h in p["hosts"]],
                         [("mx." + domain, [GOOD])], json.dumps(p))

    def test_queries_padded(self):
        # Names of 12 lengths, one of them long enough for a query of more
        # than 128 bytes (padded to 256).
        domains = ["p%d%s.edns.hostile.test" % (i, "x" * (i * 5)) for i in range(11)]
        domains.append("p%s.q%s.edns.hostile.test" % ("x" * 60, "y" * 60))
        run, plans = self.run_stub(*domains, bulk=True)
        self.assertEqual(run.rc, EX_OK, run.describe())
        self.assertEqual(sorted(p["domain"] for p in plans), sorted(domains))
        for p in plans:
            self.assert_good_plan(p, p["domain"])
        names = set(domains) | {"mx." + d for d in domains}
        seen = [e for e in SERVER.sizes if e[0] in names]
        self.assertEqual(len(seen), 3 * len(domains))  # MX, A, AAAA
        self.assertIn(256, [length for _, _, length, _ in seen])
        for name, qtype, length, arcount in seen:
            self.assertEqual(arcount, 1, (name, qtype))
            self.assertEqual(length % 128, 0, (name, qtype, length))

    def test_fallback_without_edns(self):
        domain = "alone.noedns.hostile.test"
        run, plans = self.run_stub(domain)
        self.assertEqual(run.rc, EX_OK, run.describe())
        self.assert_good_plan(plans[0], domain)
        mx = [(length, arcount) for name, qtype, length, arcount in SERVER.sizes
              if name == domain and qtype == hostile_dns.T_MX]
        self.assertIn(0, [a for _, a in mx], mx)   # asked again without OPT
        self.assertIn(1, [a for _, a in mx], mx)   # after the first, with it

    def test_fallback_in_bulk(self):
        domains = ["b%d.noedns.hostile.test" % i for i in range(40)]
        run, plans = self.run_stub(*domains, bulk=True)
        self.assertEqual(run.rc, EX_OK, run.describe())
        self.assertEqual(sorted(p["domain"] for p in plans), sorted(domains))
        for p in plans:
            self.assert_good_plan(p, p["domain"])


def summary():
    rows = []
    for domain, _ in all_cases():
        cells = []
        for t in TRANSPORTS:
            run = RUNS.get((domain, t))
            p = plan_of(run) if run else None
            cell = "hang" if run is None or run.hang else \
                ("signal %d" % -run.rc if run.rc < 0 else
                 "%s (%.1fs)" % (p["status"] if p else "rc %d" % run.rc, run.elapsed))
            cells.append(cell)
        rows.append("  %-26s %-22s %s" % (domain.replace(".hostile.test", ""), *cells))
    return "case                       unbound                stub\n" + "\n".join(rows)


def main():
    global SERVER
    if os.environ.get("MX_SANDBOX") != "1":
        if os.environ.get("MX_REQUIRE_SANDBOX") == "1":
            print("not in the sandbox: run via tests/sandbox/sandbox run", file=sys.stderr)
            return 1
        print("SKIP: not in the sandbox (tests/sandbox/sandbox run ...)")
        return 77
    started = time.monotonic()
    with hostile_dns.HostileServer(ADDRESS, 53) as SERVER:
        run_everything()
        print("ran %d cases x %d transports and one bulk run in %.1f s (responder seed %d)"
              % (len(all_cases()), len(TRANSPORTS), time.monotonic() - started, SERVER.seed),
              file=sys.stderr)
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    print(summary(), file=sys.stderr)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
