#!/usr/bin/env python3
"""Integration tests of `mx route` against the sandbox's real servers.

NSD serves the test zones, Unbound recurses in front of it, all inside a
private network namespace (tests/sandbox/sandbox run).  Each test runs the
real `mx` binary and checks its JSON, text output and exit status against
what RFC 5321 section 5.1, RFC 7505 and RFC 2181 section 10.3 require for
the zone data described in tests/sandbox/README.md.

Outside the sandbox the tests skip (exit 77), or fail when
MX_REQUIRE_SANDBOX=1 (CI sets it, so a missing sandbox cannot pass).
"""
import json
import os
import subprocess
import sys
import time
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
# The same rules must hold on both transports: libunbound (the default)
# and the c-ares stub that `mx route --bulk` uses (MX_TRANSPORT=stub).
TRANSPORT = os.environ.get("MX_TRANSPORT", "unbound")
STUB = TRANSPORT == "stub"

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOHOST, EX_TEMPFAIL = 0, 64, 65, 66, 68, 75


def mx(*args, resolver=True, anchor=True, timeout=30):
    """Runs `mx route` and returns (exit status, stdout, stderr)."""
    cmd = [MX, "route", "--transport", TRANSPORT]
    if resolver:
        cmd += ["--resolver", RESOLVER]
    if anchor:
        cmd += ["--trust-anchor", ANCHOR]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def plans(*args, **kw):
    """Runs `mx route --json` and returns (exit status, [plan, ...])."""
    rc, out, err = mx("--json", *args, **kw)
    lines = out.splitlines()
    return rc, [json.loads(line) for line in lines], err


def plan(domain, *args):
    rc, ps, _ = plans(*args, domain)
    assert len(ps) == 1, ps
    return rc, ps[0]


def hosts(p):
    return [h["host"] for h in p["hosts"]]


class Routing(unittest.TestCase):
    """Rule 1: MX records sorted by preference, addresses resolved."""

    def test_basic_order_addresses_ttl(self):
        rc, p = plan("basic.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(p["domain"], "basic.test")
        self.assertEqual(p["status"], "ok")
        self.assertFalse(p["implicit_mx"])
        self.assertEqual(p["problems"], [])
        self.assertEqual(hosts(p), ["mx1.basic.test", "mx2.basic.test"])
        self.assertEqual([h["preference"] for h in p["hosts"]], [10, 20])
        # The sandbox resolver caches: TTLs count down from the zone's 3600,
        # from whenever a test of the same run first asked for basic.test;
        # the plan's TTL is what Unbound has left, as drill sees it now.
        out = subprocess.run(["drill", "basic.test", "MX", "@" + RESOLVER.split("@")[0]],
                             capture_output=True, text=True, timeout=10).stdout
        left = [int(l.split()[1]) for l in out.splitlines() if l.startswith("basic.test.")]
        self.assertTrue(left, out)
        for h in p["hosts"]:
            self.assertTrue(0 < h["ttl"] <= 3600, h["ttl"])
            self.assertLessEqual(abs(h["ttl"] - left[0]), 2, (h["ttl"], out))
        self.assertEqual(p["hosts"][0]["addresses"], ["2001:db8::11", "127.0.0.11"])
        self.assertEqual(p["hosts"][1]["addresses"], ["127.0.0.12"])
        self.assertEqual([h["status"] for h in p["hosts"]], ["ok", "ok"])

    def test_prefer_ipv4(self):
        _, p = plan("basic.test", "--prefer", "ipv4")
        self.assertEqual(p["hosts"][0]["addresses"], ["127.0.0.11", "2001:db8::11"])
        _, p = plan("mixed.test", "--prefer", "ipv6")
        self.assertEqual(p["hosts"][0]["addresses"], ["2001:db8::51", "127.0.0.51"])
        _, p = plan("mixed.test", "--prefer", "ipv4")
        self.assertEqual(p["hosts"][0]["addresses"], ["127.0.0.51", "2001:db8::51"])

    def test_ipv6_only_host(self):
        _, p = plan("v6only.test", "--prefer", "ipv4")
        self.assertEqual(p["hosts"][0]["addresses"], ["2001:db8::61"])
        self.assertEqual(p["status"], "ok")

    def test_address_argument_case_and_trailing_dot(self):
        _, p = plan("Someone@BASIC.Test.")
        self.assertEqual(p["domain"], "basic.test")
        self.assertEqual(hosts(p), ["mx1.basic.test", "mx2.basic.test"])

    def test_ttl_of_mx_record(self):
        # The host's TTL is its MX record's (60 in the zone), not its
        # address's (30).  The sandbox's Unbound is shared by the whole
        # suite, so the cached TTL counts down: compare with what the
        # resolver itself says of the MX record at the same moment.
        _, p = plan("ttl.test")
        out = subprocess.run(["drill", "ttl.test", "MX", "@" + RESOLVER.split("@")[0]],
                             capture_output=True, text=True, check=True).stdout
        answer = [l.split() for l in out.splitlines() if l.startswith("ttl.test.")]
        mx_ttl = int(answer[0][1]) if answer else -1
        ttl = p["hosts"][0]["ttl"]
        self.assertTrue(0 < ttl <= 60, ttl)
        self.assertLessEqual(abs(ttl - mx_ttl), 2, (ttl, out))

    def test_truncated_answer_fetched_over_tcp(self):
        rc, p = plan("big.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(len(p["hosts"]), 80)
        prefs = [h["preference"] for h in p["hosts"]]
        self.assertEqual(prefs, sorted(prefs))
        self.assertTrue(all(h["status"] == "ok" for h in p["hosts"]))

    def test_idn_argument_is_converted(self):
        rc, p = plan("bücher.test")
        self.assertEqual(p["domain"], "xn--bcher-kva.test")
        self.assertEqual(p["status"], "nxdomain")
        self.assertEqual(rc, EX_NOHOST)


class EqualPreference(unittest.TestCase):
    """Rule 1: equal preferences shuffled per host, reproducibly by seed."""

    def order(self, seed):
        _, p = plan("equal.test", "--seed", str(seed))
        return hosts(p)

    def test_same_seed_same_order(self):
        first = self.order(7)
        for _ in range(3):
            self.assertEqual(self.order(7), first)

    def test_group_stays_before_backup(self):
        for seed in range(5):
            order = self.order(seed)
            self.assertEqual(sorted(order[:4]),
                             ["a.equal.test", "b.equal.test", "c.equal.test", "d.equal.test"])
            self.assertEqual(order[4], "e.equal.test")

    def test_seeds_give_different_orders(self):
        orders = {tuple(self.order(seed)) for seed in range(30)}
        self.assertGreater(len(orders), 5)
        firsts = {o[0] for o in orders}
        self.assertEqual(len(firsts), 4)


class ImplicitAndMissing(unittest.TestCase):
    """Rule 2: implicit MX on NODATA; NXDOMAIN is permanent."""

    def test_implicit_mx(self):
        rc, p = plan("implicit.test")
        self.assertEqual(rc, EX_OK)
        self.assertTrue(p["implicit_mx"])
        self.assertEqual(hosts(p), ["implicit.test"])
        self.assertEqual(p["hosts"][0]["preference"], 0)
        self.assertEqual(p["hosts"][0]["addresses"], ["2001:db8::21", "127.0.0.21"])

    def test_implicit_mx_without_address(self):
        rc, p = plan("noaddr-implicit.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "no-mail-host")
        self.assertTrue(p["implicit_mx"])
        self.assertEqual(p["hosts"][0]["status"], "no-address")

    def test_nxdomain(self):
        rc, p = plan("nosuch.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "nxdomain")
        self.assertEqual(p["hosts"], [])


class NullMX(unittest.TestCase):
    """Rule 3: RFC 7505."""

    def test_null_mx(self):
        rc, p = plan("nullmx.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "null-mx")
        self.assertEqual(p["problems"], [])

    def test_null_mx_nonzero_preference(self):
        rc, p = plan("nullmx-pref.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "null-mx")
        self.assertIn("null-mx-preference", p["problems"])

    def test_null_mx_mixed_is_ignored_and_reported(self):
        rc, p = plan("nullmx-mixed.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(p["status"], "ok")
        self.assertIn("null-mx-mixed", p["problems"])
        self.assertEqual(hosts(p), ["mx1.basic.test"])


class Targets(unittest.TestCase):
    """Rule 4 and 5: CNAME and IP-literal exchanges, hosts without address."""

    def test_cname_target_followed_and_reported(self):
        rc, p = plan("cname-target.test")
        self.assertEqual(rc, EX_OK)
        h = p["hosts"][0]
        self.assertEqual(h["host"], "alias.cname-target.test")
        self.assertEqual(h["addresses"], ["127.0.0.31"])
        self.assertIn("cname-target", h["problems"])

    def test_domain_cname_is_legal(self):
        rc, p = plan("alias.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(p["canonical"], "basic.test")
        self.assertEqual(hosts(p), ["mx1.basic.test", "mx2.basic.test"])
        self.assertEqual(p["problems"], [])
        self.assertNotIn("cname-target", p["hosts"][0]["problems"])

    def test_ip_literal_not_used(self):
        rc, p = plan("ip-literal.test")
        self.assertEqual(rc, EX_OK)
        lit = p["hosts"][0]
        self.assertEqual(lit["host"], "192.0.2.1")
        self.assertEqual(lit["status"], "ip-literal")
        self.assertEqual(lit["addresses"], [])
        self.assertIn("ip-literal-target", lit["problems"])
        self.assertEqual(p["hosts"][1]["status"], "ok")

    def test_hosts_without_address(self):
        rc, p = plan("noaddr.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "no-mail-host")
        self.assertEqual([h["status"] for h in p["hosts"]], ["no-address", "no-address"])

    def test_bad_exchange_name(self):
        rc, p = plan("badname.test")
        self.assertEqual(p["hosts"][0]["status"], "bad-name")
        self.assertIn("bad-hostname", p["hosts"][0]["problems"])
        self.assertEqual(p["status"], "no-mail-host")
        self.assertEqual(rc, EX_NOHOST)

    def test_duplicate_host_listed_once(self):
        rc, p = plan("dup.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(hosts(p), ["mx1.basic.test"])
        self.assertEqual(p["hosts"][0]["preference"], 10)
        self.assertIn("duplicate-host", p["problems"])


class SelfPruning(unittest.TestCase):
    """Rule 6: --local-name prunes this host and everything not better."""

    def test_prune_self_and_worse(self):
        rc, p = plan("self.test", "--local-name", "mx2.self.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual([h["status"] for h in p["hosts"]], ["ok", "pruned", "pruned"])
        self.assertIn("local-name", p["hosts"][1]["problems"])
        self.assertIn("not-better-than-self", p["hosts"][2]["problems"])
        self.assertEqual(p["hosts"][1]["addresses"], [])

    def test_local_name_is_case_insensitive(self):
        _, p = plan("self.test", "--local-name", "MX3.Self.Test.")
        self.assertEqual([h["status"] for h in p["hosts"]], ["ok", "ok", "pruned"])

    def test_best_mx_is_self_loops(self):
        rc, p = plan("self.test", "--local-name", "mx1.self.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertEqual(p["status"], "loop")
        self.assertTrue(all(h["status"] == "pruned" for h in p["hosts"]))


class Temporary(unittest.TestCase):
    """Rule 7: temporary failures never become permanent."""

    def test_lame_delegation_is_tempfail(self):
        rc, p = plan("lame.test")
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["status"], "tempfail")

    def test_one_host_tempfail_others_used(self):
        rc, p = plan("partial.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual([h["status"] for h in p["hosts"]], ["tempfail", "ok"])

    def test_all_hosts_tempfail(self):
        rc, p = plan("alltemp.test")
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["status"], "tempfail")

    def test_cname_loop_is_not_deliverable_nor_permanent(self):
        rc, p = plan("cname-loop.test")
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["status"], "tempfail")

    def deadline_plan(self, domain, timeout, has_timeout):
        # The sandbox's Unbound marks the black hole down for 2 s
        # (infra-host-ttl) after a probe of it timed out, and answers
        # SERVFAIL at once meanwhile (and caches that SERVFAIL for 5 s).
        # A SERVFAIL then says nothing about our deadline: wait it out
        # and ask again, twice at most.
        for attempt in range(3):
            start = time.monotonic()
            rc, p = plan(domain, "--timeout", timeout)
            elapsed = time.monotonic() - start
            if has_timeout(p) or attempt == 2:
                return rc, p, elapsed
            time.sleep(3)

    def test_deadline_on_black_holed_zone(self):
        rc, p, elapsed = self.deadline_plan("slow.test", "1",
                                            lambda p: "timeout" in p["problems"])
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["status"], "tempfail")
        self.assertIn("timeout", p["problems"], p)
        self.assertLess(elapsed, 3.0)

    def test_deadline_on_host_address(self):
        rc, p, elapsed = self.deadline_plan(
            "slowhost.test", "1.5", lambda p: "timeout" in p["hosts"][0]["problems"])
        self.assertLess(elapsed, 3.5)
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["hosts"][0]["status"], "tempfail")
        self.assertIn("timeout", p["hosts"][0]["problems"], p["hosts"][0])

    def test_refused_by_resolver_is_tempfail(self):
        # 127.0.0.54 is an NSD that serves none of our zones: it answers
        # REFUSED.  Postfix bounces on that; a misconfigured local
        # resolver must never bounce mail, so mx defers.
        rc, out, _ = mx("--json", "--timeout", "3", "--resolver", "127.0.0.54",
                        "basic.test", resolver=False)
        self.assertEqual(rc, EX_TEMPFAIL)
        p = json.loads(out)
        self.assertEqual(p["status"], "tempfail")
        # libunbound reports an upstream REFUSED as SERVFAIL.
        self.assertRegex(p["reason"], "SERVFAIL|REFUSED")

    def test_black_holed_resolver(self):
        start = time.monotonic()
        rc, out, _ = mx("--json", "--timeout", "1", "--resolver", "127.0.0.99",
                        "basic.test", resolver=False)
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(json.loads(out)["status"], "tempfail")


@unittest.skipIf(STUB, "the stub transport does not validate")
class Dnssec(unittest.TestCase):
    """Rule 8: bogus data is never used."""

    def test_secure(self):
        rc, p = plan("signed.test")
        self.assertEqual(rc, EX_OK)
        self.assertEqual(p["dnssec"], "secure")
        self.assertEqual(p["hosts"][0]["addresses"], ["127.0.0.41"])

    def test_unsigned_zone_is_insecure(self):
        # (skipped with the class on the stub transport)
        _, p = plan("basic.test")
        self.assertEqual(p["dnssec"], "insecure")

    def test_bogus_is_tempfail_and_unused(self):
        rc, p = plan("bogus.test")
        self.assertEqual(rc, EX_TEMPFAIL)
        self.assertEqual(p["status"], "tempfail")
        self.assertEqual(p["dnssec"], "bogus")
        self.assertIn("dnssec-bogus", p["problems"])
        self.assertEqual(p["hosts"], [])

    def test_no_anchor_is_indeterminate(self):
        rc, ps, _ = plans("--trust-anchor", "none", "signed.test", anchor=False)
        self.assertEqual(rc, EX_OK)
        self.assertEqual(ps[0]["dnssec"], "indeterminate")


@unittest.skipUnless(STUB, "stub transport only")
class StubTransport(unittest.TestCase):
    """The stub transport never claims a DNSSEC verdict."""

    def test_indeterminate(self):
        for name in ["signed.test", "basic.test"]:
            _, p = plan(name)
            self.assertEqual(p["dnssec"], "indeterminate")
            self.assertEqual(p["status"], "ok")


class Interface(unittest.TestCase):
    """Arguments, output shape and exit codes."""

    def test_one_line_per_argument_in_order(self):
        args = ["nosuch.test", "basic.test", "a..b", "implicit.test", "lame.test"]
        rc, ps, err = plans(*args)
        self.assertEqual([p["domain"] for p in ps],
                         ["nosuch.test", "basic.test", "a..b", "implicit.test", "lame.test"])
        self.assertEqual(ps[2]["status"], "invalid")
        self.assertEqual(rc, EX_DATAERR)
        self.assertEqual(len(err.strip().splitlines()), 1)

    def test_many_domains_concurrently(self):
        names = ["basic.test", "implicit.test", "nosuch.test", "equal.test"] * 10
        rc, ps, _ = plans("--seed", "3", *names)
        self.assertEqual([p["domain"] for p in ps], names)
        self.assertEqual(rc, EX_NOHOST)

    def test_exit_status_ranks(self):
        self.assertEqual(plans("basic.test", "implicit.test")[0], EX_OK)
        self.assertEqual(plans("basic.test", "lame.test")[0], EX_TEMPFAIL)
        self.assertEqual(plans("lame.test", "nullmx.test", "basic.test")[0], EX_NOHOST)

    def test_malformed_domains(self):
        for bad in ["a..b", ".a.test", "x" * 64 + ".test",
                    ".".join(["a" * 63] * 4) + ".test", "exa mple.test",
                    "under_score.test", "-lead.test", "user@", "user@[127.0.0.1]",
                    "127.0.0.1"]:
            rc, out, err = mx("--", bad)
            self.assertEqual(rc, EX_DATAERR, bad)
            self.assertEqual(len(err.strip().splitlines()), 1, bad)
            self.assertIn("mx route:", err)
            self.assertEqual(out, "")

    def test_longest_valid_name_accepted(self):
        name = ".".join(["a" * 63] * 3 + ["a" * 56]) + ".test"
        self.assertEqual(len(name), 253)
        rc, p = plan(name)
        self.assertEqual(p["status"], "nxdomain")

    def test_usage_errors(self):
        for args in [[], ["--prefer", "ipv5", "basic.test"], ["--bogus", "basic.test"],
                     ["--timeout", "0", "basic.test"], ["--timeout", "abc", "basic.test"],
                     ["--seed", "-1", "basic.test"], ["--local-name", "a..b", "basic.test"]]:
            rc, _, err = mx(*args)
            self.assertEqual(rc, EX_USAGE, args)
            self.assertIn("mx route", err)
        rc, _, _ = mx("--resolver", "not-an-ip", "basic.test", resolver=False)
        self.assertEqual(rc, EX_USAGE)

    def test_missing_trust_anchor_file(self):
        rc, _, err = mx("--trust-anchor", "/nonexistent/anchor", "basic.test", anchor=False)
        self.assertEqual(rc, EX_NOINPUT)
        self.assertIn("/nonexistent/anchor", err)

    def test_unreachable_resolver_is_named(self):
        # Issue 12 item 11: with no resolver reachable the plan said "the
        # resolver answered SERVFAIL" or "no answer before the deadline",
        # naming nobody.  127.0.0.123: nothing listens (ICMP refusal);
        # 127.0.0.99: the sandbox's black hole.  Still tempfail (75).
        for transport in ("unbound", "stub"):
            for addr, said in (("127.0.0.123", ("no answer from 127.0.0.123@53",
                                                "127.0.0.123@53 refused the query")),
                               ("127.0.0.99", ("no answer from 127.0.0.99@53",))):
                p = subprocess.run([MX, "route", "--json", "--transport", transport,
                                    "--resolver", addr, "--trust-anchor", "none",
                                    "--timeout", "3", "basic.test"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, EX_TEMPFAIL, (transport, addr, p.stderr))
                plan = json.loads(p.stdout)
                self.assertEqual(plan["status"], "tempfail")
                text = json.dumps(plan)
                self.assertTrue(any(x in text for x in said), (transport, addr, text))
                self.assertNotIn("SERVFAIL", text)
        # The stub hears c-ares' refusal and says so.
        p = subprocess.run([MX, "route", "--transport", "stub", "--resolver", "127.0.0.123",
                            "--timeout", "3", "basic.test"], capture_output=True, text=True,
                           timeout=30)
        self.assertIn("127.0.0.123@53 refused the query (connection refused", p.stdout)

    @unittest.skipIf(STUB, "the stub transport does not validate")
    def test_unusable_trust_anchor_is_a_config_error(self):
        bad = os.path.join(os.environ.get("MX_SANDBOX_DIR", "/tmp"), "bad-anchor")
        with open(bad, "w") as f:
            f.write("this is not a DS record\n")
        for anchor in [bad, os.path.dirname(bad)]:
            rc, out, err = mx("--trust-anchor", anchor, "basic.test", anchor=False, timeout=10)
            self.assertEqual(rc, 78, anchor)
            self.assertIn("trust anchor", err)
            self.assertEqual(out, "")
            # One line from mx, with libunbound's reason; nothing of its own.
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, _, err = mx("--trust-anchor", bad, "basic.test", anchor=False, timeout=10)
        self.assertIn("parse error in %s" % bad, err)

    def test_resolv_conf_option(self):
        path = os.path.join(os.environ.get("MX_SANDBOX_DIR", "/tmp"), "resolv.test.conf")
        with open(path, "w") as f:
            f.write("nameserver %s\n" % RESOLVER.split("@")[0])
        rc, out, _ = mx("--json", "--resolv-conf", path, "basic.test", resolver=False)
        self.assertEqual(rc, EX_OK)
        self.assertEqual(json.loads(out)["status"], "ok")

    def test_human_table(self):
        rc, out, _ = mx("basic.test", "nosuch.test")
        self.assertEqual(rc, EX_NOHOST)
        self.assertIn("basic.test: ok", out)
        self.assertRegex(out, r"PREF\s+HOST\s+TTL\s+STATUS\s+ADDRESSES")
        self.assertRegex(out, r"\n\s+10\s+mx1\.basic\.test\s+\d+\s+ok\s+2001:db8::11, 127\.0\.0\.11\n")
        self.assertIn("nosuch.test: nxdomain", out)
        self.assertIn("does not exist", out)
        self.assertNotRegex(out, r" \n")

    def test_help_and_version(self):
        p = subprocess.run([MX, "route", "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, EX_OK)
        self.assertIn("usage: mx route", p.stdout)
        p = subprocess.run([MX, "--version"], capture_output=True, text=True)
        self.assertRegex(p.stdout, r"^mx \d+\.\d+\.\d+")



if __name__ == "__main__":
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
