#!/usr/bin/env python3
"""Integration tests of `mx check` against the sandbox.

Live checks ask the sandbox's Unbound (validating with the sandbox's trust
anchors) about tests/sandbox/zones/check.test.zone (one broken domain per
finding, good.check.test with everything right), stale.check.test and
ttl.check.test (served differently by the second NSD on 127.0.0.55), the
signed zones and the send.test mail domains, whose SMTP peers are real
servers.  Every finding id has a test where it appears and one where it is
absent on a clean domain.  Zone-file mode runs on files written here.
Skips outside the sandbox unless MX_REQUIRE_SANDBOX=1.
"""
import json
import os
import pty
import subprocess
import sys
import tempfile
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
CA = os.environ.get("MX_SANDBOX_CA")

EX_USAGE, EX_DATAERR, EX_NOINPUT = 64, 65, 66

_cache = {}


def live_args(smtp):
    args = ["--resolver", RESOLVER, "--trust-anchor", ANCHOR, "--timeout", "12"]
    if CA:
        args += ["--ca-file", CA]
    if not smtp:
        args.append("--no-smtp")
    return args


def check(domain, smtp=False, extra=()):
    """Runs `mx check --json` once per argument list: (exit, parsed JSON)."""
    key = (domain, smtp, tuple(extra))
    if key not in _cache:
        p = subprocess.run([MX, "check", "--json"] + live_args(smtp) + list(extra) + [domain],
                           capture_output=True, text=True, timeout=120)
        assert p.stdout.strip(), "no output: exit %d, %s" % (p.returncode, p.stderr)
        _cache[key] = (p.returncode, json.loads(p.stdout))
    return _cache[key]


def ids(result):
    return [f["id"] for f in result["findings"]]


def finding(result, fid):
    for f in result["findings"]:
        if f["id"] == fid:
            return f
    raise AssertionError("%s not among %s" % (fid, ids(result)))


# id -> (domain showing it, probe SMTP?, clean domain, probe SMTP there?)
# good.check.test's hosts have public addresses (mx-address-private must not
# fire on the clean domain), so it is never probed: no test connects to
# anything but loopback.  The clean SMTP service is tls.send.test's peer.
GOOD = ("good.check.test", False)
TLS_CLEAN = ("tls.send.test", True)
CASES = {
    "mx-missing": (("implicit.check.test", False), GOOD),
    "null-mx-mixed": (("nullmixed.check.test", False), GOOD),
    "null-mx-preference": (("nullpref.check.test", False), GOOD),
    "mx-ip-literal": (("ipliteral.check.test", False), GOOD),
    "mx-cname": (("cname.check.test", False), GOOD),
    "mx-no-address": (("noaddr.check.test", False), GOOD),
    "mx-bad-hostname": (("badname.check.test", False), GOOD),
    "mx-duplicate": (("dup.check.test", False), GOOD),
    "mx-single-host": (("single.check.test", False), GOOD),
    "mx-address-private": (("private.check.test", False), GOOD),
    "mx-ttl-low": (("ttllow.check.test", False), GOOD),
    "mx-ttl-mismatch": (("ttlmix.check.test", False), GOOD),
    "mx-inconsistent": (("stale.check.test", False), ("ttl.check.test", False)),
    "dnssec-bogus": (("bogus.test", False), ("dane-ok.signed.test", False)),
    "dane-tlsa-insecure": (("tlsa.check.test", False), ("dane-ok.signed.test", False)),
    "ptr-missing": (("noptr.check.test", False), GOOD),
    "ptr-mismatch": (("badptr.check.test", False), GOOD),
    "spf-missing": (("nospf.check.test", False), GOOD),
    "spf-invalid": (("spfbad.check.test", False), GOOD),
    "dmarc-missing": (("nospf.check.test", False), GOOD),
    "dmarc-invalid": (("dmarcbad.check.test", False), GOOD),
    "mta-sts-invalid": (("stsbad.check.test", False), GOOD),
    "tlsrpt-invalid": (("tlsrptbad.check.test", False), GOOD),
    "smtp-unreachable": (("refused.send.test", True), TLS_CLEAN),
    "smtp-banner-error": (("greet554.send.test", True), TLS_CLEAN),
    "smtp-slow": (("slowgreet.send.test", True), TLS_CLEAN),
    "smtp-no-starttls": (("notls.send.test", True), TLS_CLEAN),
    "tls-handshake-failed": (("badtls.send.test", True), TLS_CLEAN),
    "tls-cert-invalid": (("wrongcert.send.test", True), TLS_CLEAN),
    "dane-mismatch": (("dane-bad.signed.test", True), ("dane-ok.signed.test", True)),
}


class Findings(unittest.TestCase):
    """One test per id where it appears, one where it is absent."""

    def test_clean_domain_has_no_finding(self):
        rc, r = check(*GOOD)
        self.assertEqual(r["findings"], [], r)
        self.assertEqual(rc, 0)

    def test_clean_smtp_domain_has_no_service_finding(self):
        _, r = check(*TLS_CLEAN)
        service = [i for i in ids(r) if i.startswith(("smtp-", "tls-", "dane-", "ptr-"))]
        self.assertEqual(service, [], r)


def _make(fid, shows, clean):
    def appears(self):
        _, r = check(*shows)
        f = finding(r, fid)
        self.assertIn(f["severity"], ("error", "warning", "notice", "info"))
        self.assertTrue(f["message"])
        self.assertTrue(f["evidence"], f)

    def absent(self):
        _, r = check(*clean)
        self.assertNotIn(fid, ids(r), r)
        if clean != GOOD:
            self.assertNotIn(fid, ids(check(*GOOD)[1]))

    return appears, absent


for _id, (_shows, _clean) in CASES.items():
    _a, _b = _make(_id, _shows, _clean)
    setattr(Findings, "test_%s_appears" % _id.replace("-", "_"), _a)
    setattr(Findings, "test_%s_absent_on_clean" % _id.replace("-", "_"), _b)


class Details(unittest.TestCase):
    """What the findings say: severities, evidence, the variants of a rule."""

    def test_implicit_mx_is_a_warning_no_mail_an_error(self):
        self.assertEqual(finding(check("implicit.check.test")[1], "mx-missing")["severity"], "warning")
        self.assertEqual(finding(check("nomail.check.test")[1], "mx-missing")["severity"], "error")
        r = check("nosuch.test")[1]
        self.assertIn("NXDOMAIN", finding(r, "mx-missing")["message"])
        # a domain that does not exist has no policy records to miss
        self.assertNotIn("spf-missing", ids(r))

    def test_no_address_both_kinds(self):
        r = check("noaddr.check.test")[1]
        texts = " ".join(f["message"] for f in r["findings"] if f["id"] == "mx-no-address")
        self.assertIn("nowhere.check.test", texts)
        self.assertIn("does not exist", texts)
        self.assertIn("noa.check.test", texts)
        self.assertIn("no A or AAAA", texts)

    def test_single_host_also_when_hosts_share_an_address(self):
        self.assertIn("mx-single-host", ids(check("oneaddr.check.test")[1]))
        self.assertNotIn("mx-single-host", ids(check("dup.check.test")[1]))

    def test_inconsistent_names_both_servers(self):
        f = finding(check("stale.check.test")[1], "mx-inconsistent")
        ev = "\n".join(f["evidence"])
        self.assertIn("127.0.0.53", ev)
        self.assertIn("127.0.0.55", ev)
        self.assertIn("old-mx.good.check.test", ev)

    def test_silent_authoritative_server_is_untested(self):
        rc, r = check("deadns.check.test")
        self.assertNotIn("mx-inconsistent", ids(r), r)
        reasons = [u["reason"] for u in r["untested"] if u["test"] == "mx-inconsistent"]
        self.assertEqual(len(reasons), 1, r)
        self.assertIn("127.0.0.98", reasons[0])

    def test_ttl_only_difference_is_not_inconsistent(self):
        r = check("ttl.check.test")[1]
        self.assertNotIn("mx-inconsistent", ids(r))
        self.assertNotIn("mx-ttl-mismatch", ids(r))

    def test_spf_variants(self):
        self.assertIn("more than one", finding(check("spftwo.check.test")[1], "spf-invalid")["message"])
        self.assertIn("+all", finding(check("spfall.check.test")[1], "spf-invalid")["message"])
        f = finding(check("spfmany.check.test")[1], "spf-invalid")
        self.assertIn("13 DNS lookups", f["message"])
        self.assertIn("= 13", "\n".join(f["evidence"]))
        self.assertIn("no SPF", finding(check("spfnoinc.check.test")[1], "spf-invalid")["message"])
        self.assertIn("loop", finding(check("spfloop.check.test")[1], "spf-invalid")["message"])
        # the clean domain's include chain (3 terms) is counted and fine
        self.assertNotIn("spf-invalid", ids(check(*GOOD)[1]))

    def test_mta_sts_policy_must_cover_the_mx_hosts(self):
        f = finding(check("stsmx.check.test")[1], "mta-sts-invalid")
        self.assertIn("mx1.good.check.test", f["message"])

    def test_bogus_is_not_could_not_test(self):
        rc, r = check("bogus.test")
        self.assertEqual(rc, 2)
        self.assertFalse(r["summary"]["tempfail"])

    def test_dane_ok_is_clean_for_tls(self):
        r = check("dane-ok.signed.test", True)[1]
        for fid in ("dane-mismatch", "tls-cert-invalid", "tls-handshake-failed", "dnssec-bogus"):
            self.assertNotIn(fid, ids(r))


class Service(unittest.TestCase):
    """The probes: unreachable from here is untested; a tarpit is slow."""

    def test_every_address_timing_out_is_untested_not_down(self):
        rc, r = check("blackhole.check.test", True)
        self.assertNotIn("smtp-unreachable", ids(r))
        self.assertIn("smtp", [u["test"] for u in r["untested"]])
        self.assertIn("timed out", " ".join(u["reason"] for u in r["untested"]))

    def test_refused_beside_a_working_host_is_unreachable(self):
        f = finding(check("refused.send.test", True)[1], "smtp-unreachable")
        self.assertIn("127.0.0.208", f["message"])
        self.assertIn("refused", f["message"])

    def test_tarpit_is_slow_not_down(self):
        r = check("slowgreet.send.test", True)[1]
        self.assertNotIn("smtp-unreachable", ids(r))
        self.assertIn("mx-slowgreet.send.test", finding(r, "smtp-slow")["message"])

    def test_expired_certificate(self):
        f = finding(check("expired.check.test", True)[1], "tls-cert-invalid")
        self.assertIn("expired", f["message"])
        self.assertTrue(any(e.startswith("not after:") for e in f["evidence"]), f)

    def test_banner_evidence_is_the_reply(self):
        f = finding(check("greet554.send.test", True)[1], "smtp-banner-error")
        self.assertTrue(any("554" in e for e in f["evidence"]), f)

    def test_no_starttls_is_an_error_where_dane_applies(self):
        f = finding(check("dane-notls.signed.test", True)[1], "smtp-no-starttls")
        self.assertEqual(f["severity"], "error")
        self.assertIn("DANE", f["message"])
        self.assertEqual(finding(check("notls.send.test", True)[1], "smtp-no-starttls")["severity"],
                         "warning")

    def test_no_smtp_lists_it_as_untested(self):
        _, r = check("notls.send.test", False)
        self.assertNotIn("smtp-no-starttls", ids(r))
        self.assertIn("--no-smtp", " ".join(u["reason"] for u in r["untested"]))


class Output(unittest.TestCase):
    """JSON shape, exit codes, --ignore, human output and colour."""

    def test_json_shape(self):
        _, r = check("dup.check.test")
        self.assertEqual(set(r), {"domain", "mode", "findings", "untested", "summary"})
        self.assertEqual(r["domain"], "dup.check.test")
        self.assertEqual(r["mode"], "live")
        for f in r["findings"]:
            self.assertTrue({"id", "severity", "message", "evidence"} <= set(f))
            self.assertIsInstance(f["evidence"], list)
        for u in r["untested"]:
            self.assertEqual(set(u), {"test", "reason"})
        s = r["summary"]
        self.assertEqual(s["warning"], sum(f["severity"] == "warning" for f in r["findings"]))
        self.assertEqual(s["worst"], "warning")

    def test_exit_codes(self):
        self.assertEqual(check(*GOOD)[0], 0)
        ign = ("--ignore", "spf-missing", "--ignore", "dmarc-missing")
        self.assertEqual(check("single.check.test", extra=ign)[0], 0)  # a notice
        self.assertEqual(check("cname.check.test")[0], 1)
        self.assertEqual(check("noaddr.check.test")[0], 2)
        rc, r = check("lame.test")
        self.assertEqual(rc, 3)
        self.assertTrue(r["summary"]["tempfail"])
        self.assertIn("lame.test", r["summary"]["reason"])

    def test_deadline_makes_untested_not_findings(self):
        # slowaddr.check.test: the MX answers at once, its host's addresses never
        rc, r = check("slowaddr.check.test", extra=("--timeout", "3"))
        self.assertNotIn("mx-no-address", ids(r))
        tests = [u["test"] for u in r["untested"]]
        self.assertIn("mx-no-address", tests)
        self.assertFalse(r["summary"]["tempfail"])
        # hang.check.test: not even the MX answers: could not test, nothing missing
        rc, r = check("hang.check.test", extra=("--timeout", "2"))
        self.assertEqual(rc, 3)
        self.assertEqual(r["findings"], [])

    def test_ignore(self):
        rc, r = check("cname.check.test", extra=("--ignore", "mx-cname"))
        self.assertNotIn("mx-cname", ids(r))
        self.assertIn("spf-missing", ids(r))
        self.assertEqual(r["summary"]["ignored"], 1)
        p = subprocess.run([MX, "check", "--ignore", "no-such-id", "x.test"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, EX_USAGE)
        self.assertIn("no-such-id", p.stderr)

    def test_bad_domain_and_usage(self):
        p = subprocess.run([MX, "check"] + live_args(False) + ["bad domain"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, EX_DATAERR)
        p = subprocess.run([MX, "check", "a.test", "b.test"], capture_output=True, text=True)
        self.assertEqual(p.returncode, EX_USAGE)

    def test_bad_trust_anchor_is_a_config_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
            f.write("this is not a DS record\n")
            f.flush()
            p = subprocess.run([MX, "check", "--resolver", RESOLVER, "--trust-anchor", f.name,
                                "--no-smtp", "good.check.test"], capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertEqual(p.stdout, "")

    def human(self, env_extra, domain="noaddr.check.test"):
        env = dict(os.environ, **env_extra)
        env.pop("NO_COLOR", None) if "NO_COLOR" not in env_extra else None
        master, slave = pty.openpty()
        p = subprocess.Popen([MX, "check"] + live_args(False) + [domain],
                             stdout=slave, stderr=subprocess.PIPE, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        p.wait(timeout=60)
        os.close(master)
        return p.returncode, out.decode()

    def test_human_output_grouped_and_coloured_on_a_terminal(self):
        rc, out = self.human({})
        self.assertEqual(rc, 2)
        self.assertIn("\033[", out)
        errors, warnings = out.index("Errors"), out.index("Warnings")
        self.assertLess(errors, warnings)
        self.assertLess(errors, out.index("mx-no-address"))
        self.assertLess(out.index("mx-no-address"), warnings)
        self.assertGreater(out.index("spf-missing"), warnings)

    def test_no_color(self):
        rc, out = self.human({"NO_COLOR": "1"})
        self.assertEqual(rc, 2)
        self.assertNotIn("\033[", out)
        self.assertIn("Errors", out)

    def test_not_a_terminal_no_colour(self):
        p = subprocess.run([MX, "check"] + live_args(False) + ["noaddr.check.test"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn("\033[", p.stdout)
        self.assertIn("mx-no-address", p.stdout)


class Order(unittest.TestCase):
    """One order, whatever order the answers come in (issue 12 item 8):
    order.check.test has findings of one id on several hosts, and the
    resolver hands its MX records out in a different order each time.
    The same check, run several times, prints the same bytes, sorted: the
    worst severity first, then id, then host/address (the message)."""

    DOMAIN = "order.check.test"
    RUNS = 6
    SEVERITY = {"error": 0, "warning": 1, "notice": 2, "info": 3}

    def runs(self, extra):
        outs = []
        for _ in range(self.RUNS):
            p = subprocess.run([MX, "check"] + extra + live_args(False) + [self.DOMAIN],
                               capture_output=True, timeout=120)
            self.assertIn(p.returncode, (1, 2), p.stderr)
            outs.append(p.stdout)
        return outs

    def test_json_identical_and_sorted(self):
        outs = self.runs(["--json"])
        for out in outs[1:]:
            self.assertEqual(out, outs[0])
        found = json.loads(outs[0])["findings"]
        keys = [(self.SEVERITY[f["severity"]], f["id"], f.get("line", 0), f["message"])
                for f in found]
        self.assertEqual(keys, sorted(keys))
        ptr = [f["message"].split()[3] for f in found if f["id"] == "ptr-missing"]
        self.assertEqual(ptr, ["127.0.0.61", "127.0.0.62", "127.0.0.63", "127.0.0.64"])
        gone = [f["message"] for f in found if f["id"] == "mx-no-address"]
        self.assertEqual(len(gone), 2, found)
        self.assertLess(gone[0].index("gone-a"), gone[1].index("gone-b") + 1)
        self.assertIn("gone-a", gone[0])

    def test_text_identical_and_sorted(self):
        outs = self.runs([])
        for out in outs[1:]:
            self.assertEqual(out, outs[0])
        text = outs[0].decode()
        # "  id: message" lines (evidence is indented further), per group
        groups, current = [], None
        for line in text.splitlines():
            if line in ("Errors", "Warnings", "Notices", "Info"):
                current = []
                groups.append((line, current))
            elif current is not None and line.startswith("  ") and not line.startswith("   "):
                fid, message = line.strip().split(": ", 1)
                current.append((fid, message))
            elif not line:
                current = None
        self.assertEqual([g for g, _ in groups], ["Errors", "Warnings", "Notices"][:len(groups)])
        self.assertGreaterEqual(len(groups), 2, text)
        for _, items in groups:
            self.assertEqual(items, sorted(items))
        warnings = dict(groups)["Warnings"]
        self.assertGreaterEqual(sum(1 for fid, _ in warnings if fid == "ptr-missing"), 4)


ZONE = """$ORIGIN example.org.
$TTL 3600
@        SOA  ns.example.org. hostmaster.example.org. 1 3600 600 86400 300
@        NS   ns
ns       A    93.184.215.1
@        MX   10 mx1
@        MX   20 mx1
@        MX   30 alias
@        MX   40 192.0.2.1.
@        MX   50 nowhere
@        MX   60 mail.elsewhere.net.
mx1      A    10.0.0.1
alias    CNAME mx1
@        TXT  "v=spf1 mx +all"
_dmarc   TXT  "v=DMARC1; p=reject"
sub   60 MX   0 .
sub  600 MX   10 mx1
"""

CLEAN_ZONE = """$ORIGIN example.net.
$TTL 3600
@        SOA  ns1 hostmaster 1 3600 600 86400 300
@        NS   ns1
ns1      A    93.184.215.1
@        MX   10 mx1
@        MX   20 mx2
mx1      A    93.184.215.14
mx2      A    93.184.215.15
@        TXT  "v=spf1 mx -all"
_dmarc   TXT  "v=DMARC1; p=reject; rua=mailto:d@example.net"
"""


class Zone(unittest.TestCase):
    """--zone: rules from the file alone, line numbers, parse errors."""

    def zone(self, text, *extra):
        with tempfile.NamedTemporaryFile("w", suffix=".zone", delete=False) as f:
            f.write(text)
        try:
            p = subprocess.run([MX, "check", "--zone", f.name, "--json"] + list(extra),
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None), p.stderr

    def at(self, r, fid):
        return sorted(f.get("line") for f in r["findings"] if f["id"] == fid)

    def test_findings_with_lines(self):
        rc, r, _ = self.zone(ZONE)
        self.assertEqual(rc, 2)
        self.assertEqual(r["mode"], "zone")
        self.assertEqual(r["domain"], "example.org")
        self.assertEqual(self.at(r, "mx-duplicate"), [7])
        self.assertEqual(self.at(r, "mx-cname"), [8])
        self.assertEqual(self.at(r, "mx-ip-literal"), [9])
        self.assertEqual(self.at(r, "mx-no-address"), [10])   # in-zone name, absent: NXDOMAIN
        self.assertEqual(self.at(r, "mx-address-private"), [12, 12, 13])  # the A (twice: @ and sub), the CNAME
        self.assertEqual(self.at(r, "spf-invalid"), [14])
        self.assertEqual(self.at(r, "null-mx-mixed"), [16])
        self.assertEqual(self.at(r, "mx-ttl-mismatch"), [17])
        self.assertIn(16, self.at(r, "mx-ttl-low"))
        # the target outside the zone is not judged
        self.assertNotIn("elsewhere", json.dumps([f for f in r["findings"] if f["id"] == "mx-no-address"]))
        self.assertNotIn("dmarc-missing", ids(r))

    def test_in_zone_targets_resolve_from_the_zone(self):
        _, r, _ = self.zone(ZONE)
        f = [f for f in r["findings"] if f["id"] == "mx-cname"][0]
        self.assertIn("CNAME mx1.example.org", "\n".join(f["evidence"]))
        priv = [f for f in r["findings"] if f["id"] == "mx-address-private"]
        self.assertTrue(priv and "10.0.0.1" in priv[0]["message"])

    def test_clean_zone(self):
        rc, r, _ = self.zone(CLEAN_ZONE)
        self.assertEqual(r["findings"], [])
        self.assertEqual(rc, 0)

    def test_origin_option(self):
        text = "\n".join(l for l in CLEAN_ZONE.splitlines() if not l.startswith("$ORIGIN"))
        rc, r, err = self.zone(text, "--origin", "example.com")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["domain"], "example.com")

    def test_no_mx_in_zone(self):
        text = "\n".join(l for l in CLEAN_ZONE.splitlines() if " MX " not in l)
        rc, r, _ = self.zone(text)
        self.assertEqual(self.at(r, "mx-missing"), [None])
        self.assertEqual(rc, 2)

    def test_unparsable_file_names_line_and_reason(self):
        rc, r, err = self.zone(CLEAN_ZONE + "bad  A  192.0.2\n")
        self.assertEqual(rc, EX_DATAERR)
        self.assertIsNone(r)
        self.assertIn("line 12", err)
        self.assertIn("rdata", err)

    def test_unreadable_file(self):
        p = subprocess.run([MX, "check", "--zone", "/nonexistent/zone"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, EX_NOINPUT)
        self.assertIn("/nonexistent/zone", p.stderr)

    def test_sandbox_zone_file(self):
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "sandbox", "zones", "check.test.zone")
        p = subprocess.run([MX, "check", "--zone", path, "--json"],
                           capture_output=True, text=True, timeout=30)
        r = json.loads(p.stdout)
        self.assertEqual(r["domain"], "check.test")
        with open(path) as f:
            lines = f.read().splitlines()
        for fid in ("null-mx-mixed", "null-mx-preference", "mx-ip-literal", "mx-cname",
                    "mx-bad-hostname", "mx-duplicate", "mx-address-private", "mx-ttl-low",
                    "mx-ttl-mismatch", "mx-no-address"):
            got = [f for f in r["findings"] if f["id"] == fid]
            self.assertTrue(got, fid)
            # the line of the record at fault: the MX, or the target's address
            want = " A " if fid == "mx-address-private" else " MX "
            self.assertIn(want, lines[got[0]["line"] - 1] + " ", (fid, got[0]))


if __name__ == "__main__":
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
