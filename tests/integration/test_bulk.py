#!/usr/bin/env python3
"""Integration tests of `mx route --bulk` against the sandbox's servers.

The bulk path must give the same plans as `mx route` (same routing code,
different transport), one JSON line per domain line, never stop on a bad
line, stream its input with memory bounded by --concurrency, and say what
it did in a summary on stderr.  Skips outside the sandbox unless
MX_REQUIRE_SANDBOX=1.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")

NAMES = ["basic.test", "equal.test", "implicit.test", "noaddr-implicit.test",
         "nosuch.test", "nullmx.test", "nullmx-mixed.test", "nullmx-pref.test",
         "cname-target.test", "ip-literal.test", "noaddr.test", "partial.test",
         "alltemp.test", "alias.test", "self.test", "dup.test", "lame.test",
         "big.test", "v6only.test", "mixed.test", "badname.test", "ttl.test",
         "signed.test", "bogus.test"]


def bulk(text, *args, timeout=120, env=None):
    """Runs `mx route --bulk` on text; returns (exit, [plans], stderr)."""
    cmd = [MX, "route", "--bulk", "--resolver", RESOLVER, "--seed", "5"] + list(args)
    p = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def comparable(plan):
    """A plan without the fields that legitimately vary between runs."""
    plan = dict(plan)
    plan["hosts"] = [{k: v for k, v in h.items() if k != "ttl"} for h in plan["hosts"]]
    return plan


class Bulk(unittest.TestCase):

    def test_same_plans_as_mx_route(self):
        rc, plans, _ = bulk("\n".join(NAMES) + "\n", "--timeout", "3")
        self.assertEqual(rc, 0)
        got = {p["domain"]: comparable(p) for p in plans}
        self.assertEqual(sorted(got), sorted(NAMES))
        r = subprocess.run([MX, "route", "--json", "--transport", "stub", "--resolver",
                            RESOLVER, "--seed", "5", "--timeout", "3"] + NAMES,
                           capture_output=True, text=True, timeout=60)
        for line in r.stdout.splitlines():
            want = comparable(json.loads(line))
            self.assertEqual(got[want["domain"]], want, want["domain"])

    def test_comments_blanks_invalid_lines(self):
        text = ("# a list of domains\n\n  basic.test  \nuser@Implicit.TEST.\n"
                "bad..name\nnosuch.test # trailing comment\n" + "x" * 5000 + "\n"
                "exa mple.test\nnullmx.test\r\n")
        rc, plans, err = bulk(text)
        self.assertEqual(rc, 0)
        by = {p["domain"]: p for p in plans}
        self.assertEqual(len(plans), 7)
        self.assertEqual(by["basic.test"]["status"], "ok")
        self.assertEqual(by["implicit.test"]["status"], "ok")
        self.assertEqual(by["nosuch.test"]["status"], "nxdomain")
        self.assertEqual(by["nullmx.test"]["status"], "null-mx")
        invalid = [p for p in plans if p["status"] == "invalid"]
        self.assertEqual(len(invalid), 3)
        self.assertIn("line 5", by["bad..name"]["reason"])
        self.assertTrue(any("longer than 4096" in p["reason"] for p in invalid))
        self.assertIn("exa mple.test", by)
        self.assertRegex(err, r"7 lines .*ok 2, null-mx 1, nxdomain 1.*invalid 3")

    def test_concurrency_does_not_change_plans(self):
        text = "\n".join(NAMES * 2) + "\n"
        _, one, _ = bulk(text, "--concurrency", "1", "--timeout", "3")
        _, many, _ = bulk(text, "--concurrency", "500", "--timeout", "3")
        key = lambda p: (p["domain"], json.dumps(comparable(p), sort_keys=True))
        self.assertEqual(sorted(map(key, one)), sorted(map(key, many)))
        self.assertEqual(len(one), 2 * len(NAMES))

    def test_file_argument_and_stdin(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("basic.test\nimplicit.test\n")
        try:
            p = subprocess.run([MX, "route", "--bulk", "--resolver", RESOLVER, f.name],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0)
            self.assertEqual(len(p.stdout.splitlines()), 2)
        finally:
            os.unlink(f.name)
        rc, plans, _ = bulk("basic.test\n", "-")
        self.assertEqual((rc, len(plans)), (0, 1))

    def test_many_lines_stream_with_shared_host_cache(self):
        # 20,000 lines over the sandbox's names: every line answered, the
        # address cache used, and memory bounded by the concurrency.
        names = [n for n in NAMES if n not in ("lame.test", "alltemp.test", "partial.test",
                                              "big.test")]
        lines = [names[i % len(names)] for i in range(20000)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # Under ASan, freed memory waits in a quarantine of up to 256 MB
        # before reuse, so RSS would show how much the run freed, not how
        # much it holds; a small quarantine keeps the bound meaningful.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "quarantine_size_mb=16"]))
        rc, plans, err = bulk("\n".join(lines) + "\n", "--concurrency", "200", timeout=300,
                              env=env)
        self.assertEqual(rc, 0)
        self.assertEqual(len(plans), 20000)
        counts = {}
        for p in plans:
            counts[p["domain"]] = counts.get(p["domain"], 0) + 1
        self.assertEqual(sorted(counts), sorted(names))
        self.assertLessEqual(set(counts.values()), {20000 // len(names), 20000 // len(names) + 1})
        self.assertEqual([p for p in plans if p["domain"] == "basic.test"][0]["status"], "ok")
        hits = int(err.split("address cache hits ")[1].split()[0])
        self.assertGreater(hits, 10000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertLess(max(before, after), 200 * 1024)  # KiB; ASan doubles RSS

    # 127.0.0.96 port 53: nothing listens there, so the kernel answers
    # each query with an ICMP "port unreachable" and the connected UDP
    # socket reports ECONNREFUSED, to a batched send (stub_io.c) as well
    # as to a read.  127.0.0.97 is dropped on the sandbox's output hook:
    # the send alone fails (EPERM) and nothing ever comes back, so only
    # stub_io.c's report of a failed batched send tells c-ares.
    DEAD = "127.0.0.96@53"
    FORBIDDEN = "127.0.0.97@53"
    MANY = "basic.test\nimplicit.test\nnosuch.test\n" + "equal.test\n" * 200

    def test_refused_resolver_fails_over_at_once(self):
        for bad in (self.DEAD, self.FORBIDDEN):
            with self.subTest(bad=bad):
                self.fails_over_at_once(bad)

    def fails_over_at_once(self, bad):
        # The failure reaches c-ares, which moves every query to the next
        # server at once: no waiting out timeouts.
        start = time.monotonic()
        p = subprocess.run([MX, "route", "--bulk", "--timeout", "5", "--resolver", bad,
                            "--resolver", RESOLVER], input=self.MANY, capture_output=True,
                           text=True, timeout=60)
        took = time.monotonic() - start
        err = p.stderr
        plans = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(p.returncode, 0, err)
        by = {p["domain"]: p["status"] for p in plans}
        self.assertEqual(len(plans), 203)
        self.assertEqual(by, {"basic.test": "ok", "implicit.test": "ok",
                              "nosuch.test": "nxdomain", "equal.test": "ok"})
        self.assertLess(took, 1.5, err)
        self.assertIn("timeouts 0", err)

    def test_refused_resolver_alone_is_tempfail(self):
        for bad in (self.DEAD, self.FORBIDDEN):
            with self.subTest(bad=bad):
                start = time.monotonic()
                p = subprocess.run([MX, "route", "--bulk", "--timeout", "3", "--resolver", bad],
                                   input=self.MANY, capture_output=True, text=True, timeout=60)
                plans = [json.loads(line) for line in p.stdout.splitlines()]
                self.assertEqual(len(plans), 203)
                self.assertEqual({x["status"] for x in plans}, {"tempfail"})
                self.assertEqual(p.returncode, 0)  # a line's outcome, not the run's
                self.assertLess(time.monotonic() - start, 8)

    def test_resolver_over_ipv6(self):
        # The sandbox's Unbound also listens on ::1: replies read in
        # batches must carry their IPv6 source, or c-ares drops them as
        # coming from the wrong server.
        p = subprocess.run([MX, "route", "--bulk", "--timeout", "5", "--resolver", "::1"],
                           input="basic.test\nimplicit.test\nnosuch.test\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        by = {x["domain"]: x["status"] for x in map(json.loads, p.stdout.splitlines())}
        self.assertEqual(by, {"basic.test": "ok", "implicit.test": "ok",
                              "nosuch.test": "nxdomain"})
        self.assertIn("timeouts 0", p.stderr)

    def test_thousands_of_distinct_hosts(self):
        # *.many.test is a wildcard: 3,000 distinct implicit-MX domains put
        # 6,000 entries (A and AAAA) in the stub's address cache, whose
        # table grows on the way; asked twice, the second round is hits.
        names = ["h%d.many.test" % i for i in range(3000)]
        rc, plans, err = bulk("\n".join(names * 2) + "\n", "--timeout", "20",
                              "--concurrency", "200", timeout=300)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(plans), 6000)
        self.assertEqual(sorted({p["domain"] for p in plans}), sorted(names))
        for p in plans:
            self.assertEqual((p["status"], p["implicit_mx"], p["hosts"][0]["addresses"]),
                             ("ok", True, ["127.0.0.21"]), p["domain"])
        hits = int(err.split("address cache hits ")[1].split()[0])
        self.assertGreaterEqual(hits, 6000)
        self.assertIn("queries 12000,", err)  # MX of every line, A and AAAA once a name

    def test_segmented_sends_refused(self):
        # Where the kernel or the route cannot segment (EIO without
        # checksum offload, EINVAL on an old kernel), the stub sends its
        # batches with sendmmsg instead.  The sandbox's loopback always
        # segments, so a preloaded shim (gso_refused.c) refuses every
        # segmented sendmsg with EIO, and counts them.
        shim = os.environ.get("MX_GSO_REFUSED")
        if not shim:
            self.skipTest("MX_GSO_REFUSED (the gso_refused module) not given")
        names = ["g%d.many.test" % i for i in range(500)]
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "refused")
            env = dict(os.environ, LD_PRELOAD=shim, GSO_REFUSED_LOG=log,
                       ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                       ":verify_asan_link_order=0")
            rc, plans, err = bulk("\n".join(names) + "\n", "--timeout", "10", env=env)
            with open(log) as f:
                refused = int(f.read())
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(refused, 1)  # tried, refused, then not again
        self.assertLess(refused, 10)
        self.assertEqual(sorted(p["domain"] for p in plans), sorted(names))
        for p in plans:
            self.assertEqual((p["status"], p["hosts"][0]["addresses"]),
                             ("ok", ["127.0.0.21"]), p["domain"])
        self.assertIn(", timeouts 0,", err)

    def test_resolver_failure_stops_the_run(self):
        # A broken resolver set-up is not the lines' fault: exit 78.
        p = subprocess.run([MX, "route", "--bulk", "--transport", "unbound",
                            "--resolver", RESOLVER, "--trust-anchor", "/"],
                           input="basic.test\nimplicit.test\n", capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 78)
        self.assertEqual(p.stdout, "")
        self.assertIn("line 1", p.stderr)

    def test_usage_errors(self):
        for args in [["--concurrency", "0"], ["a.txt", "b.txt"]]:
            p = subprocess.run([MX, "route", "--bulk"] + args, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, 64, args)
        p = subprocess.run([MX, "route", "--bulk", "/nonexistent/list"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 66)
        self.assertIn("/nonexistent/list", p.stderr)



if __name__ == "__main__":
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER"))
