"""What test_daemon.py, test_daemon_peers.py and test_daemon_faults.py
share: a counting SMTP receiver the test runs on an address of its own
(which can be a tarpit, slow to say 250, or hold 250s to give them in
batches), a UDP relay in front of the sandbox's Unbound that records every
question, and a unittest base class that runs `mx daemon` on a spool of
its own.  No test methods here (the importing script's unittest.main must
not find any twice).
"""
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest

MX = os.environ.get("MX_BIN", "build/src/mx")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
SENDER = "s@sender.queue.test"


class Smtp(socketserver.ThreadingTCPServer):
    """An SMTP receiver on addr:25: counts connections and messages (by
    Subject), records each connection's life (opened, closed).  mode:
    "accept"; "silent" (accepts, never greets); "stall" (greets, answers
    EHLO, then never answers again).  delay: seconds before each 250 to
    the final dot (the message is counted first: a client killed while
    waiting has had it delivered).  batch > 0: the 250 after DATA waits
    until that many messages wait for theirs (or 1 s passed), then they
    all get it at once."""
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, mode="accept", delay=0.0, batch=0):
        self.lock = threading.Lock()
        self.connections = 0
        self.open = 0
        self.lives = []  # (opened, closed) monotonic seconds
        self.messages = []
        self.mode, self.delay, self.batch = mode, delay, batch
        self.cond = threading.Condition()
        self.waiting = 0
        self.generation = 0
        self.stopping = threading.Event()
        super().__init__((addr, 25), SmtpHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        pass  # a client killed mid-transaction is expected here


class SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        opened = time.monotonic()
        with srv.lock:
            srv.connections += 1
            srv.open += 1
        try:
            self.session(srv)
        except OSError:
            pass
        finally:
            with srv.lock:
                srv.open -= 1
                srv.lives.append((opened, time.monotonic()))

    def hold(self, srv):
        """A tarpit: says nothing more until the client hangs up."""
        self.connection.settimeout(1)
        while not srv.stopping.is_set():
            try:
                if not self.connection.recv(4096):
                    return
            except socket.timeout:
                continue

    def session(self, srv):
        if srv.mode == "silent":
            return self.hold(srv)
        self.reply("220 receiver.dtests.test ESMTP test")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip().upper()
            if cmd.startswith("EHLO"):
                self.reply("250-receiver.dtests.test\r\n250 PIPELINING")
                if srv.mode == "stall":
                    return self.hold(srv)
            elif cmd.startswith(("MAIL", "RCPT", "RSET", "HELO")):
                self.reply("250 2.0.0 ok")
            elif cmd == "DATA":
                self.reply("354 go ahead")
                self.data(srv)
            elif cmd == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("500 5.5.1 what")

    def data(self, srv):
        body = []
        while True:
            data = self.rfile.readline()
            if not data or data == b".\r\n":
                break
            body.append(data.decode("latin-1"))
        m = re.search(r"^Subject: (\S+)", "".join(body), re.M)
        with srv.lock:
            srv.messages.append(m.group(1) if m else "")
        if srv.delay:
            time.sleep(srv.delay)
        if srv.batch:
            self.wait_batch(srv)
        self.reply("250 2.0.0 queued")

    def wait_batch(self, srv):
        with srv.cond:
            gen = srv.generation
            srv.waiting += 1
            if srv.waiting < srv.batch and srv.cond.wait_for(
                    lambda: srv.generation != gen, timeout=1.0):
                return
            if srv.generation == gen:  # the batch is full, or the wait is over
                srv.generation += 1
                srv.waiting = 0
                srv.cond.notify_all()


def question(data):
    """(qname in lower case, qtype) of a DNS query's first question."""
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n
    return ".".join(labels).lower(), int.from_bytes(data[i + 1:i + 3], "big")


class CountingRelay:
    """UDP DNS relay on addr:53 to the sandbox's Unbound: every question
    it passes on is recorded as (monotonic time, qname, qtype)."""

    def __init__(self, addr):
        host, _, port = RESOLVER.partition("@")
        self.upstream = (host, int(port or 53))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)  # stop() waits for the thread, then closes
        self.address = addr + "@53"
        self.queries = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.queries.append((time.monotonic(),) + question(data))
            threading.Thread(target=self.forward, args=(data, peer), daemon=True).start()

    def forward(self, data, peer):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(5)
        try:
            up.sendto(data, self.upstream)
            self.sock.sendto(up.recvfrom(65535)[0], peer)
        except OSError:
            pass
        finally:
            up.close()

    def asked(self, qname=None, qtype=None):
        """The questions so far, those for qname (and qtype) only if given."""
        with self.lock:
            return [q for q in self.queries if (qname is None or q[1] == qname) and
                    (qtype is None or q[2] == qtype)]

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class DaemonCase(unittest.TestCase):
    """Runs `mx daemon` on a spool of its own; the log is kept in a file.
    The limits, in seconds: for the daemon to answer after its start, for
    it to end after SIGTERM, for one `mx send --queue-only`."""
    counter = 0
    ready_seconds, grace_seconds, send_seconds = 30, 30, 60

    def setUp(self):
        self.spool = tempfile.mkdtemp(prefix="mx-daemon.")
        self.resolver = RESOLVER
        self.proc = None
        self.log = None
        self.cleanups = []

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fn in reversed(self.cleanups):
            fn()
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.spool, ignore_errors=True)

    def common(self, spool=None):
        return ["--resolver", self.resolver, "--trust-anchor", ANCHOR,
                "--spool", spool or self.spool]

    def tag(self):
        DaemonCase.counter += 1
        return "%s-%d-%d" % (self.id().split(".")[-1], os.getpid(), DaemonCase.counter)

    def queue_msg(self, rcpt, tag, spool=None, check=True):
        body = ("From: %s\nSubject: %s\n\nHello.\n" % (SENDER, tag)).encode()
        p = subprocess.run([MX, "send"] + self.common(spool) + ["--queue-only", "-f", SENDER,
                           rcpt], input=body, capture_output=True,
                           timeout=self.send_seconds)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def queue_many(self, rcpt, n, workers=4):
        """n messages queued by n runs of mx send, a few at a time; their tags."""
        tags = [self.tag() for _ in range(n)]
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for p in pool.map(lambda t: self.queue_msg(rcpt, t, check=False), tags):
                self.assertEqual(p.returncode, 0, p.stderr)
        return tags

    def start(self, *args, spool=None, wrapper=()):
        """The daemon (under wrapper, a command it is run by, if given)."""
        if self.log is None:
            self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(list(wrapper) + [MX, "daemon"] + self.common(spool) +
                                     ["--log", "stderr", "--hostname", "client.test"] +
                                     list(args), stdout=self.log, stderr=self.log)
        # Ready when it answers (a killed daemon's socket file may be there).
        self.assertTrue(self.wait_for(lambda: self.answers(spool), self.ready_seconds),
                        self.log_text())

    def answers(self, spool=None):
        return subprocess.run([MX, "daemon", "status", "--spool", spool or self.spool],
                              capture_output=True, timeout=10).returncode == 0

    def log_text(self):
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def status(self, spool=None):
        p = subprocess.run([MX, "daemon", "status", "--spool", spool or self.spool],
                           capture_output=True, timeout=10)
        return p.stdout.decode() + p.stderr.decode()

    def wait_for(self, cond, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.02)
        return cond()

    def stop(self, grace=None):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=grace or self.grace_seconds)
        self.proc = None
        if rc != 0:  # the sanitizers' report, if that is what ended it
            print(self.log_text()[-8000:])
        return rc

    def server(self, addr, mode="accept", delay=0.0, batch=0):
        s = Smtp(addr, mode, delay, batch)
        self.cleanups.append(s.stop)
        return s

    def lines(self, needle):
        return [l for l in self.log_text().splitlines() if needle in l]

    def queue_files(self, spool=None):
        return os.listdir(os.path.join(spool or self.spool, "queue"))
