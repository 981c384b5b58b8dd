#!/usr/bin/env python3
"""Integration tests of MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) in `mx send`,
`mx tlsrpt send` and `mx queue`, against the sandbox's real parts: NSD and
Unbound serving the _mta-sts and _smtp._tls records (zones/test.zone, the
sts-*.send.test block), https_peer.py serving the policies with the test CA,
and the SMTP peers (smtp_peer.py: mx-tls with a certificate from the test CA,
mx-notls without STARTTLS; smtp-sink: mx-accept1, mx-accept2).  Each test
uses a spool of its own, so the policy cache starts empty.  Skips outside
the sandbox unless MX_REQUIRE_SANDBOX=1.
"""
import base64
import email
import email.policy
import glob
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
MAIL = os.environ.get("MX_SANDBOX_MAIL")
CA = os.environ.get("MX_SANDBOX_CA")
SANDBOX_DIR = os.environ.get("MX_SANDBOX_DIR", "")
# Our end of every connection to a peer on 127.0.0.0/8: the kernel's source
# for the loopback route (RFC 8460 4.3 sending-mta-ip).
LOCAL_IP = "127.0.0.1"

EX_OK, EX_TEMPFAIL = 0, 75
RESULT_TYPES = {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                "certificate-not-trusted", "validation-failure", "tlsa-invalid",
                "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
                "sts-policy-invalid", "sts-webpki-invalid"}


def received(peer, tag):
    """The dumped messages of peer that carry tag."""
    out = []
    for path in sorted(glob.glob(os.path.join(MAIL, peer, "msg.*"))):
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
        if tag in data:
            out.append(data)
    return out


def cache_file(domain, ident, body, expires_in=86400):
    """A policy cache file as sts_cache.h describes it."""
    now = int(time.time())
    raw = body.encode()
    return (b"mx-mta-sts-cache 1\ndomain %s\nid %s\nfetched %d\nexpires %d\nbody %d\n"
            % (domain.encode(), ident.encode(), now - 60, now + expires_in, len(raw))) + raw


class Sts(unittest.TestCase):
    counter = 0

    def setUp(self):
        self.spool = tempfile.mkdtemp(prefix="mtasts-")
        os.chmod(self.spool, 0o700)

    def tearDown(self):
        shutil.rmtree(self.spool, ignore_errors=True)

    def common(self):
        return ["--resolver", RESOLVER, "--trust-anchor", ANCHOR, "--spool", self.spool,
                "--ca-file", CA]

    def send(self, rcpt, extra=()):
        """mx send -v --no-queue; returns (exit, stdout lines, stderr, tag)."""
        Sts.counter += 1
        tag = "%s-%d-%d" % (self.id().split(".")[-1], os.getpid(), Sts.counter)
        body = ("Subject: test %s\n\nHello %s.\n" % (tag, tag)).encode()
        cmd = [MX, "send", "-v", "--no-queue", "-f", "sender@example.test",
               "--attempt-delay", "250"] + self.common() + list(extra) + [rcpt]
        p = subprocess.run(cmd, input=body, capture_output=True, timeout=50)
        return p.returncode, p.stdout.decode().splitlines(), p.stderr.decode(), tag

    def store(self, domain):
        """The TLS-RPT lines recorded for domain, as lists of fields."""
        lines = []
        for path in glob.glob(os.path.join(self.spool, "mta-sts", "tlsrpt", "*", domain)):
            with open(path) as f:
                lines += [l.rstrip("\n").split("\t") for l in f]
        return lines

    def cache_path(self, domain):
        return os.path.join(self.spool, "mta-sts", "policy", domain)

    def assert_deferred_475(self, rc, out):
        self.assertEqual(rc, EX_TEMPFAIL, out)
        self.assertEqual(len(out), 1, out)
        self.assertIn("dsn=4.7.5", out[0])
        self.assertIn("status=deferred", out[0])

    # ---- enforce ---------------------------------------------------------

    def test_enforce_valid_tls_delivers(self):
        rc, out, err, tag = self.send("user@sts-ok.send.test")
        self.assertEqual(rc, EX_OK, err)
        self.assertIn("relay=mx-tls.send.test", out[0])
        self.assertIn("MTA-STS: enforce (fetched)", err)
        self.assertIn("mx-tls.send.test matches the policy; TLS with a verified certificate",
                      err)
        self.assertEqual(len(received("tls", tag)), 1)
        # v2: the session's own address (sending-mta-ip) after the peer's.
        self.assertEqual(self.store("sts-ok.send.test"),
                         [["v2", "ok", "sts", "1", "-", "mx-tls.send.test", "127.0.0.211",
                           LOCAL_IP, "-"]])
        with open(self.cache_path("sts-ok.send.test"), "rb") as f:
            self.assertTrue(f.read().startswith(b"mx-mta-sts-cache 1\ndomain sts-ok.send.test\nid 1\n"))

    def test_enforce_stripped_starttls_defers(self):
        rc, out, err, tag = self.send("user@sts-strip.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("does not offer STARTTLS", out[0])
        self.assertIn("MTA-STS policy of sts-strip.send.test (enforce) not met", out[0])
        # Never in clear text: the peer got no message, and no MAIL command.
        self.assertEqual(received("notls", tag), [])
        self.assertNotRegex(err, r"mx-notls\.send\.test > MAIL FROM")
        rec = self.store("sts-strip.send.test")
        self.assertEqual([r[:6] for r in rec],
                         [["v2", "fail", "sts", "1", "starttls-not-supported",
                           "mx-notls.send.test"]])

    def test_enforce_unlisted_mx_defers(self):
        rc, out, err, tag = self.send("user@sts-unlisted.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("relay=none", out[0])
        self.assertIn("is listed in its MTA-STS policy (mode enforce, id 1)", out[0])
        self.assertIn("mx-accept1.send.test does not match the policy; not used", err)
        self.assertNotIn("mx-accept1.send.test > ", err)  # not even a connection
        self.assertEqual(received("accept1", tag), [])
        self.assertEqual(self.store("sts-unlisted.send.test")[0][1:6],
                         ["fail", "sts", "1", "validation-failure", "mx-accept1.send.test"])

    def test_enforce_name_mismatch_defers(self):
        rc, out, err, tag = self.send("user@sts-mismatch.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("hostname mismatch", out[0])
        self.assertEqual(received("tls", tag), [])
        self.assertEqual(self.store("sts-mismatch.send.test")[0][1:7],
                         ["fail", "sts", "1", "certificate-host-mismatch",
                          "mx-tlsalias.send.test", "127.0.0.211"])

    # ---- testing ---------------------------------------------------------

    def test_testing_delivers_and_records(self):
        rc, out, err, tag = self.send("user@sts-testing.send.test")
        self.assertEqual(rc, EX_OK, err)
        self.assertIn("status=sent", out[0])
        self.assertIn("MTA-STS: testing (fetched)", err)
        self.assertEqual(len(received("notls", tag)), 1)
        self.assertEqual(self.store("sts-testing.send.test"),
                         [["v2", "fail", "sts", "1", "starttls-not-supported",
                           "mx-notls.send.test", "127.0.0.212", LOCAL_IP,
                           "the server did not offer STARTTLS"]])

    # ---- the cache -------------------------------------------------------

    def test_policy_server_gone_cache_still_enforced(self):
        rc, out, err, _ = self.send("user@sts-gone.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("enforce (fetched)", err)
        # As after a TXT id change: the next delivery must fetch again, and
        # the server (https_peer's .once) now hangs up.
        path = self.cache_path("sts-gone.send.test")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data.replace(b"\nid 1\n", b"\nid 0\n", 1))
        rc, out, err, tag = self.send("user@sts-gone.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("enforce (cached (fetch failed))", err)
        self.assertIn("could not be fetched", err)
        self.assertEqual(received("notls", tag), [])
        fails = [r[4] for r in self.store("sts-gone.send.test")]
        self.assertIn("sts-policy-fetch-error", fails)
        # Control: without the cache there is no policy (the server is gone
        # for good), and the mail goes in clear text as before MTA-STS.
        os.unlink(path)
        rc, out, err, tag = self.send("user@sts-gone.send.test")
        self.assertEqual(rc, EX_OK, out)
        self.assertIn("no-policy-found", err)
        self.assertEqual(len(received("notls", tag)), 1)

    def test_txt_id_change_refetches(self):
        os.makedirs(os.path.dirname(self.cache_path("x")), mode=0o700)
        strict = "version: STSv1\nmode: enforce\nmx: nowhere.invalid\nmax_age: 86400\n"
        # Cached under id 2, the id the TXT record has: used, no fetch.
        with open(self.cache_path("sts-idchange.send.test"), "wb") as f:
            f.write(cache_file("sts-idchange.send.test", "2", strict))
        rc, out, err, tag = self.send("user@sts-idchange.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("enforce (cached)", err)
        self.assertEqual(received("accept1", tag), [])
        # Cached under id 1: the TXT id changed, the served policy (testing,
        # mx-accept1) replaces it.
        with open(self.cache_path("sts-idchange.send.test"), "wb") as f:
            f.write(cache_file("sts-idchange.send.test", "1", strict))
        rc, out, err, tag = self.send("user@sts-idchange.send.test")
        self.assertEqual(rc, EX_OK, out)
        self.assertIn("testing (fetched): policy id 2", err)
        self.assertEqual(len(received("accept1", tag)), 1)
        with open(self.cache_path("sts-idchange.send.test"), "rb") as f:
            data = f.read()
        self.assertIn(b"\nid 2\n", data)
        self.assertIn(b"mode: testing", data)

    def test_hostile_cache_file_is_ignored(self):
        os.makedirs(os.path.dirname(self.cache_path("x")), mode=0o700)
        with open(self.cache_path("sts-ok.send.test"), "wb") as f:
            f.write(cache_file("sts-ok.send.test", "1", "mode: enforce\n")[:-3] + b"\x00zz")
        rc, out, err, _ = self.send("user@sts-ok.send.test")
        self.assertEqual(rc, EX_OK, err)
        self.assertIn("enforce (fetched)", err)

    # ---- a real zone change: the TXT id rolled in NSD ---------------------

    def roll(self, ident, policy):
        """Serves policy for sts-roll.send.test under TXT id ident: the
        policy file in the https peer's live directory, the zone's copy in
        $MX_SANDBOX_DIR rewritten, NSD told to reload it (nsd-control), Unbound asked
        until it answers the new id (the record's TTL is 1 s)."""
        live = os.path.join(SANDBOX_DIR, "mta-sts", "mta-sts.sts-roll.send.test.txt")
        zone = os.path.join(SANDBOX_DIR, "zones", "sts-roll.send.test.zone")
        if policy is None:
            if os.path.exists(live):
                os.unlink(live)
        else:
            with open(live + ".tmp", "w") as f:
                f.write(policy)
            os.rename(live + ".tmp", live)
        with open(zone) as f:
            text = f.read()
        serial = int(re.search(r"hostmaster\.test\. (\d+) ", text).group(1)) + 1
        text = re.sub(r"hostmaster\.test\. \d+ ", "hostmaster.test. %d " % serial, text)
        text = re.sub(r'"v=STSv1; id=[^"]*"', '"v=STSv1; id=%s"' % ident, text)
        with open(zone + ".tmp", "w") as f:
            f.write(text)
        os.rename(zone + ".tmp", zone)
        conf = os.path.join(SANDBOX_DIR, "nsd-main", "nsd.conf")
        host, _, port = RESOLVER.partition("@")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            # This zone only (the others' stay as they are), again each time
            # round: the reload of a file rewritten within the same second
            # as the last one may read the old text.
            p = subprocess.run(["nsd-control", "-c", conf, "reload", "sts-roll.send.test."],
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = subprocess.run(["drill", "-p", port or "53", "@" + host,
                                "_mta-sts.sts-roll.send.test", "TXT"],
                               capture_output=True, timeout=10)
            if ("id=%s\"" % ident).encode() in p.stdout:
                return
            time.sleep(0.5)
        self.fail("the resolver never answered id %s for _mta-sts.sts-roll.send.test" % ident)

    def test_txt_id_rolled_in_the_zone_refetches(self):
        if not os.path.isfile(os.path.join(SANDBOX_DIR, "zones", "sts-roll.send.test.zone")):
            self.skipTest("a sandbox without the sts-roll.send.test zone")
        # The state at sandbox start comes back whatever happens here.
        self.addCleanup(self.roll, "1", None)
        first, second = "r%da" % os.getpid(), "r%db" % os.getpid()
        self.roll(first, "version: STSv1\nmode: testing\nmx: mx-accept1.send.test\n"
                  "max_age: 86400\n")
        rc, out, err, tag = self.send("user@sts-roll.send.test")
        self.assertEqual(rc, EX_OK, err)
        self.assertIn("testing (fetched): policy id %s" % first, err)
        self.assertEqual(len(received("accept1", tag)), 1)
        # The zone now says another id, and the server another policy: the
        # cached one (id first, testing, a day's max_age) must give way.
        self.roll(second, "version: STSv1\nmode: enforce\nmx: mx-accept1.send.test\n"
                  "max_age: 86400\n")
        rc, out, err, tag = self.send("user@sts-roll.send.test")
        self.assert_deferred_475(rc, out)
        self.assertIn("enforce (fetched): policy id %s" % second, err)
        self.assertEqual(received("accept1", tag), [])
        with open(self.cache_path("sts-roll.send.test"), "rb") as f:
            data = f.read()
        self.assertIn(("\nid %s\n" % second).encode(), data)
        self.assertIn(b"mode: enforce", data)

    # ---- the policy host over IPv6 ----------------------------------------

    def test_policy_fetched_over_ipv6(self):
        try:
            socket.create_connection(("::1", 443), timeout=5).close()
        except OSError:
            self.skipTest("no https peer on ::1 (a sandbox without IPv6)")
        log = os.path.join(SANDBOX_DIR, "smtp", "https6.log")
        before = os.path.getsize(log) if os.path.exists(log) else 0
        rc, out, err, tag = self.send("user@sts-v6.send.test")
        self.assertEqual(rc, EX_OK, err)
        # mta-sts.sts-v6.send.test has only AAAA ::1: fetched there, enforced.
        self.assertIn("MTA-STS: enforce (fetched)", err)
        self.assertIn("mx-tls.send.test matches the policy; TLS with a verified certificate",
                      err)
        self.assertEqual(len(received("tls", tag)), 1)
        with open(log, "rb") as f:
            f.seek(before)
            self.assertRegex(f.read(), rb"https_peer: ::1 \"GET /\.well-known/mta-sts\.txt")

    # ---- mx route --tls-policy --------------------------------------------

    def test_route_shows_policy_and_matches(self):
        p = subprocess.run([MX, "route", "--json", "--tls-policy", "--resolver", RESOLVER,
                            "--trust-anchor", ANCHOR, "--ca-file", CA, "sts-ok.send.test",
                            "sts-unlisted.send.test", "ok.send.test"],
                           capture_output=True, timeout=50)
        self.assertEqual(p.returncode, 0, p.stderr)
        docs = [json.loads(l) for l in p.stdout.decode().splitlines()]
        self.assertEqual([d["domain"] for d in docs],
                         ["sts-ok.send.test", "sts-unlisted.send.test", "ok.send.test"])
        ok, unlisted, none = [d["tls_policy"] for d in docs]
        self.assertEqual((ok["mode"], ok["id"], ok["max_age"], ok["mx"]),
                         ("enforce", "1", 86400, ["mx-tls.send.test"]))
        self.assertEqual(ok["hosts"], [{"name": "mx-tls.send.test", "matches": True}])
        self.assertEqual(unlisted["hosts"], [{"name": "mx-accept1.send.test", "matches": False}])
        self.assertEqual(none["mode"], "no-policy-found")
        self.assertNotIn("id", none)
        # Nothing is cached by route: there is no spool to write to.
        p = subprocess.run([MX, "route", "--tls-policy", "--resolver", RESOLVER,
                            "--trust-anchor", ANCHOR, "--ca-file", CA, "sts-unlisted.send.test"],
                           capture_output=True, timeout=50)
        self.assertIn(b"MTA-STS: enforce: policy id 1 fetched", p.stdout)
        self.assertIn(b"- mx-accept1.send.test: does not match the policy", p.stdout)

    # ---- TLS-RPT ---------------------------------------------------------

    def report_for(self, domain, submitter):
        for path in sorted(glob.glob(os.path.join(MAIL, "accept2", "msg.*"))):
            with open(path, "rb") as f:
                raw = f.read()
            if (b"TLS-Report-Domain: " + domain.encode()) in raw and submitter.encode() in raw:
                # smtp-sink puts its own X- lines first; the message starts at From.
                start = raw.index(b"Received:") if b"Received:" in raw else 0
                return email.message_from_bytes(raw[start:], policy=email.policy.default)
        return None

    def test_report_mailed_and_parsed_back(self):
        for d in ("sts-ok", "sts-strip", "sts-testing", "sts-mismatch"):
            self.send("user@%s.send.test" % d)
        self.send("user@sts-testing.send.test")
        submitter = "mx-%d.example.test" % os.getpid()
        p = subprocess.run([MX, "tlsrpt", "send", "--include-today", "--submitter", submitter,
                            "--from", "reports@example.test"] + self.common(),
                           capture_output=True, timeout=50)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"4 TLS-RPT reports queued", p.stdout)
        # Reported days leave the store.
        self.assertEqual(self.store("sts-testing.send.test"), [])
        p = subprocess.run([MX, "queue", "flush"] + self.common(), capture_output=True,
                           timeout=50)
        self.assertEqual(p.returncode, 0, p.stderr)
        msg = self.report_for("sts-testing.send.test", submitter)
        self.assertIsNotNone(msg, "no report arrived at mx-accept2")
        report_id = msg["Message-ID"].strip("<>")
        self.assertEqual(msg["Subject"], "Report Domain: sts-testing.send.test Submitter: %s "
                         "Report-ID: <%s>" % (submitter, report_id))
        self.assertEqual(msg["TLS-Report-Domain"], "sts-testing.send.test")
        self.assertEqual(msg["TLS-Report-Submitter"], submitter)
        self.assertEqual(msg["To"], "tlsrpt@reports.send.test")
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        parts = list(msg.iter_parts())
        self.assertEqual([x.get_content_type() for x in parts],
                         ["text/plain", "application/tlsrpt+gzip"])
        fname = parts[1].get_filename()
        self.assertRegex(fname, r"^%s!sts-testing\.send\.test!\d+!\d+\.json\.gz$"
                         % re.escape(submitter))
        doc = json.loads(gzip.decompress(parts[1].get_content()))
        self.check_schema(doc, report_id)
        pol = doc["policies"]
        self.assertEqual(len(pol), 1)
        self.assertEqual(pol[0]["policy"], {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: testing", "mx: mx-notls.send.test",
                              "max_age: 86400"],
            "policy-domain": "sts-testing.send.test",
            "mx-host": ["mx-notls.send.test"]})
        self.assertEqual(pol[0]["summary"], {"total-successful-session-count": 0,
                                             "total-failure-session-count": 2})
        self.assertEqual(pol[0]["failure-details"], [{
            "result-type": "starttls-not-supported", "sending-mta-ip": LOCAL_IP,
            "receiving-ip": "127.0.0.212",
            "receiving-mx-hostname": "mx-notls.send.test", "failed-session-count": 2,
            "additional-information": "the server did not offer STARTTLS"}])
        start, end = [int(x) for x in fname[:-len(".json.gz")].split("!")[2:4]]
        self.assertEqual(end - start, 86399)
        self.assertEqual(doc["date-range"]["start-datetime"],
                         time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(start)))
        self.assertEqual(doc["date-range"]["end-datetime"],
                         time.strftime("%Y-%m-%dT23:59:59Z", time.gmtime(start)))
        ok = json.loads(gzip.decompress(list(self.report_for(
            "sts-ok.send.test", submitter).iter_parts())[1].get_content()))
        self.assertEqual(ok["policies"][0]["summary"], {"total-successful-session-count": 1,
                                                        "total-failure-session-count": 0})
        self.assertNotIn("failure-details", ok["policies"][0])

    def check_schema(self, doc, report_id):
        """RFC 8460 4.3 and its appendix B schema, field by field."""
        self.assertEqual(set(doc), {"organization-name", "date-range", "contact-info",
                                    "report-id", "policies"})
        self.assertIsInstance(doc["organization-name"], str)
        self.assertEqual(doc["contact-info"], "reports@example.test")
        self.assertEqual(doc["report-id"], report_id)
        self.assertEqual(set(doc["date-range"]), {"start-datetime", "end-datetime"})
        for v in doc["date-range"].values():
            self.assertRegex(v, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        for p in doc["policies"]:
            self.assertLessEqual(set(p), {"policy", "summary", "failure-details"})
            self.assertIn(p["policy"]["policy-type"], {"tlsa", "sts", "no-policy-found"})
            self.assertIsInstance(p["policy"]["policy-domain"], str)
            for k in ("policy-string", "mx-host"):
                if k in p["policy"]:
                    self.assertTrue(all(isinstance(s, str) for s in p["policy"][k]))
            self.assertEqual(set(p["summary"]), {"total-successful-session-count",
                                                 "total-failure-session-count"})
            for v in p["summary"].values():
                self.assertIsInstance(v, int)
            total = 0
            for fd in p.get("failure-details", []):
                self.assertLessEqual(set(fd), {"result-type", "sending-mta-ip",
                                               "receiving-mx-hostname", "receiving-mx-helo",
                                               "receiving-ip", "failed-session-count",
                                               "additional-information",
                                               "failure-reason-code"})
                self.assertIn(fd["result-type"], RESULT_TYPES)
                self.assertIsInstance(fd["failed-session-count"], int)
                total += fd["failed-session-count"]
            self.assertEqual(total, p["summary"]["total-failure-session-count"])


class DaemonReports(unittest.TestCase):
    """`mx daemon` sends the day's reports by itself: no `mx tlsrpt send`.
    MX_TLSRPT_EVERY and MX_TLSRPT_CLOCK_OFFSET (for tests only) make its
    daily run come every second, with today counted as over."""

    def setUp(self):
        self.spool = tempfile.mkdtemp(prefix="mtasts-daemon-")
        os.chmod(self.spool, 0o700)
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.spool, ignore_errors=True)

    def common(self):
        return ["--resolver", RESOLVER, "--trust-anchor", ANCHOR, "--spool", self.spool,
                "--ca-file", CA]

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def wait_for(self, cond, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.1)
        return cond()

    def start_daemon(self, submitter):
        env = dict(os.environ, MX_TLSRPT_EVERY="1", MX_TLSRPT_CLOCK_OFFSET="86400")
        self.proc = subprocess.Popen(
            [MX, "daemon", "--log", "stderr", "--tlsrpt-submitter", submitter,
             "--tlsrpt-from", "reports@example.test"] + self.common(),
            stdout=self.log, stderr=self.log, env=env)

    def posted(self, domain, submitter):
        """The reports https_peer.py kept for domain from submitter:
        (Content-Type, JSON) pairs."""
        out = []
        for path in sorted(glob.glob(os.path.join(SANDBOX_DIR, "tlsrpt-posts",
                                                  "tlsrpt-https.send.test.*.body"))):
            with open(path, "rb") as f:
                doc = json.loads(gzip.decompress(f.read()))
            with open(path[:-len(".body")] + ".type") as f:
                ctype = f.read()
            if (doc["organization-name"] == submitter and
                    doc["policies"][0]["policy"]["policy-domain"] == domain):
                out.append((ctype, doc))
        return out

    def test_daemon_posts_to_https_rua(self):
        """RFC 8460 5.4: the report POSTed as application/tlsrpt+gzip to the
        https: rua (the sandbox's https peer, certificate from the test CA),
        and mailed to the mailto: one of the same record."""
        body = b"Subject: https rua\n\nHello.\n"
        p = subprocess.run([MX, "send", "--no-queue", "-f", "s@example.test"] + self.common() +
                           ["user@sts-https.send.test"], input=body, capture_output=True,
                           timeout=50)
        self.assertEqual(p.returncode, EX_OK, p.stderr)
        submitter = "mxh-%d.example.test" % os.getpid()
        self.start_daemon(submitter)
        self.assertTrue(self.wait_for(lambda: self.posted("sts-https.send.test", submitter), 90),
                        self.log_text())
        [(ctype, doc)] = self.posted("sts-https.send.test", submitter)
        self.assertEqual(ctype, "application/tlsrpt+gzip")
        finder = Sts("report_for")
        finder.check_schema(doc, doc["report-id"])
        self.assertEqual(doc["policies"][0]["summary"], {"total-successful-session-count": 1,
                                                         "total-failure-session-count": 0})
        self.assertTrue(self.wait_for(
            lambda: finder.report_for("sts-https.send.test", submitter) is not None, 60),
            self.log_text())
        self.assertRegex(self.log_text(), r"1 TLS-RPT report queued, 1 posted")
        self.assertEqual(glob.glob(os.path.join(self.spool, "mta-sts", "tlsrpt", "*",
                                                "sts-https.send.test")), [])
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.log_text()[-4000:])

    def test_daemon_mails_the_report(self):
        tag = "daemon-%d" % os.getpid()
        body = ("Subject: %s\n\nHello.\n" % tag).encode()
        p = subprocess.run([MX, "send", "--no-queue", "-f", "s@example.test"] + self.common() +
                           ["user@sts-testing.send.test"], input=body, capture_output=True,
                           timeout=50)
        self.assertEqual(p.returncode, EX_OK, p.stderr)
        store = glob.glob(os.path.join(self.spool, "mta-sts", "tlsrpt", "*",
                                       "sts-testing.send.test"))
        self.assertEqual(len(store), 1)
        submitter = "mxd-%d.example.test" % os.getpid()
        self.start_daemon(submitter)
        finder = Sts("report_for")
        self.assertTrue(self.wait_for(
            lambda: finder.report_for("sts-testing.send.test", submitter) is not None, 90),
            self.log_text())
        log = self.log_text()
        self.assertIn("mx/tlsrpt", log)
        self.assertRegex(log, r"1 TLS-RPT report queued, 0 posted")
        self.assertRegex(log, r"to=<tlsrpt@reports\.send\.test>.*status=sent")
        self.assertFalse(os.path.exists(store[0]), "the reported day is still in the store")
        msg = finder.report_for("sts-testing.send.test", submitter)
        self.assertEqual(msg["TLS-Report-Submitter"], submitter)
        doc = json.loads(gzip.decompress(list(msg.iter_parts())[1].get_content()))
        finder.check_schema(doc, msg["Message-ID"].strip("<>"))
        self.assertEqual(doc["policies"][0]["failure-details"][0]["sending-mta-ip"], LOCAL_IP)
        # The loop was never held: the daemon answers, and stops cleanly.
        self.assertEqual(subprocess.run([MX, "daemon", "status", "--spool", self.spool],
                                        capture_output=True, timeout=10).returncode, 0)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.log_text()[-4000:])


if __name__ == "__main__":
    raise SystemExit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR",
                                    "MX_SANDBOX_MAIL", "MX_SANDBOX_CA"))
