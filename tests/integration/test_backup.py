#!/usr/bin/env python3
"""Integration tests of `mx daemon --backup-domain` (issue 16): recipient
verification against a better MX host, the cache of its answers (kept
across a restart in SPOOL/private/verify.cache: Restart), and held backup
mail delivered as soon as the primary returns.

In the sandbox's DNS (tests/sandbox/zones/test.zone, 127.0.3.0/24):
bverify.test has MX 10 mx-primary.bverify.test (127.0.3.10: a real SMTP
server, tests/sandbox/smtp_peer.py, that this test starts and stops; it
refuses reject-* with 550 5.1.1 and defers defer-* with 450) and MX 20
mx-backup.bverify.test (127.0.3.20: the mx daemon under test, as root
then nobody).  Clients are Python's smtplib from 127.0.3.30, outside the
relay networks.  Probes are counted at the primary from its session
transcripts: a session with RCPT and no DATA is a verification probe.
"""
import glob
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sandbox", "smtp_peer.py")
PRIMARY, BACKUP, CLIENT = "127.0.3.10", "127.0.3.20", "127.0.3.30"
SLOW = "127.0.3.11"  # slow.bverify.test's primary: never greets
DOMAIN = "bverify.test"


def wait_for(what, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


class Backup(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mx-backup-")
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        sandboxed.nobody_spool(MX, self.spool)
        self.dump = os.path.join(self.dir, "primary")
        os.makedirs(self.dump)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.peer_log = open(os.path.join(self.dir, "peer.log"), "w+")
        self.proc = self.peer = None
        self.peers = []

    def tearDown(self):
        for p in [self.proc, self.peer] + self.peers:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        self.log.close()
        self.peer_log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        return sandboxed.read_log(self.log)

    def listening(self, host, port=25):
        import socket
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False

    def start_primary(self, addr=PRIMARY, *extra):
        peer = subprocess.Popen([sys.executable, PEER, "--listen", addr, "--dump",
                                 self.dump, "--hostname", "mx-primary.bverify.test"]
                                + (list(extra) or ["--no-starttls"]),
                                stdout=self.peer_log, stderr=self.peer_log)
        if addr == PRIMARY:
            self.peer = peer
        else:
            self.peers.append(peer)
        self.assertTrue(wait_for(lambda: self.listening(addr), 15), "the primary did not start")

    def stop_primary(self):
        self.peer.terminate()
        self.peer.wait()
        self.peer = None

    def start(self, *extra):
        cmd = [MX, "daemon", "--resolver", RESOLVER, "--trust-anchor", ANCHOR,
               "--spool", self.spool, "--log", "stderr", "--hostname", "mx-backup.bverify.test",
               "--listen", "%s:25" % BACKUP, "--relay-network", "127.0.0.1/32",
               "--backup-domain", DOMAIN, "--backup-domain", "selfonly." + DOMAIN,
               "--backup-domain", "slow." + DOMAIN,
               "--user", "nobody", "--greet-pause", "0"] + list(extra)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        sandboxed.wait_listening(self, self.proc, BACKUP, 25, 10, self.log_text)
        if self.proc.poll() is not None:
            self.fail("daemon exited: " + self.log_text())

    def client(self):
        c = smtplib.SMTP(BACKUP, 25, timeout=30, source_address=(CLIENT, 0))
        c.ehlo("client.test")
        self.assertEqual(c.mail("sender@example.org")[0], 250)
        return c

    def sessions(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dump, "session.*.log"))):
            with open(path, errors="replace") as f:
                out.append(f.read())
        return out

    def probes(self, addr):
        """Sessions at the primary that asked RCPT for addr and sent no DATA."""
        rcpt = "C: RCPT TO:<%s>" % addr
        return sum(1 for s in self.sessions() if rcpt in s and "C: DATA" not in s)

    def delivered(self, addr):
        for path in glob.glob(os.path.join(self.dump, "msg.*")):
            with open(path, errors="replace") as f:
                if addr in f.read():
                    return path
        return None


class PrimaryUp(Backup):
    def test_known_accepted_and_delivered_unknown_refused_answers_cached(self):
        self.start_primary()
        self.start()
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)
        code, text = c.rcpt("reject-nobody@" + DOMAIN)
        self.assertEqual((code, text[:5]), (550, b"5.1.1"), text)
        self.assertEqual(c.data("Subject: via the backup\r\n\r\nhello\r\n")[0], 250)
        c.quit()
        # The probe ended before DATA, and said QUIT: no message at the primary from it.
        self.assertEqual(self.probes("known@" + DOMAIN), 1, self.sessions())
        self.assertEqual(self.probes("reject-nobody@" + DOMAIN), 1)
        self.assertTrue(wait_for(lambda: self.delivered("known@" + DOMAIN), 30),
                        "not delivered to the primary: " + self.log_text())
        # Both answers come from the cache now: no new probe.
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)
        self.assertEqual(c.rcpt("reject-nobody@" + DOMAIN)[0], 550)
        c.quit()
        self.assertEqual(self.probes("known@" + DOMAIN), 1)
        self.assertEqual(self.probes("reject-nobody@" + DOMAIN), 1)
        self.assertIn("verify: <known@bverify.test>: accepted by mx-primary.bverify.test",
                      self.log_text())

    def test_quoted_local_parts_asked_and_delivered_as_sent(self):
        # RFC 5321 4.1.2: the better host is asked about, and gets, the
        # quoted local part exactly as the client wrote it.
        quoted = ['"john doe"@' + DOMAIN, '"a\\"b"@' + DOMAIN]
        self.start_primary()
        self.start()
        c = self.client()
        for addr in quoted:
            code, text = c.docmd("RCPT TO:<%s>" % addr)
            self.assertEqual(code, 250, (addr, text))
        self.assertEqual(c.data("Subject: quoted via the backup\r\n\r\nhello\r\n")[0], 250)
        c.quit()
        for addr in quoted:
            # (the peer's transcript shows a backslash doubled)
            self.assertEqual(self.probes(addr.replace("\\", "\\\\")), 1, self.sessions())
            self.assertTrue(wait_for(lambda: self.delivered("X-Rcpt-Args: <%s>\n" % addr), 30),
                            "not delivered to the primary: " + self.log_text())

    def test_negative_answer_expires(self):
        self.start_primary()
        self.start("--verify-negative-ttl", "1")
        c = self.client()
        self.assertEqual(c.rcpt("reject-gone@" + DOMAIN)[0], 550)
        c.quit()
        time.sleep(2.2)  # the TTL is the thing under test: it must pass
        c = self.client()
        self.assertEqual(c.rcpt("reject-gone@" + DOMAIN)[0], 550)
        c.quit()
        self.assertEqual(self.probes("reject-gone@" + DOMAIN), 2)

    def test_a_known_answer_outlives_the_primary(self):
        self.start_primary()
        self.start()
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)
        c.quit()
        self.stop_primary()
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)  # from the cache
        self.assertEqual(c.rcpt("other@" + DOMAIN)[0], 450)  # nobody to ask
        c.quit()

    def test_a_waiting_rcpt_blocks_no_one(self):
        # slow.bverify.test's better host never greets: that probe waits
        # for --verify-timeout while other clients are served at once.
        self.start_primary()
        self.start_primary(SLOW, "--no-starttls", "--slow-greeting", "60")
        self.start("--verify-timeout", "4000")
        import socket
        waiting = socket.create_connection((BACKUP, 25), timeout=30, source_address=(CLIENT, 0))
        f = waiting.makefile("rb")
        f.readline()
        waiting.sendall(b"EHLO a.test\r\nMAIL FROM:<s@example.org>\r\n"
                        b"RCPT TO:<someone@slow.bverify.test>\r\n")
        t0 = time.time()
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)
        c.quit()
        self.assertLess(time.time() - t0, 3)
        lines = []
        while not lines or not lines[-1].startswith(b"450"):
            lines.append(f.readline())
            self.assertTrue(lines[-1], lines)
        self.assertGreater(time.time() - t0, 3)  # it waited for the deadline
        self.assertIn(b"4.1.1", lines[-1])
        waiting.close()
        # A probe still under way when the daemon stops: a clean end.
        waiting = socket.create_connection((BACKUP, 25), timeout=30, source_address=(CLIENT, 0))
        waiting.sendall(b"EHLO a.test\r\nMAIL FROM:<s@example.org>\r\n"
                        b"RCPT TO:<other@slow.bverify.test>\r\n")
        self.assertTrue(wait_for(lambda: self.log_text().count("connect from") >= 3, 10))
        time.sleep(0.5)  # the RCPT read and its probe started
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        waiting.close()
        # No crash, no use after free, and nothing leaked: the session
        # still open at the stop and its probe are freed with the server
        # (under ASan a leak would be LeakSanitizer's exit 1).
        text = self.log_text()
        self.assertIn("stopped", text)
        self.assertNotIn("ERROR: AddressSanitizer", text)
        self.assertNotIn("ERROR: LeakSanitizer", text)
        self.assertNotIn("runtime error:", text)
        self.assertEqual(rc, 0, text)

    def test_primary_4xx_is_not_an_answer(self):
        self.start_primary()
        self.start()
        c = self.client()
        self.assertEqual(c.rcpt("defer-later@" + DOMAIN)[0], 450)
        c.quit()


class PrimaryDown(Backup):
    def test_450_without_a_list(self):
        self.start()
        c = self.client()
        t = time.time()
        code, text = c.rcpt("someone@" + DOMAIN)
        self.assertEqual((code, text[:5]), (450, b"4.1.1"), text)
        self.assertLess(time.time() - t, 8)  # refused connection: no wait for the deadline
        c.quit()

    def test_list_decides_when_no_better_host_answers(self):
        path = os.path.join(self.dir, "rcpts")
        with open(path, "w") as f:
            f.write("listed@%s\n" % DOMAIN)
        self.start("--backup-recipients", path)
        c = self.client()
        self.assertEqual(c.rcpt("listed@" + DOMAIN)[0], 250)
        self.assertEqual(c.rcpt("unlisted@" + DOMAIN)[0], 550)
        c.quit()

    def test_this_host_by_address_is_no_better_host(self):
        # selfonly's MX 10 is this daemon under another name: only its
        # address says so; asking it would be asking itself.
        self.start()
        c = self.client()
        t = time.time()
        self.assertEqual(c.rcpt("someone@selfonly." + DOMAIN)[0], 450)
        self.assertLess(time.time() - t, 5)
        c.quit()
        self.assertIn("no MX host of selfonly.bverify.test is better than this one",
                      self.log_text())

    def test_held_mail_goes_when_the_primary_returns(self):
        path = os.path.join(self.dir, "rcpts")
        with open(path, "w") as f:
            f.write("@%s\n" % DOMAIN)
        self.start("--backup-recipients", path)
        c = self.client()
        self.assertEqual(c.rcpt("held@" + DOMAIN)[0], 250)
        self.assertEqual(c.data("Subject: held\r\n\r\nhello\r\n")[0], 250)
        c.quit()
        self.assertTrue(wait_for(lambda: "held back" in self.log_text(), 30),
                        "no failed delivery first: " + self.log_text())
        self.start_primary()
        back = time.time()
        self.assertTrue(wait_for(lambda: self.delivered("held@" + DOMAIN), 40),
                        "not delivered after the primary returned: " + self.log_text())
        took = time.time() - back
        # The probe runs every 10 s; the hold (60 s) and the queue's own
        # backoff are longer: anything under 30 s is the probe's doing.
        self.assertLess(took, 30, self.log_text())
        print("held mail delivered %.1f s after the primary returned" % took)
        self.assertIn("destination bverify.test released: better MX host "
                      "mx-primary.bverify.test answers", self.log_text())


class Restart(Backup):
    """The answers outlive a restart (SPOOL/private/verify.cache): a backup
    restarted while the primary is down still takes the recipients the
    primary took and refuses those it refused, asking no one."""

    def cache_file(self):
        return os.path.join(self.spool, "private", "verify.cache")

    def cache_text(self):
        try:
            with open(self.cache_file(), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def verify_both(self, *extra):
        self.start_primary()
        self.start(*extra)
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250)
        self.assertEqual(c.rcpt("reject-nobody@" + DOMAIN)[0], 550)
        c.quit()
        self.assertEqual(self.probes("known@" + DOMAIN), 1)
        self.stop_primary()

    def queued(self):
        p = subprocess.run([MX, "queue", "list", "--json", "--spool", self.spool],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [r["to"] for line in p.stdout.splitlines()
                for r in json.loads(line)["recipients"]]

    def still_known(self):
        """The restarted backup, no primary reachable: the answers of before."""
        self.assertFalse(self.listening(PRIMARY))
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 250, self.log_text())
        code, text = c.rcpt("reject-nobody@" + DOMAIN)
        self.assertEqual((code, text[:5]), (550, b"5.1.1"), text)
        self.assertEqual(c.rcpt("never-asked@" + DOMAIN)[0], 450)  # nobody to ask
        self.assertEqual(c.data("Subject: after the restart\r\n\r\nhello\r\n")[0], 250)
        c.quit()
        self.assertEqual(self.queued(), ["known@" + DOMAIN])
        self.assertEqual(self.probes("known@" + DOMAIN), 1)  # asked once, before

    def test_sigterm(self):
        self.verify_both()
        self.proc.terminate()
        self.assertEqual(self.proc.wait(timeout=30), 0, self.log_text())
        self.assertIn("verify: 2 answers saved to %s" % self.cache_file(), self.log_text())
        self.assertIn("accepted known@bverify.test\n", self.cache_text())
        self.start()
        self.assertIn("verify: 2 answers read from %s (0 ended, 0 of domains not backed "
                      "up now)" % self.cache_file(), self.log_text())
        self.still_known()

    def test_sigkill_after_a_periodic_save(self):
        self.verify_both("--verify-save-interval", "1")
        self.assertTrue(wait_for(lambda: "refused reject-nobody@" in self.cache_text(), 15),
                        "not saved: " + self.log_text())
        self.proc.kill()
        self.proc.wait()
        self.start()
        self.still_known()

    def test_sighup_saves(self):
        self.verify_both()  # the default interval is 60 s: only SIGHUP saves
        self.assertEqual(self.cache_text(), "")
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "2 answers saved" in self.log_text(), 15),
                        "SIGHUP saved nothing: " + self.log_text())
        self.proc.kill()
        self.proc.wait()
        self.start()
        self.still_known()

    def test_damaged_file_refused(self):
        os.makedirs(os.path.dirname(self.cache_file()), exist_ok=True)
        with open(self.cache_file(), "w") as f:
            f.write("mx-verify-cache 1\n9000000000 accepted known@%s\n"
                    "9000000000 accepted <forged@%s>\n" % (DOMAIN, DOMAIN))
        subprocess.run(["chown", "-R", "nobody:nogroup", os.path.dirname(self.cache_file())],
                       check=True)
        os.chmod(self.cache_file(), 0o600)
        self.start()
        self.assertIn("warning: verify: %s: line 3: its address is not one the server keeps"
                      % self.cache_file(), self.log_text())
        self.assertIn("(kept as verify.cache.bad); starting with no answers kept",
                      self.log_text())
        c = self.client()
        self.assertEqual(c.rcpt("known@" + DOMAIN)[0], 450)  # line 2 is not trusted either
        c.quit()
        self.assertTrue(os.path.exists(self.cache_file() + ".bad"))


if __name__ == "__main__":
    raise SystemExit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
