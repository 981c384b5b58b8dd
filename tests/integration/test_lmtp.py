#!/usr/bin/env python3
"""Final delivery over LMTP (RFC 2033) to a real Dovecot (issue 16).

`mx daemon --listen 127.0.0.1:2527 --local-domain local.test --lmtp
unix:<dovecot>/run/lmtp` receives mail from real clients (smtplib, swaks)
and hands local recipients to a Dovecot started by dovecot.py (users alice
and bob of local.test); what arrived is read back with doveadm.  The
daemon runs as nobody, as in test_smtpd.py.
"""
import glob
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

import dovecot
import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
HOST, PORT = "127.0.0.1", 2527
LOCAL = "local.test"
TCP_LMTP = ("127.0.7.1", 24)  # issue 16's range for this work
SINK_LMTP = ("127.0.9.1", 24)  # smtp-sink -L (127.0.9.0/24: quoted local parts)
SLOW_LMTP = ("127.0.9.2", 24)  # smtp-sink -L -w 1: the store's concurrency limit


def lf(data):
    return data.replace(b"\r\n", b"\n")


class Lmtp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mx-lmtp-")
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        sandboxed.nobody_spool(MX, self.spool)
        self.store = dovecot.Dovecot(os.path.join(self.dir, "dovecot"), domain=LOCAL,
                                     users=("alice", "bob", "carol"), tcp=TCP_LMTP,
                                     quota={"carol": "1K"})
        self.store.start()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.store.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, target=None, *args):
        cmd = [MX, "daemon", "--resolver", RESOLVER, "--trust-anchor", ANCHOR,
               "--spool", self.spool, "--log", "stderr", "--hostname", "mx.local.test",
               "--listen", "%s:%d" % (HOST, PORT), "--relay-network", "127.0.0.1/32",
               "--local-domain", LOCAL, "--lmtp", target or self.store.lmtp_target,
               "--user", "nobody", "--greet-pause", "0"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        sandboxed.wait_listening(self, self.proc, HOST, PORT, 20, self.log_text)

    def log_text(self):
        return sandboxed.read_log(self.log)

    def wait_log(self, text, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log_text():
                return
            time.sleep(0.1)
        self.fail("%r not logged:\n%s\n%s" % (text, self.log_text(), self.store.log()))

    def queued(self):
        return sorted(os.listdir(os.path.join(self.spool, "queue")))

    def wait_empty(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline and self.queued():
            time.sleep(0.1)
        self.assertEqual(self.queued(), [], self.log_text())

    def deliver(self, mail_from, rcpts, msg):
        c = smtplib.SMTP(HOST, PORT, timeout=30)
        c.ehlo("client.test")
        refused = c.sendmail(mail_from, rcpts, msg)
        c.quit()
        return refused

    def assert_stored(self, user, msg, n=1):
        self.assertTrue(self.store.wait_for(user, n, timeout=60),
                        "%s has %d messages:\n%s\n%s" % (user, self.store.count(user),
                                                         self.log_text(), self.store.log()))
        stored = self.store.messages(user)[n - 1]
        # Dovecot's own lines first, then ours (Received by mx), then the
        # message exactly as the client sent it (LF-terminated as maildir keeps it).
        self.assertTrue(stored.endswith(lf(msg)), stored[:600])
        head = stored[:-len(lf(msg))]
        self.assertIn(b"by mx.local.test (mx) with ESMTP", head)
        self.assertIn(b"by store.local.test with LMTP", head)
        return stored

    def test_two_local_users_byte_exact(self):
        self.start()
        body = b"".join(b"line %d: .dots.. \xc3\xa9 and tabs\t\r\n" % i for i in range(200))
        msg = (b"From: x@client.test\r\nSubject: two users\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
               b"\r\n.starts with a dot\r\n..two dots\r\n" + body)
        self.assertEqual(self.deliver("x@client.test", ["alice@local.test", "bob@LOCAL.test"],
                                      msg), {})
        self.assert_stored("alice", msg)
        self.assert_stored("bob", msg)
        self.wait_empty()
        log = self.log_text()
        self.assertIn("to=<alice@local.test>, relay=%s, " % self.store.lmtp_target, log)
        self.assertIn("status=sent (250 2.0.0 <bob@local.test>", log)
        # One LMTP transaction for both: Dovecot names the second
        # recipient's save after the first's session ("ID" and "ID:R2").
        ids = re.findall(r"<(?:alice|bob)@local\.test> (\S+) Saved", log)
        self.assertEqual(len(ids), 2, log)
        self.assertEqual(sorted(ids)[1], sorted(ids)[0] + ":R2", log)

    def test_unknown_user_refused_at_rcpt_alone(self):
        self.start()
        msg = b"From: alice@local.test\r\nSubject: to one known, one not\r\n\r\nhi\r\n"
        # The server asks the store (LHLO, MAIL, RCPT, QUIT) before it answers.
        refused = self.deliver("alice@local.test", ["bob@local.test", "nosuch@local.test"], msg)
        self.assertEqual(list(refused), ["nosuch@local.test"], refused)
        self.assertEqual(refused["nosuch@local.test"][0], 550)
        self.assertIn(b"5.1.1", refused["nosuch@local.test"][1])
        self.assert_stored("bob", msg)
        self.wait_empty()
        log = self.log_text()
        self.assertIn("reject: RCPT to <nosuch@local.test>: the mail store says 550", log)
        # Logged as Postfix's smtpd does (pflogsumm counts it a reject),
        # and never queued: no delivery or bounce line for it.
        self.assertIn("NOQUEUE: reject: RCPT from [127.0.0.1]: 550 5.1.1", log)
        self.assertNotRegex(log, r"to=<nosuch@local\.test>, relay=")
        self.assertEqual(self.store.count("alice"), 0)
        # Asked again within the minute: the answer comes from the cache
        # (the line above is logged only when the store was asked).
        c = smtplib.SMTP(HOST, PORT, timeout=30)
        c.ehlo("client.test")
        c.mail("alice@local.test")
        self.assertEqual(c.rcpt("NoSuch@local.test")[0], 550)
        self.assertEqual(c.rcpt("bob@local.test")[0], 250)
        c.quit()
        self.assertEqual(self.log_text().count("the mail store says"), 1, self.log_text())

    def test_reply_per_recipient_after_the_message(self):
        self.start()
        # carol's mailbox is full: Dovecot accepts her at RCPT and refuses
        # her after the message (RFC 2033 4.2), between bob's two 250s.
        msg = b"From: alice@local.test\r\nSubject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 1
        msg += b"".join(b"%070d\r\n" % i for i in range(40))
        self.deliver("alice@local.test", ["bob@local.test", "carol@local.test"], msg)
        self.assert_stored("bob", msg)
        self.assertTrue(self.store.wait_for("alice", 1, timeout=60), self.log_text())
        dsn = self.store.messages("alice")[0]
        self.assertIn(b"Final-Recipient: rfc822; carol@local.test", dsn)
        self.assertIn(b"5.2.2", dsn)
        self.assertNotIn(b"Final-Recipient: rfc822; bob@local.test", dsn)
        # The store is not a host: no Remote-MTA, and its socket's path stays inside.
        self.assertIn(b"<carol@local.test>: the mail store said: 552 5.2.2", dsn)
        self.assertNotIn(b"Remote-MTA", dsn)
        self.assertNotIn(self.store.lmtp_socket.encode(), dsn)
        self.assertEqual(self.store.count("carol"), 0)
        self.wait_empty()
        log = self.log_text()
        self.assertRegex(log, r"to=<bob@local\.test>, relay=unix:\S+, .*status=sent")
        self.assertRegex(log, r"to=<carol@local\.test>, relay=unix:\S+, .*status=bounced "
                         r"\(552 5\.2\.2")

    def test_temporary_refusal_after_the_message_defers_one(self):
        # Dovecot told to answer a full mailbox with 452 4.2.2 (try later).
        self.store.stop()
        self.store = dovecot.Dovecot(self.store.dir, domain=LOCAL,
                                     users=("alice", "bob", "carol"), tcp=TCP_LMTP,
                                     quota={"carol": "1K"}, quota_tempfail=True)
        self.store.start()
        self.start()
        msg = b"From: alice@local.test\r\nSubject: big\r\n\r\n"
        msg += b"".join(b"%070d\r\n" % i for i in range(40))
        self.deliver("alice@local.test", ["bob@local.test", "carol@local.test"], msg)
        self.assert_stored("bob", msg)
        self.wait_log("to=<carol@local.test>")
        log = self.log_text()
        self.assertRegex(log, r"to=<carol@local\.test>, relay=unix:\S+, .*status=deferred "
                         r"\(452 4\.2\.2")
        self.assertNotIn("status=bounced", log)
        self.assertEqual(len(self.queued()), 1)
        # Room made: carol gets it, and bob, delivered before, no second copy.
        self.store.stop()
        self.store.set_quota("carol", "10M")
        self.store.start()
        subprocess.run([MX, "queue", "flush", "--spool", self.spool], check=True,
                       capture_output=True, timeout=60)
        self.assert_stored("carol", msg)
        self.wait_empty()
        self.assertEqual(self.store.count("bob"), 1)
        self.assertEqual(self.store.count("carol"), 1)
        self.assertEqual(self.store.count("alice"), 0)  # no bounce

    def test_store_down_defers_then_delivers(self):
        self.start()
        self.store.stop()
        msg = b"From: x@client.test\r\nSubject: while the store was down\r\n\r\nkept\r\n"
        self.deliver("x@client.test", ["alice@local.test"], msg)
        self.wait_log("to=<alice@local.test>")
        log = self.log_text()
        self.assertIn("status=deferred", log)
        self.assertNotIn("status=bounced", log)
        self.assertIn("held back", log)
        self.assertEqual(len(self.queued()), 1)
        # Every local domain is one destination: the mail store, held back.
        st = subprocess.run([MX, "daemon", "status", "--spool", self.spool],
                            capture_output=True, text=True, timeout=60)
        self.assertIn("held: lmtp:%s until" % self.store.lmtp_target, st.stdout,
                      st.stdout + st.stderr)
        self.store.start()
        # The daemon's hold is a minute; a flush asks it to try now.
        subprocess.run([MX, "queue", "flush", "--spool", self.spool], check=True,
                       capture_output=True, timeout=60)
        self.assert_stored("alice", msg)
        self.wait_empty()
        self.assertEqual(self.store.count("alice"), 1)

    def test_tcp_target_and_swaks(self):
        if shutil.which("swaks") is None:
            self.skipTest("swaks is not installed (scripts/deps)")
        self.start("%s:%d" % TCP_LMTP)
        p = subprocess.run(["swaks", "--server", HOST, "--port", str(PORT), "--from",
                            "x@client.test", "--to", "alice@local.test,bob@local.test",
                            "--helo", "swaks.test", "--header", "Subject: swaks"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for user in ("alice", "bob"):
            self.assertTrue(self.store.wait_for(user, 1, timeout=60), self.log_text())
            self.assertIn(b"Subject: swaks", self.store.messages(user)[0])
        self.wait_empty()
        self.assertIn("relay=127.0.7.1:24, ", self.log_text())

    def test_quoted_local_part_to_dovecot(self):
        # RFC 5321 4.1.2: "john doe"@local.test is a mailbox; Dovecot has one.
        self.store.stop()
        self.store = dovecot.Dovecot(self.store.dir, domain=LOCAL,
                                     users=("alice", "john doe"), tcp=TCP_LMTP)
        self.store.start()
        self.start()
        msg = b"From: x@client.test\r\nSubject: quoted\r\n\r\nto john doe\r\n"
        c = smtplib.SMTP(HOST, PORT, timeout=30)
        c.ehlo("client.test")
        self.assertEqual(c.docmd('MAIL FROM:<"jane q"@client.test>')[0], 250)
        code, text = c.docmd('RCPT TO:<"john doe"@local.test>')
        self.assertEqual(code, 250, (text, self.store.log()[-3000:]))
        # The store is asked before RCPT is answered: an unknown quoted one is refused.
        code, text = c.docmd('RCPT TO:<"no such"@local.test>')
        self.assertEqual((code, text[:5]), (550, b"5.1.1"), text)
        self.assertEqual(c.data(msg)[0], 250)
        c.quit()
        stored = self.assert_stored("john doe", msg)
        self.assertIn(b'Delivered-To: "john doe"@local.test\n', stored)
        self.assertIn(b'Return-Path: <"jane q"@client.test>\n', stored)
        self.wait_empty()
        self.assertIn('to=<"john doe"@local.test>, relay=%s, ' % self.store.lmtp_target,
                      self.log_text())

    def test_quoted_local_parts_on_the_lmtp_wire(self):
        # smtp-sink -L as the store: it writes the RCPT arguments as they
        # came, so the quoting is seen byte for byte (Dovecot re-quotes).
        dump = os.path.join(self.dir, "sink")
        os.makedirs(dump)
        shutil.chown(dump, "nobody")
        sink = subprocess.Popen(["smtp-sink", "-L", "-u", "nobody", "-d", dump + "/msg.",
                                 "%s:%d" % SINK_LMTP, "16"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(sink.wait)
        self.addCleanup(sink.kill)
        sent = ['"john doe"@local.test', '"a\\"b"@local.test', '"abc"@local.test',
                '"a\\ b"@local.test', '" "@local.test']
        self.start("%s:%d" % SINK_LMTP)
        c = smtplib.SMTP(HOST, PORT, timeout=30)
        c.ehlo("client.test")
        self.assertEqual(c.docmd('MAIL FROM:<"jane q"@client.test>')[0], 250)
        for rcpt in sent:
            self.assertEqual(c.docmd("RCPT TO:<%s>" % rcpt)[0], 250, rcpt)
        self.assertEqual(c.data(b"Subject: quoted on the wire\r\n\r\nx\r\n")[0], 250)
        c.quit()
        self.wait_empty()
        [path] = glob.glob(os.path.join(dump, "msg.*"))
        with open(path, "rb") as f:
            got = f.read().decode()
        self.assertIn('X-Mail-Args: <"jane q"@client.test>\n', got)
        self.assertEqual(re.findall(r"^X-Rcpt-Args: (.*)$", got, re.M),
                         ["<%s>" % r for r in sent])

    def test_lmtp_concurrency_limit(self):
        """--lmtp-concurrency caps the daemon's sessions with the store, as
        Postfix's lmtp_destination_concurrency_limit does: 12 messages to a
        store that takes 1 s over each DATA never had more than 3 sessions
        open at once (counted with ss), and did have 3."""
        sink = subprocess.Popen(["smtp-sink", "-L", "-u", "nobody", "-w", "1",
                                 "%s:%d" % SLOW_LMTP, "64"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(sink.wait)
        self.addCleanup(sink.kill)
        sandboxed.wait_listening(self, sink, *SLOW_LMTP, 20, lambda: "smtp-sink -L")
        self.start("%s:%d" % SLOW_LMTP, "--lmtp-concurrency", "3")
        c = smtplib.SMTP(HOST, PORT, timeout=30)
        c.ehlo("client.test")
        for i in range(12):
            c.sendmail("s@client.test", ["alice@%s" % LOCAL], b"Subject: %d\r\n\r\nx\r\n" % i)
        c.quit()
        most, deadline = 0, time.time() + 60
        while time.time() < deadline and self.queued():
            out = subprocess.run(["ss", "-Htn", "state", "established", "dst",
                                  "%s:%d" % SLOW_LMTP], capture_output=True, text=True).stdout
            most = max(most, len(out.splitlines()))
            time.sleep(0.05)
        self.wait_empty()
        self.assertEqual(most, 3, self.log_text())


if __name__ == "__main__":
    raise SystemExit(sandboxed.main("MX_SANDBOX", "MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
