#!/usr/bin/env python3
"""Integration tests of `mx daemon` against real parts in the sandbox: the
sandbox's Unbound behind a query-counting UDP relay, smtp-sink peers, and
SMTP servers this test runs itself on 127.0.0.240 (mx-later.queue.test),
which count connections and transactions and can turn into a tarpit.

What they show: a queued message is picked up within milliseconds
(inotify); N messages to one destination go over few connections (RSET
between transactions); N messages to one domain cost a handful of DNS
queries, not N (libunbound's cache in the daemon's one resolver); a dead
destination is probed once per hold, not once per message, and mail
flows once it is back; a tarpit does not delay a healthy destination;
SIGHUP re-reads the limits, SIGTERM ends within the grace; the syslog
lines (read from a socket this test binds) make pflogsumm count right;
and MX_DAEMON_KILLS (default 200) SIGKILLs at random instants while it
delivers lose nothing (duplicates are counted and reported).
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import sandboxed
from daemon_world import ANCHOR, MX, RESOLVER, CountingRelay, DaemonCase

KILLS = int(os.environ.get("MX_DAEMON_KILLS", "200"))
LATER = "127.0.0.240"   # mx-later.queue.test: only this test's servers listen there
RELAY = "127.0.0.76"    # the query-counting DNS relay


class Daemon(DaemonCase):
    # Tighter than test_daemon_peers.py's and test_daemon_faults.py's.
    ready_seconds, grace_seconds, send_seconds = 20, 20, 30

    def status(self):
        """The daemon's status report; the daemon must answer."""
        p = subprocess.run([MX, "daemon", "status", "--spool", self.spool],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def queue_tags(self, rcpt, n):
        """n messages to rcpt queued before the daemon starts; their tags."""
        return self.queue_many(rcpt, n)

    def wait_delivered(self, srv, tags):
        """Waits until srv has as many messages as tags: they are tags."""
        self.assertTrue(self.wait_for(lambda: len(srv.messages) >= len(tags), 50),
                        self.status() + self.log_text()[-3000:])
        print("%d messages over %d connections" % (len(tags), srv.connections))
        self.assertEqual(sorted(srv.messages), sorted(tags))

    # ---- the tests --------------------------------------------------------

    def test_pickup_latency(self):
        srv = self.server(LATER)
        self.start()
        tag = self.tag()
        t0 = time.monotonic()
        self.queue_msg("a@later.queue.test", tag)
        queued = time.monotonic()
        self.assertTrue(self.wait_for(lambda: tag in srv.messages, 10), self.log_text())
        latency = time.monotonic() - queued
        print("pickup to delivery: %.3f s (mx send itself %.3f s)" % (latency, queued - t0))
        self.assertLess(latency, 1.0)
        self.assertEqual(self.stop(), 0)

    def test_connections_reused(self):
        srv = self.server(LATER)
        tags = self.queue_tags("r@later.queue.test", 60)
        self.start()
        self.wait_delivered(srv, tags)
        # Slow start (one, then up to 20 at once) and reuse: never one per message.
        self.assertLessEqual(srv.connections, 21)
        self.assertIn("reused", self.status())
        self.assertEqual(self.stop(), 0)
        self.assertEqual(self.queue_files(), [])

    def test_split_replies_wait_for_no_delayed_ack(self):
        """This test's server writes each reply of a pipelined group with
        its own send() and Nagle on (socketserver), as Postfix's smtpd
        does: every reply after the first waits until the first is
        acknowledged.  The client acknowledges at once (TCP_QUICKACK after
        each read); without it the kernel's delayed ACK (40 ms) stalled
        every message of a reused session once the connection's first
        segments were past (60 messages over one session: 2.4 s at least;
        bench/daemon-throughput to a Postfix smtpd with STARTTLS: 402
        messages/s, 998 with it)."""
        srv = self.server(LATER)
        n = 60
        tags = self.queue_tags("r@later.queue.test", n)
        self.start("--destination-concurrency", "1")
        self.assertTrue(self.wait_for(lambda: len(srv.messages) >= 1, 30), self.log_text())
        t0 = time.monotonic()
        self.assertTrue(self.wait_for(lambda: len(srv.messages) >= n, 50),
                        self.status() + self.log_text()[-3000:])
        took = time.monotonic() - t0
        print("%d messages over %d connection(s) in %.2f s" % (n - 1, srv.connections, took))
        self.assertEqual(sorted(srv.messages), sorted(tags))
        self.assertLessEqual(srv.connections, 2)
        self.assertLess(took, 1.6)  # 59 x 40 ms = 2.4 s when each waits for an ACK
        self.assertEqual(self.stop(), 0)

    def test_few_messages_share_connections(self):
        """Ten messages to one destination go over a few connections: after
        the probe the destination's window opens one more delivery per
        delivery that reached the server (slow start), so a new delivery
        mostly finds the session the last one parked.  Opening to the limit
        at once started the nine waiting messages together, each on a new
        connection: ten in all (bench/daemon-throughput, 200 destinations
        of 10: 1,952 connections, Postfix 1,835)."""
        srv = self.server(LATER)
        tags = self.queue_tags("r@later.queue.test", 10)
        self.start()
        self.wait_delivered(srv, tags)
        # Windows of 1, 2, 3...: at most 6 at once for 10 (5 + 5 or so).
        self.assertLessEqual(srv.connections, 7)
        self.assertEqual(self.stop(), 0)

    def test_cache_keeps_more_destinations_than_deliveries(self):
        """Kept sessions are not capped by --concurrency: with one delivery
        at a time and two destinations taking turns, each destination's
        session waits in the cache while the other delivers.  A cache as
        small as the concurrency (1) refused the second, and every message
        to it opened a new connection (bench/daemon-throughput, 200
        destinations: 1,465 connections, 1,010 without the cap)."""
        srv = self.server(LATER)
        tags = []
        for i in range(6):
            for domain in ("later.queue.test", "later2.queue.test"):
                tags.append(self.tag())
                self.queue_msg("r@" + domain, tags[-1])
        self.start("--concurrency", "1")
        self.assertTrue(self.wait_for(lambda: len(srv.messages) >= len(tags), 50),
                        self.status() + self.log_text()[-3000:])
        print("%d messages to 2 destinations over %d connections"
              % (len(tags), srv.connections))
        self.assertEqual(sorted(srv.messages), sorted(tags))
        self.assertLessEqual(srv.connections, 3)  # one each (and a spare); capped: 7
        self.assertEqual(self.stop(), 0)

    def test_removals_synced_together(self):
        """Delivered entries are removed with one fsync of queue/ per turn
        of the event loop, not one each: one each held the daemon to the
        disk's fsync rate (bench/daemon-throughput: 90 msg/s on a loaded
        machine, where Postfix, which never fsyncs a removal, did 400)."""
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed (scripts/deps)")
        srv = self.server(LATER, batch=10)  # ten 250s at a time
        n = 60
        tags = self.queue_tags("r@later.queue.test", n)
        trace = os.path.join(self.spool, "fsyncs")
        # LeakSanitizer cannot run under ptrace: no leak check in this one.
        asan = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        self.start(wrapper=["env", "ASAN_OPTIONS=" + asan, "strace", "-f", "-y", "-e",
                            "trace=fsync", "-o", trace])
        self.assertTrue(self.wait_for(lambda: self.queue_files() == [], 50),
                        self.status() + self.log_text()[-3000:])
        # SIGTERM to the daemon under strace, which then ends too.
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            os.kill(int(f.read().split()[0]), signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)
        self.proc = None
        with open(trace) as f:
            syncs = sum(1 for line in f if re.search(r"fsync\(\d+</.*/queue>\)", line))
        print("%d messages delivered and removed: %d fsyncs of queue/" % (n, syncs))
        self.assertEqual(sorted(srv.messages), sorted(tags))
        self.assertGreater(syncs, 0)       # removals are made durable...
        self.assertLessEqual(syncs, n // 2)  # ...together (one each: n)

    def test_dns_cached_across_deliveries(self):
        relay = CountingRelay(RELAY)
        try:
            self.resolver = relay.address
            n = 40
            self.queue_tags("r@sender.queue.test", n)
            before = len(relay.asked())  # mx send --queue-only asks nothing
            self.start()
            self.assertTrue(self.wait_for(lambda: self.queue_files() == [], 50),
                            self.log_text())
            asked = len(relay.asked()) - before
            print("%d messages to one domain: %d DNS queries" % (n, asked))
            # MX, then A and AAAA of the one host (and DNSSEC's DS/DNSKEY
            # questions on the way): a handful, not one set per message.
            self.assertLess(asked, 15)
            self.assertEqual(self.stop(), 0)
        finally:
            relay.stop()

    def test_dead_destination_held_and_probed_once(self):
        tags = [self.tag() for _ in range(5)]
        for t in tags:
            self.queue_msg("r@later.queue.test", t)  # nothing listens: refused
        self.start("--hold", "3", "--retry-first", "2")
        self.assertTrue(self.wait_for(lambda: "held back" in self.log_text(), 10),
                        self.log_text())
        time.sleep(1)
        tried = self.log_text().count("to=<r@later.queue.test>")
        self.assertEqual(tried, 1, self.log_text())  # one probe, not five tries
        self.assertIn("held: later.queue.test until", self.status())
        srv = self.server(LATER)
        # After the hold one probe goes, then the rest follow; the first
        # probe's own message comes back after its retry (--retry-first).
        self.assertTrue(self.wait_for(lambda: len(srv.messages) >= 5, 20), self.log_text())
        self.assertEqual(sorted(srv.messages), sorted(tags))
        self.assertIn("destination later.queue.test is back", self.log_text())
        self.assertEqual(self.stop(), 0)

    def test_tarpit_does_not_hold_a_healthy_destination(self):
        pit = self.server(LATER, "silent")
        for _ in range(3):
            self.queue_msg("t@later.queue.test", self.tag())
        self.start("--smtp-timeout", "greeting=20")
        time.sleep(0.5)
        tag = self.tag()
        t0 = time.monotonic()
        self.queue_msg("h@sender.queue.test", tag)
        self.assertTrue(self.wait_for(
            lambda: "to=<h@sender.queue.test>" in self.log_text(), 10), self.log_text())
        # At once (a loaded machine may take a second or two), not after
        # the tarpit's 20 s greeting timeout.
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertIn("status=sent", [l for l in self.log_text().splitlines()
                                      if "to=<h@sender.queue.test>" in l][0])
        # The tarpit got one connection (one probe of an unproven destination).
        self.assertEqual(pit.connections, 1)
        t0 = time.monotonic()
        self.assertEqual(self.stop(grace=30), 0)  # within --grace (default 10 s)
        self.assertLess(time.monotonic() - t0, 12)

    def test_sighup_rereads_limits(self):
        conf = os.path.join(self.spool, "mx.conf")
        with open(conf, "w") as f:
            f.write("concurrency 7\n")
        self.start("--config", conf)
        self.assertIn("of 7,", self.status())
        with open(conf, "w") as f:
            f.write("concurrency 9\ndestination-concurrency 3\n")
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: "of 9, at most 3" in self.status(), 5))
        self.assertIn("reloaded", self.log_text())
        self.assertEqual(self.stop(), 0)

    def flush(self):
        p = subprocess.run([MX, "queue", "flush"] + self.common(), capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_sighup_applies_resolver_tls_and_says_what_needs_a_restart(self):
        """SIGHUP builds a new resolver and sender from the settings read
        again: a dead resolver replaced, then `tls encrypt` taken in and
        out; a new spool is said to need a restart and kept; a trust
        anchor that cannot start is refused and the resolver kept."""
        conf = os.path.join(self.spool, "mx.conf")
        base = "timeout 2\nhold 60\n"
        here, anchor = "spool %s\n" % self.spool, "trust-anchor %s\n" % ANCHOR

        def hup(text, said):
            with open(conf, "w") as f:
                f.write(base + text)
            n = self.log_text().count(said)
            self.proc.send_signal(signal.SIGHUP)
            self.assertTrue(self.wait_for(lambda: self.log_text().count(said) > n, 10),
                            self.log_text())

        with open(conf, "w") as f:
            f.write(base + here + anchor + "resolver 127.0.0.99@53\n")  # nothing answers
        self.log = tempfile.TemporaryFile(dir=self.spool)
        self.proc = subprocess.Popen([MX, "daemon", "--config", conf, "--log", "stderr",
                                      "--hostname", "client.test"],
                                     stdout=self.log, stderr=self.log)
        self.assertTrue(self.wait_for(self.answers, 20), self.log_text())
        srv = self.server(LATER)
        tag = self.tag()
        self.queue_msg("r@later.queue.test", tag)
        self.assertTrue(self.wait_for(lambda: "held back" in self.log_text(), 20),
                        self.log_text())
        self.assertIn("127.0.0.99", self.log_text())

        hup(here + anchor + "resolver %s\ntls encrypt\n" % RESOLVER,
            "new deliveries use a new resolver")
        self.flush()
        self.assertTrue(self.wait_for(
            lambda: self.log_text().count("to=<r@later.queue.test>") >= 2, 20), self.log_text())
        self.assertIn("STARTTLS", self.log_text().split("new deliveries use")[-1])
        self.assertEqual(srv.messages, [])

        empty = os.path.join(self.spool, "empty.anchor")
        open(empty, "w").close()
        hup(here + "resolver %s\ntrust-anchor %s\n" % (RESOLVER, empty),
            "kept the resolver and delivery settings in force")

        other = os.path.join(self.spool, "elsewhere")
        hup(anchor + "resolver %s\nspool %s\n" % (RESOLVER, other), "needs a restart")
        self.assertIn("spool %s needs a restart; kept %s" % (other, self.spool),
                      self.log_text())
        self.flush()
        self.assertTrue(self.wait_for(lambda: tag in srv.messages, 20), self.log_text())
        self.assertFalse(os.path.exists(other))
        self.assertEqual(self.stop(), 0)

    def test_flush_through_the_daemon(self):
        self.start("--hold", "60")
        tag = self.tag()
        self.queue_msg("r@later.queue.test", tag)  # refused: held for 60 s
        self.assertTrue(self.wait_for(lambda: "held back" in self.log_text(), 10))
        srv = self.server(LATER)
        p = subprocess.run([MX, "queue", "flush"] + self.common(), capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("scheduled now", p.stdout.decode())
        self.assertTrue(self.wait_for(lambda: tag in srv.messages, 10), self.log_text())
        self.assertEqual(self.stop(), 0)

    def test_syslog_and_pflogsumm(self):
        if shutil.which("pflogsumm") is None:
            self.skipTest("pflogsumm is not installed (scripts/deps)")
        path = os.path.join(self.spool, "log.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        srv = self.server(LATER)
        for _ in range(4):
            self.queue_msg("r@later.queue.test", self.tag())
        self.queue_msg("x@rcpt5xx.send.test", self.tag())  # bounced (a DSN follows)
        self.log = tempfile.TemporaryFile(dir=self.spool)
        self.proc = subprocess.Popen([MX, "daemon"] + self.common() +
                                     ["--log", "syslog", "--log-socket", path],
                                     stdout=self.log, stderr=self.log)
        lines = []
        end = time.monotonic() + 30
        while time.monotonic() < end and sum("removed" in l for l in lines) < 5:
            try:
                lines.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        rc = self.stop()
        sock.close()
        self.assertEqual(rc, 0)
        self.assertTrue(all(l.startswith("<22>") for l in lines), lines)
        # As rsyslogd writes them: the timestamp, the host, the rest.
        text = "".join(re.sub(r"^<22>(.{15}) ", r"\1 sandbox ", l) + "\n" for l in lines)
        p = subprocess.run(["pflogsumm", "--syslog-name=mx"], input=text.encode(),
                           capture_output=True, timeout=30)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(out, r"\n\s*4\s+delivered\n", out)
        self.assertRegex(out, r"\n\s*1\s+bounced\n", out)
        self.assertEqual(len(srv.messages), 4)

    def hwm_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))

    def test_entries_learnt_without_their_data(self):
        """The daemon reads an entry's header to schedule it and its data
        only to deliver it, a piece at a time: a 48 MB message queued for
        a destination that is down (refused) does not raise its peak RSS
        by anything like its size."""
        size = 48 << 20
        self.start("--hold", "60")
        time.sleep(0.5)  # the start's own allocations are over
        before = self.hwm_kib()
        line = b"x" * 998 + b"\r\n"
        body = b"Subject: big\r\n\r\n" + line * (size // len(line))
        p = subprocess.run([MX, "send"] + self.common() + ["--queue-only", "-f",
                           "s@sender.queue.test", "big@later.queue.test"], input=body,
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(self.wait_for(lambda: "held back" in self.log_text(), 30),
                        self.log_text())
        self.assertRegex(self.log_text(), r"size=%d\d{3}," % (len(body) // 1000))
        grew = self.hwm_kib() - before
        print("peak RSS grew by %d KiB for a %d MiB message" % (grew, size >> 20))
        self.assertLess(grew * 1024, size // 4, self.log_text())
        self.assertEqual(self.stop(), 0)

    def test_one_off_destinations_are_freed(self):
        """A destination the daemon no longer needs (no entry, no delivery,
        no hold) is freed: 30 messages to 30 domains that do not exist
        bounce, and the status counts no destination afterwards."""
        n = 30
        for i in range(n):
            self.queue_msg("x@nx%d-%d.queue.test" % (i, os.getpid()), self.tag())
        self.start()
        # Each bounce's DSN goes to sender.queue.test, which accepts it.
        self.assertTrue(self.wait_for(lambda: self.queue_files() == [], 60),
                        self.status() + self.log_text()[-3000:])
        self.assertEqual(self.log_text().count("status=bounced"), n, self.log_text())
        self.assertTrue(self.wait_for(
            lambda: re.search(r"^destinations: 0$", self.status(), re.M), 10), self.status())
        self.assertEqual(self.stop(), 0)

    def syslog_socket(self):
        path = os.path.join(self.spool, "log.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        return path, sock

    def pflogsumm(self, lines):
        self.assertTrue(lines)
        self.assertTrue(all(l.startswith("<22>") for l in lines), lines)
        # As rsyslogd writes them: the timestamp, the host, the rest.
        text = "".join(re.sub(r"^<22>(.{15}) ", r"\1 sandbox ", l) + "\n" for l in lines)
        p = subprocess.run(["pflogsumm", "--syslog-name=mx"], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def test_queue_run_syslog_and_pflogsumm(self):
        """`mx queue run --log syslog` tags its lines as the daemon does
        (mx/qmgr, mx/smtp), not mx[PID], so pflogsumm counts them."""
        if shutil.which("pflogsumm") is None:
            self.skipTest("pflogsumm is not installed (scripts/deps)")
        path, sock = self.syslog_socket()
        srv = self.server(LATER)
        for _ in range(3):
            self.queue_msg("r@later.queue.test", self.tag())
        self.queue_msg("x@rcpt5xx.send.test", self.tag())  # bounced (a DSN follows)
        lines, done = [], threading.Event()

        def read():  # as syslogd would, while the run writes (datagrams block)
            while not done.is_set():
                try:
                    lines.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
        reader = threading.Thread(target=read)
        reader.start()
        try:
            p = subprocess.run([MX, "queue", "run"] + self.common() +
                               ["--log", "syslog", "--log-socket", path],
                               capture_output=True, timeout=120)
        finally:
            time.sleep(0.5)  # the last datagrams
            done.set()
            reader.join()
            sock.close()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(any(re.search(r" mx/smtp\[\d+\]: \w+: to=<", l) for l in lines),
                        lines)
        self.assertTrue(any(re.search(r" mx/qmgr\[\d+\]: \w+: from=<", l) for l in lines),
                        lines)
        out = self.pflogsumm(lines)
        # The three, and the bounce's DSN to sender.queue.test (same pass).
        self.assertRegex(out, r"\n\s*4\s+delivered\n", out)
        self.assertRegex(out, r"\n\s*3\s+\d+\s+0\s.*later\.queue\.test\n", out)
        self.assertRegex(out, r"\n\s*1\s+bounced\n", out)
        self.assertEqual(len(srv.messages), 3)

    def test_sigkill_loses_nothing(self):
        srv = self.server(LATER)
        n = 100
        tags = self.queue_tags("r@later.queue.test", n)
        rng = random.Random(os.getpid())
        kills = 0
        deadline = time.monotonic() + 45
        while kills < KILLS and time.monotonic() < deadline:
            proc = subprocess.Popen([MX, "daemon"] + self.common() + ["--log", "stderr"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.15))
            proc.kill()
            proc.wait()
            kills += 1
        self.start()  # to the end, unharmed
        self.assertTrue(self.wait_for(lambda: self.queue_files() == [], 50), self.log_text())
        self.assertEqual(self.stop(), 0)
        got = set(srv.messages)
        missing = [t for t in tags if t not in got]
        dups = len(srv.messages) - len(got)
        print("%d SIGKILLs while delivering %d messages: %d lost, %d duplicates"
              % (kills, n, len(missing), dups))
        self.assertGreaterEqual(kills, min(KILLS, 100))
        self.assertEqual(missing, [])
        self.assertEqual(os.listdir(os.path.join(self.spool, "corrupt")), [])


if __name__ == "__main__":
    raise SystemExit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR",
                                    "MX_SANDBOX_MAIL"))
