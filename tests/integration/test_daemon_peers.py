#!/usr/bin/env python3
"""`mx daemon` against real peers (issue 15), on the dtests.test names of
tests/sandbox/zones/test.zone (127.0.2.0/24):

- a real Postfix smtpd with STARTTLS (a private instance, postfix_peer.py,
  with a certificate for its name signed by the sandbox's test CA,
  discarding what it accepts): N messages, the connections counted in
  smtpd's own log, each with TLS, far fewer than the messages;
- DNS questions counted at a relay in front of Unbound: 1,000 messages to
  one domain cost a handful; a domain whose records live 5 s is asked
  again once they expired and not before; the TLSA record of a DANE host
  (5 s TTL, signed.test) likewise;
- 8 tarpit destinations (four that never greet, four that stall after
  EHLO) hold a connection each while mail for a healthy destination
  leaves at once, and the per-delivery deadline ends them;
- a dead destination with 60 messages waiting is tried once per hold,
  not once per message, and all 60 go once it is back.
"""
import os
import subprocess
import tempfile
import time

import sandboxed
from daemon_world import MX, DaemonCase, CountingRelay
from postfix_peer import Postfix

PF_ADDR = "127.0.2.20"     # mx-pf.dtests.test
TTL_ADDR = "127.0.2.21"    # mx-ttl5.dtests.test
DANE_ADDR = "127.0.2.22"   # mx-dane-ttl.signed.test
RELAY_ADDR = "127.0.2.53"  # the counting DNS relay
TARPITS = ["127.0.2.%d" % (31 + i) for i in range(8)]  # mx-tarpitN.dtests.test
LATER = "127.0.0.240"      # mx-later.queue.test (nothing else listens there)
TTL = 5                    # ttl5.dtests.test and _25._tcp.mx-dane-ttl.signed.test
T_MX, T_TLSA = 15, 52
HERE = os.path.dirname(os.path.abspath(__file__))


def make_cert(work, name):
    """A certificate for name signed by the sandbox's test CA (its key is
    in $MX_SANDBOX_DIR/tls); returns (cert, key)."""
    tls = os.path.join(os.environ["MX_SANDBOX_DIR"], "tls")
    key, csr, cert = (os.path.join(work, n) for n in ("pf.key", "pf.csr", "pf.pem"))
    ext = os.path.join(work, "ext.cnf")
    with open(ext, "w") as f:
        f.write("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:%s\n" % name)
    env = dict(os.environ, OPENSSL_CONF=os.path.join(tls, "openssl.cnf"))
    for cmd in (["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-noenc", "-keyout", key, "-out", csr,
                 "-subj", "/O=mxkit tests/CN=" + name],
                ["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(tls, "ca.pem"),
                 "-CAkey", os.path.join(tls, "ca.key"), "-set_serial", str(os.getpid()),
                 "-days", "2", "-extfile", ext, "-out", cert]):
        subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=60)
    return cert, key


class DaemonPeers(DaemonCase):

    def relay(self):
        r = CountingRelay(RELAY_ADDR)
        self.cleanups.append(r.stop)
        self.resolver = r.address
        return r

    def sent(self, rcpt):
        return [l for l in self.lines("to=<%s>" % rcpt) if "status=sent" in l]

    # ---- a real Postfix smtpd with STARTTLS ------------------------------------

    def test_postfix_starttls_receiver_connections_reused(self):
        work = tempfile.mkdtemp(prefix="mx-pf-cert.", dir=self.spool)
        cert, key = make_cert(work, "mx-pf.dtests.test")
        pf = Postfix(PF_ADDR, "mx-pf.dtests.test", cert, key)
        self.cleanups.append(pf.stop)
        pf.start()
        n = 200
        self.queue_many("r@pf.dtests.test", n)
        t0 = time.monotonic()
        # verify: a session without TLS, or with a certificate that does not
        # check out, defers instead of delivering.
        self.start("--tls", "verify", "--ca-file", os.environ["MX_SANDBOX_CA"])
        self.assertTrue(self.wait_for(lambda: len(self.sent("r@pf.dtests.test")) >= n, 180),
                        self.status() + self.log_text()[-3000:])
        took = time.monotonic() - t0
        self.assertEqual(self.stop(), 0)
        self.assertEqual(self.queue_files(), [])
        self.assertTrue(self.wait_for(lambda: sum(s.get("data", 0) for s in pf.sessions())
                                      >= n, 20), pf.read_log()[-3000:])
        sessions = pf.sessions()
        connects = pf.count(r"postfix/smtpd\[\d+\]: connect from ")
        tls = pf.count(r"postfix/smtpd\[\d+\]: \w+ TLS connection established from ")
        print("Postfix smtpd (STARTTLS) received %d messages over %d connections "
              "(%d with TLS) in %.1f s" % (n, connects, tls, took))
        self.assertEqual(len(sessions), connects)
        self.assertEqual(sum(s.get("data", 0) for s in sessions), n)
        self.assertEqual(tls, connects)
        self.assertTrue(all(s.get("starttls") == 1 for s in sessions), sessions)
        # Reuse: at most the destination limit's sessions (20) and a spare,
        # never one per message.
        self.assertLessEqual(connects, 21)
        self.assertLess(connects * 5, n)

    # ---- DNS by TTL ------------------------------------------------------------

    def test_dns_1000_messages_to_one_domain(self):
        relay = self.relay()
        n = 1000
        self.queue_many("r@sender.queue.test", n)
        before = len(relay.asked())  # mx send --queue-only asks nothing
        t0 = time.monotonic()
        self.start()
        self.assertTrue(self.wait_for(lambda: self.queue_files() == [], 300),
                        self.status() + self.log_text()[-3000:])
        took = time.monotonic() - t0
        asked = relay.asked()[before:]
        print("%d messages to one domain in %.1f s: %d DNS queries (%s)"
              % (n, took, len(asked), ", ".join("%s/%d" % q[1:] for q in asked)))
        self.assertEqual(len(self.sent("r@sender.queue.test")), n)
        # MX, A and AAAA of the one host, and DNSSEC's DS/DNSKEY questions
        # on the way: a handful, the same as for 40 (test_daemon.py).
        self.assertLess(len(asked), 15)
        self.assertEqual(self.stop(), 0)

    def deliver_one(self, rcpt, seen):
        """Queues one message and waits for its 250; its tag."""
        tag = self.tag()
        self.queue_msg(rcpt, tag)
        self.assertTrue(self.wait_for(lambda: tag in seen(), 20), self.log_text()[-3000:])
        return tag

    def asked_again_after_ttl(self, rcpt, qname, qtype, seen):
        """Deliveries within the TTL ask qname once; one after it asks again;
        never two questions less than the TTL apart (less a second: the
        cache counts from the answer, the relay from the question)."""
        relay = self.relay()
        # A session is never reused (1 ms idle): every delivery needs its
        # route, and TLSA records, from the resolver's cache or the wire.
        self.start("--reuse-idle", "1")
        self.deliver_one(rcpt, seen)
        first = relay.asked(qname, qtype)
        self.assertEqual(len(first), 1, relay.asked())
        t_first = first[0][0]
        for _ in range(2):
            self.deliver_one(rcpt, seen)
        print("three deliveries within %.1f s of the first question"
              % (time.monotonic() - t_first))
        time.sleep(max(0.0, t_first + TTL + 1.5 - time.monotonic()))
        before = len(relay.asked(qname, qtype))
        self.deliver_one(rcpt, seen)
        times = [q[0] for q in relay.asked(qname, qtype)]
        print("%s/%d asked at +%s s" % (qname, qtype, ", +".join("%.1f" % (t - t_first)
                                                                for t in times)))
        self.assertGreater(len(times), before, relay.asked())  # asked again once expired
        self.assertTrue(all(b - a >= TTL - 1 for a, b in zip(times, times[1:])), times)
        self.assertEqual(self.stop(), 0)

    def test_dns_asked_again_once_the_ttl_passed(self):
        srv = self.server(TTL_ADDR)
        self.asked_again_after_ttl("r@ttl5.dtests.test", "ttl5.dtests.test", T_MX,
                                   lambda: srv.messages)

    def test_tlsa_cached_for_its_ttl(self):
        dump = tempfile.mkdtemp(prefix="dane.", dir=self.spool)
        tls = os.path.join(os.environ["MX_SANDBOX_DIR"], "tls")
        peer = subprocess.Popen(["python3", os.path.join(HERE, "..", "sandbox", "smtp_peer.py"),
                                 "--listen", DANE_ADDR, "--dump", dump, "--hostname",
                                 "mx-dane-ttl.signed.test", "--starttls",
                                 os.path.join(tls, "server.pem"),
                                 os.path.join(tls, "server.key")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cleanups.append(lambda: (peer.kill(), peer.wait()))
        self.assertTrue(self.wait_for(lambda: subprocess.run(
            ["ss", "-Hltn", "src", DANE_ADDR + ":25"], capture_output=True,
            text=True).stdout.strip() != "", 20))

        def seen():
            out = []
            for name in os.listdir(dump):
                if name.startswith("msg."):
                    with open(os.path.join(dump, name), errors="replace") as f:
                        out += [l.split()[1] for l in f if l.startswith("Subject: ")]
            return out
        self.asked_again_after_ttl("r@dane-ttl.signed.test",
                                   "_25._tcp.mx-dane-ttl.signed.test", T_TLSA, seen)
        # Authenticated by DANE, every time (the line's tls= field).
        lines = self.sent("r@dane-ttl.signed.test")
        self.assertEqual(len(lines), 4, self.log_text())
        self.assertTrue(all("dane" in l.lower() for l in lines), lines)

    # ---- tarpits -----------------------------------------------------------------

    def test_eight_tarpits_while_a_healthy_destination_leaves_at_once(self):
        pits = [self.server(a, "silent" if i < 4 else "stall") for i, a in enumerate(TARPITS)]
        for i in range(8):
            for _ in range(2):
                self.queue_msg("t@tarpit%d.dtests.test" % (i + 1), self.tag())
        deadline = 12
        # Stage timeouts far beyond the deadline: only the deadline ends them.
        self.start("--deadline", str(deadline), "--smtp-timeout", "greeting=120",
                   "--smtp-timeout", "ehlo=120", "--smtp-timeout", "mail=120")
        self.assertTrue(self.wait_for(lambda: all(p.open >= 1 for p in pits), 20),
                        [p.open for p in pits])
        tag = self.tag()
        t0 = time.monotonic()
        self.queue_msg("h@sender.queue.test", tag)
        self.assertTrue(self.wait_for(lambda: self.sent("h@sender.queue.test"), 10),
                        self.log_text()[-3000:])
        took = time.monotonic() - t0
        held = [p.open for p in pits]
        print("healthy mail out %.2f s after queueing, tarpits holding %s" % (took, held))
        self.assertLess(took, 5.0)  # at once (a loaded machine may take a second or two)
        self.assertTrue(all(h >= 1 for h in held), held)
        # The deadline ends each tarpit's delivery: deferred (4.4.7), held back.
        self.assertTrue(self.wait_for(lambda: all(p.open == 0 for p in pits), deadline + 20),
                        [p.open for p in pits])
        lives = [b - a for p in pits for a, b in p.lives]
        print("tarpit connections lasted %.1f-%.1f s (--deadline %d)"
              % (min(lives), max(lives), deadline))
        self.assertLess(max(lives), deadline + 10)
        for i in range(8):
            self.assertTrue(self.wait_for(lambda: "held: tarpit%d.dtests.test" % (i + 1)
                                          in self.status(), 10), self.status())
        self.assertIn("4.4.7", "".join(self.lines("to=<t@tarpit")))
        self.assertEqual(self.stop(), 0)

    # ---- a dead destination --------------------------------------------------------

    def test_dead_destination_with_many_messages_tried_once_per_hold(self):
        n = 60
        tags = self.queue_many("r@later.queue.test", n)  # nothing listens: refused
        self.start("--hold", "3", "--retry-first", "2")
        tries = lambda: len(self.lines("to=<r@later.queue.test>"))  # noqa: E731
        held = lambda: len(self.lines("destination later.queue.test held back"))  # noqa: E731
        self.assertTrue(self.wait_for(lambda: held() >= 1, 20), self.log_text())
        t1 = time.monotonic()
        self.assertEqual(tries(), 1, self.log_text()[-3000:])  # one probe, not 60 tries
        # The hold (3 s) ends: one more probe, held for 6 s.
        self.assertTrue(self.wait_for(lambda: held() >= 2, 15), self.log_text()[-3000:])
        self.assertGreaterEqual(time.monotonic() - t1, 2.0)
        time.sleep(1)
        self.assertEqual(tries(), 2, self.log_text()[-3000:])
        self.assertIn("held: later.queue.test until", self.status())
        srv = self.server(LATER)
        p = subprocess.run([MX, "queue", "flush"] + self.common(), capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(self.wait_for(lambda: len(set(srv.messages)) >= n, 60),
                        self.log_text()[-3000:])
        self.assertEqual(sorted(set(srv.messages)), sorted(tags))
        print("%d messages for a dead destination: %d tries while dead; "
              "then %d connections" % (n, 2, srv.connections))
        self.assertLessEqual(srv.connections, 21)
        self.assertEqual(self.stop(), 0)


if __name__ == "__main__":
    raise SystemExit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR",
                                    "MX_SANDBOX_MAIL", "MX_SANDBOX_CA"))
